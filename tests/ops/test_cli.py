"""The ``cdp`` command line: helpful errors, stage selection, report, status, docs, ui."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assets.common.paths import CONFIG_DIR
from pipelines import cli

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(cli.app, list(args), terminal_width=400)


def test_run_without_landing_folder_names_it_and_the_fix(data_dir):
    result = invoke("run")
    assert result.exit_code == 2
    assert (
        f"landing folder {data_dir.landing} does not exist" in result.output
        and "cdp generate" in result.output
    )
    (data_dir.landing / "ecommerce_orders" / "not-a-day").mkdir(parents=True)
    result = invoke("run")
    assert result.exit_code == 2 and "has no daily folders" in result.output


def test_run_on_the_spark_engine_without_java_stops_before_writing_and_says_why(data_dir, monkeypatch):
    (data_dir.landing / "ecommerce_orders" / "2026-05-01").mkdir(parents=True)
    monkeypatch.setenv("CDP_ENGINE", "spark")
    monkeypatch.setenv("PATH", str(data_dir.root))  # no java there
    result = invoke("run")
    assert result.exit_code == 2
    assert "Java 17" in result.output and "engine: duckdb" in result.output
    assert not data_dir.warehouse.exists()


def test_parity_refuses_a_deployment_on_spark_whose_warehouse_it_would_replace(data_dir, monkeypatch):
    monkeypatch.setenv("CDP_ENGINE", "spark")
    result = invoke("parity")
    assert result.exit_code != 0 and "runs on Spark already" in result.output
    assert not (data_dir.root / "spark").exists()


def test_run_rejects_an_unknown_stage_and_lists_the_stages(data_dir):
    (data_dir.landing / "ecommerce_orders" / "2026-05-01").mkdir(parents=True)
    result = invoke("run", "--stage", "kpis", "--stage", "marketing")
    assert result.exit_code == 2
    assert "marketing" in result.output and "ingest, identity, profiles, kpis, exports" in result.output


def test_run_rejects_a_bad_date(data_dir):
    result = invoke("run", "--from", "2026-13-01")
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output


def test_stage_selection_is_the_asset_group(data_dir):
    from pipelines.runner import stage_selection

    keys = {k.to_user_string() for k in stage_selection(["kpis"])}
    assert {"marts/kpi_daily", "marts/kpi_attribution"} <= keys
    assert "marts/user_rfm" not in keys and "exports/report" not in keys
    with pytest.raises(ValueError, match="choose from"):
        stage_selection(["nope"])


def test_bad_config_names_the_file_the_line_and_the_fix(tmp_path):
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config)
    feeds = config / "feeds.yaml"
    lines = feeds.read_text(encoding="utf-8").splitlines(keepends=True)
    line = next(i for i, text in enumerate(lines, 1) if "format: csv" in text)
    lines[line - 1] = lines[line - 1].replace("format: csv", "format: xml", 1)
    feeds.write_text("".join(lines), encoding="utf-8")
    env = {
        **os.environ,
        "CDP_CONFIG_DIR": str(config),
        "CDP_DATA_DIR": str(tmp_path / "data"),
        "DAGSTER_HOME": str(tmp_path / "home"),
        "COLUMNS": "300",
    }
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cdp")), "run"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"{feeds}:{line}:" in result.stdout
    assert (
        "format: must be one of ['csv', 'fixed_width', 'json', 'jsonl', 'parquet', 'tsv', 'xls', 'xlsx'], "
        "got 'xml'" in result.stdout
    )
    assert "Traceback" not in result.stdout + result.stderr


def test_report_without_marts_says_to_run_first(data_dir):
    result = invoke("report")
    assert result.exit_code == 2 and "cdp run" in result.output


def test_status_of_a_fresh_deployment(data_dir):
    result = invoke("status")
    assert result.exit_code == 0, result.output
    assert "no runs yet" in result.output and "ecommerce_orders" in result.output


def test_committed_data_dictionary_is_up_to_date():
    result = invoke("docs", "--check")
    assert result.exit_code == 0, result.output


def test_data_dictionary_check_fails_when_stale(tmp_path):
    stale = tmp_path / "dd.md"
    stale.write_text("# Data dictionary\n", encoding="utf-8")
    assert invoke("docs", "--check", "--out", str(stale)).exit_code == 1
    assert invoke("docs", "--out", str(stale)).exit_code == 0
    text = stale.read_text(encoding="utf-8")
    assert "## kpi_daily" in text and "## user_clv" in text and "| `unified_id` |" in text
    assert invoke("docs", "--check", "--out", str(stale)).exit_code == 0


def test_ui_says_where_it_listens(data_dir, monkeypatch):
    calls = []
    monkeypatch.setattr(cli.subprocess, "call", lambda args, cwd: calls.append(args) or 0)
    result = invoke("ui", "--port", "3123")
    assert result.exit_code == 0
    assert "http://127.0.0.1:3123" in result.output
    assert calls and calls[0][calls[0].index("-p") + 1] == "3123" and Path(calls[0][0]).name == "dagster"
