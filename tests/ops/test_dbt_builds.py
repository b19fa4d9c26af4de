"""When the incremental staging models build in full (pipelines/dbt_builds.py): asked for, never
built, a changed model / macro / deployment var, or raw rows deleted by retention since the last
build; otherwise from new deliveries only."""

from datetime import date

import duckdb
import pytest

from assets.privacy.retention import apply_retention
from pipelines.dbt_builds import BuildPlan, plan_build, record_build, staging_fingerprint

STEP = "dbt_staging"


def manifest(model_sql: str = "select 1", macro_sql: str = "{% macro m() %}1{% endmacro %}") -> dict:
    return {
        "metadata": {"project_name": "o2o_cdp"},
        "nodes": {
            "model.o2o_cdp.stg_events": {
                "resource_type": "model",
                "config": {"materialized": "incremental"},
                "checksum": {"checksum": str(hash(model_sql))},
            },
            "model.o2o_cdp.dim_users": {
                "resource_type": "model",
                "config": {"materialized": "table"},
                "checksum": {"checksum": "unrelated"},
            },
        },
        "macros": {
            "macro.o2o_cdp.m": {"package_name": "o2o_cdp", "macro_sql": macro_sql},
            "macro.dbt.x": {"package_name": "dbt", "macro_sql": "dbt's own"},
        },
    }


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def test_the_fingerprint_follows_incremental_models_project_macros_and_vars() -> None:
    base = staging_fingerprint(manifest(), "{}")
    assert staging_fingerprint(manifest(), "{}") == base
    assert staging_fingerprint(manifest(model_sql="select 2"), "{}") != base
    assert staging_fingerprint(manifest(macro_sql="{% macro m() %}2{% endmacro %}"), "{}") != base
    assert staging_fingerprint(manifest(), '{"consent_purposes": []}') != base
    table_changed = manifest()
    table_changed["nodes"]["model.o2o_cdp.dim_users"]["checksum"]["checksum"] = "changed"
    assert staging_fingerprint(table_changed, "{}") == base  # a table model is rebuilt anyway


def test_first_build_is_full_then_incremental_until_the_fingerprint_changes(con) -> None:
    assert plan_build(con, STEP, "a", asked_full=False) == BuildPlan(True, "no earlier build on record")
    record_build(con, STEP, "a", BuildPlan(True, "no earlier build on record"))
    assert plan_build(con, STEP, "a", asked_full=False) == BuildPlan(False, "")
    assert plan_build(con, STEP, "a", asked_full=True) == BuildPlan(True, "a full build was asked for")
    assert plan_build(con, STEP, "b", asked_full=False).reason == (
        "a model, a macro or the deployment's dbt vars changed"
    )
    assert plan_build(con, "another_step", "a", asked_full=False).full


def test_the_newest_recorded_build_decides(con) -> None:
    record_build(con, STEP, "a", BuildPlan(True, "no earlier build on record"))
    con.execute("UPDATE raw._dbt_builds SET built_at = built_at - INTERVAL 1 DAY")
    record_build(con, STEP, "b", BuildPlan(True, "changed"))
    assert plan_build(con, STEP, "b", asked_full=False) == BuildPlan(False, "")
    assert plan_build(con, STEP, "a", asked_full=False).full


def test_retention_deleting_raw_rows_after_the_build_makes_the_next_build_full(con) -> None:
    con.execute("CREATE SCHEMA raw")
    con.execute("CREATE TABLE raw.pos (_partition DATE)")
    con.execute("INSERT INTO raw.pos VALUES (DATE '2026-01-01'), (DATE '2026-06-01')")
    record_build(con, STEP, "a", BuildPlan(True, "no earlier build on record"))
    apply_retention(con, {"pos": 365}, today=date(2026, 1, 2))  # deletes nothing: audited, no rows
    assert plan_build(con, STEP, "a", asked_full=False) == BuildPlan(False, "")
    apply_retention(con, {"pos": 30}, today=date(2026, 6, 2))
    assert plan_build(con, STEP, "a", asked_full=False) == BuildPlan(
        True, "retention deleted raw rows since the last build"
    )
    record_build(con, STEP, "a", BuildPlan(True, "retention deleted raw rows since the last build"))
    assert plan_build(con, STEP, "a", asked_full=False) == BuildPlan(False, "")
