"""Operating the pipeline through ``cdp``: a run with per-step progress, metadata on every
materialisation (row counts, previews of masked marts only, identity and KPI figures), the report
linked from the run, ``cdp status``, and ``cdp run --stage``. The run is the session's one
``cdp run`` of the hand-built landing zone (tests/e2e/shared_runs.py); stage runs go to this
module's copy of it."""

import re

import dagster as dg
import pytest
from typer.testing import CliRunner

from assets.ingest.assets import COUNTED_DOWNSTREAM
from pipelines import cli

pytestmark = pytest.mark.slow(seconds=45)
MOBILE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")  # not inside hex ids (hashes, run ids)
runner = CliRunner()


@pytest.fixture(scope="module")
def ran(small_run):
    return small_run.paths, small_run


def latest(key: str) -> dict:
    event = dg.DagsterInstance.get().get_latest_materialization_event(dg.AssetKey.from_user_string(key))
    assert event is not None, key
    return event.asset_materialization.metadata


def test_run_reports_every_step_as_it_finishes(ran):
    _, result = ran
    assert result.exit_code == 0, result.output[-3000:]
    finished = re.findall(r"^\s+ok\s+(\S+)\s+\(", result.output, flags=re.M)
    assert {"dbt_staging", "identity_resolution", "dbt_marts", "exports__report"} <= set(finished)
    assert re.search(r"ok\s+dbt_marts\s+\([\d.]+ s, \d+ assets and checks\)", result.output)


def test_every_materialisation_but_a_view_too_dear_to_count_has_a_row_count(ran):
    instance = dg.DagsterInstance.get()
    keys = [
        k
        for k in instance.get_asset_keys()
        if k.path[0] in ("raw", "staging", "intermediate", "identity", "marts")
    ]
    assert len(keys) > 30
    missing = [
        k.to_user_string()
        for k in keys
        if "dagster/row_count"
        not in instance.get_latest_materialization_event(k).asset_materialization.metadata
    ]
    assert missing == [f"raw/{view}" for view in sorted(COUNTED_DOWNSTREAM)]


def test_previews_only_of_masked_marts_and_without_personal_data(ran):
    instance = dg.DagsterInstance.get()
    previews = {}
    for key in instance.get_asset_keys():
        metadata = instance.get_latest_materialization_event(key).asset_materialization.metadata
        if "preview" in metadata:
            previews[key.to_user_string()] = metadata["preview"].value
    assert {"marts/dim_users", "marts/kpi_daily", "marts/identity_map"} <= set(previews)
    assert all(k.startswith("marts/") for k in previews)
    assert [k for k, text in previews.items() if MOBILE.search(text)] == []
    assert "unified_id" in previews["marts/dim_users"] and "mobile_masked" in previews["marts/dim_users"]


def test_identity_and_kpi_figures(ran):
    identity = latest("identity/resolved_records")
    assert identity["records"].value > 0 and "records per id" in identity["cluster_sizes"].value
    kpis = latest("marts/kpi_daily")
    assert (
        kpis["gmv"].value > 0
        and kpis["orders"].value > 0
        and kpis["first_day"].value <= kpis["last_day"].value
    )


def test_report_is_written_and_linked(ran):
    paths, run = ran
    metadata = latest("exports/report")
    written = run.built_in / "reports" / "report.html"  # the run's data folder, which this module copied
    assert metadata["report"].value == str(written) and metadata["open"].value == written.as_uri()
    text = (paths.root / "reports" / "report.html").read_text(encoding="utf-8")
    assert text.count("<svg") >= 5 and 'id="identity"' in text


def test_status_after_the_run(ran):
    _, _ = ran
    result = runner.invoke(cli.app, ["status"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "SUCCESS" in result.output and re.search(r"kpi_daily\s+│\s+\d", result.output)
    assert "Failed checks" in result.output and "none" in result.output


def test_run_one_stage(ran):
    result = runner.invoke(cli.app, ["run", "--stage", "exports"], terminal_width=200)
    assert result.exit_code == 0, result.output[-3000:]
    finished = set(re.findall(r"^\s+ok\s+(\S+)\s+\(", result.output, flags=re.M))
    assert finished == {
        "exports__parquet",
        "exports__analyst_db",
        "exports__audiences",
        "exports__activation",
        "exports__report",
    }


def test_identity_runs_link_only_what_changed_unless_a_full_rebuild_is_asked_for(ran):
    assert latest("identity/resolved_records")["mode"].value == "full"  # the first run: no graph yet
    result = runner.invoke(cli.app, ["run", "--stage", "identity"], terminal_width=200)
    assert result.exit_code == 0, result.output[-3000:]
    incremental = latest("identity/resolved_records")
    assert (incremental["mode"].value, incremental["changed_nodes"].value) == ("incremental", 0)
    assert incremental["records"].value == latest("marts/identity_map")["dagster/row_count"].value
    result = runner.invoke(cli.app, ["run", "--stage", "identity", "--full-identity"], terminal_width=200)
    assert result.exit_code == 0, result.output[-3000:]
    rebuilt = latest("identity/resolved_records")
    assert (rebuilt["mode"].value, rebuilt["full_rebuild_reason"].value) == ("full", "requested")
    assert (rebuilt["clusters"].value, rebuilt["records"].value) == (
        incremental["clusters"].value,
        incremental["records"].value,
    )


def test_a_full_identity_rebuild_needs_the_identity_stage(ran):
    result = runner.invoke(cli.app, ["run", "--stage", "kpis", "--full-identity"], terminal_width=200)
    assert result.exit_code == 2 and "--stage identity" in result.output


def test_a_full_rebuild_covers_every_stage(ran):
    for narrowed in (["--stage", "kpis"], ["--select", "raw/pos_transactions"]):
        result = runner.invoke(cli.app, ["run", "--full", *narrowed], terminal_width=200)
        assert result.exit_code == 2 and "leave out --stage and --select" in result.output
