"""dbt in the run's process (pipelines/dbt_runner.py), on a two-model project of its own: a failing
model does not hide the result of the one that built, dbt's error reaches the step's failure, and
the warehouse is free for another process as soon as dbt returns."""

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from dagster_dbt import DbtProject

from pipelines.dbt_runner import failure, invoke_dbt

PROJECT = """
name: tiny
version: "1.0"
profile: tiny
models:
  tiny:
    +materialized: table
"""
PROFILE = """
tiny:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "{path}"
      threads: 1
"""


@pytest.fixture
def tiny_project(tmp_path: Path) -> tuple[DbtProject, Path]:
    warehouse = tmp_path / "tiny.duckdb"
    (tmp_path / "dbt_project.yml").write_text(PROJECT, encoding="utf-8")
    (tmp_path / "profiles.yml").write_text(PROFILE.format(path=warehouse), encoding="utf-8")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "built.sql").write_text("select 1 as x", encoding="utf-8")
    (tmp_path / "models" / "broken.sql").write_text("select * from no_such_table", encoding="utf-8")
    return DbtProject(project_dir=tmp_path, profiles_dir=tmp_path), warehouse


def results(outcome) -> dict[str, str]:
    return {r["data"]["node_info"]["node_name"]: r["data"]["status"] for r in outcome.results}


def test_a_failing_model_fails_the_invocation_and_the_other_still_reports(tiny_project, tmp_path):
    project, _ = tiny_project
    outcome = invoke_dbt(["build"], project, tmp_path / "target")
    assert not outcome.success
    assert results(outcome) == {"built": "OK", "broken": "error"}
    assert "no_such_table" in failure(outcome).description
    assert (tmp_path / "target" / "dbt.log").exists()  # the deployment's target holds its log


def test_the_warehouse_is_free_for_another_process_once_dbt_returns(tiny_project, tmp_path):
    project, warehouse = tiny_project
    (tmp_path / "models" / "broken.sql").unlink()
    outcome = invoke_dbt(["build"], project, tmp_path / "target")
    assert outcome.success and outcome.errors == []
    writer = f"import duckdb; duckdb.connect({str(warehouse)!r}).execute('create table t as select 1')"
    done = subprocess.run([sys.executable, "-c", writer], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select x from main.built").fetchall() == [(1,)]
