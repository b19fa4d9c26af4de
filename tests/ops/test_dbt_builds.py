"""When a dbt step's incremental models build in full (pipelines/dbt_builds.py): asked for, never
built, a changed model / macro / deployment var, raw rows deleted by retention since the last build,
and for the marts step staging or identity rebuilt in full since; otherwise from what changed only,
after the watermarks the last build recorded."""

from datetime import date, datetime

import duckdb
import pytest

from assets.privacy.retention import apply_retention
from pipelines.dbt_builds import MARTS_STEP, BuildPlan, plan_build, record_build, step_fingerprint, watermarks

STEP = "dbt_staging"


def manifest(
    model_sql: str = "select 1",
    macro_sql: str = "{% macro m() %}1{% endmacro %}",
    fact_sql: str = "select 2",
    snapshot_sql: str = "select 3",
) -> dict:
    return {
        "metadata": {"project_name": "o2o_cdp"},
        "nodes": {
            "model.o2o_cdp.stg_events": {
                "resource_type": "model",
                "fqn": ["o2o_cdp", "staging", "stg_events"],
                "config": {"materialized": "incremental"},
                "checksum": {"checksum": str(hash(model_sql))},
            },
            "model.o2o_cdp.fct_events": {
                "resource_type": "model",
                "fqn": ["o2o_cdp", "marts", "core", "fct_events"],
                "config": {"materialized": "incremental"},
                "checksum": {"checksum": fact_sql},
            },
            "model.o2o_cdp.dim_users_snapshot": {
                "resource_type": "model",
                "fqn": ["o2o_cdp", "marts", "profiles", "dim_users_snapshot"],
                "config": {"materialized": "incremental", "full_refresh": False},
                "checksum": {"checksum": snapshot_sql},
            },
            "model.o2o_cdp.dim_users": {
                "resource_type": "model",
                "fqn": ["o2o_cdp", "marts", "profiles", "dim_users"],
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
    base = step_fingerprint(manifest(), "{}", staging=True)
    assert step_fingerprint(manifest(), "{}", staging=True) == base
    assert step_fingerprint(manifest(model_sql="select 2"), "{}", staging=True) != base
    assert step_fingerprint(manifest(macro_sql="{% macro m() %}2{% endmacro %}"), "{}", staging=True) != base
    assert step_fingerprint(manifest(), '{"consent_purposes": []}', staging=True) != base
    table_changed = manifest()
    table_changed["nodes"]["model.o2o_cdp.dim_users"]["checksum"]["checksum"] = "changed"
    assert step_fingerprint(table_changed, "{}", staging=True) == base  # a table model is rebuilt anyway


def test_each_step_fingerprints_its_own_incremental_models_but_not_a_snapshot() -> None:
    staging, marts = (step_fingerprint(manifest(), "{}", staging=flag) for flag in (True, False))
    assert step_fingerprint(manifest(fact_sql="select 20"), "{}", staging=True) == staging
    assert step_fingerprint(manifest(fact_sql="select 20"), "{}", staging=False) != marts
    assert step_fingerprint(manifest(model_sql="select 20"), "{}", staging=False) == marts
    # a snapshot refuses --full-refresh (its history exists nowhere else): its change forces nothing
    assert step_fingerprint(manifest(snapshot_sql="select 30"), "{}", staging=False) == marts


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


def test_the_marts_step_builds_in_full_after_a_full_staging_build_or_a_full_identity_run(con) -> None:
    record_build(con, "dbt_staging", "s", BuildPlan(True, "no earlier build on record"))
    record_build(con, MARTS_STEP, "m", BuildPlan(True, "no earlier build on record"))
    record_build(con, "dbt_staging", "s", BuildPlan(False, ""))
    assert plan_build(con, MARTS_STEP, "m", asked_full=False) == BuildPlan(False, "")
    con.execute("CREATE SCHEMA identity")
    con.execute("CREATE TABLE identity.state (mode VARCHAR, resolved_at TIMESTAMP)")
    con.execute("INSERT INTO identity.state VALUES ('incremental', $now)", {"now": datetime.now()})
    assert plan_build(con, MARTS_STEP, "m", asked_full=False) == BuildPlan(False, "")
    con.execute("INSERT INTO identity.state VALUES ('full', $now)", {"now": datetime.now()})
    assert plan_build(con, MARTS_STEP, "m", asked_full=False) == BuildPlan(
        True, "identity was resolved in full since the last build"
    )
    record_build(con, MARTS_STEP, "m", BuildPlan(True, "identity was resolved in full since the last build"))
    assert plan_build(con, MARTS_STEP, "m", asked_full=False) == BuildPlan(False, "")
    record_build(
        con, "dbt_staging", "s2", BuildPlan(True, "a model, a macro or the deployment's dbt vars changed")
    )
    assert plan_build(con, MARTS_STEP, "m", asked_full=False) == BuildPlan(
        True, "staging was built in full since the last build"
    )
    assert plan_build(con, "dbt_staging", "s2", asked_full=False) == BuildPlan(False, "")


def test_watermarks_are_the_newest_arrivals_and_are_recorded_with_the_build(con) -> None:
    con.execute("CREATE SCHEMA staging")
    con.execute("CREATE TABLE staging.stg_events (_loaded_at TIMESTAMP)")
    con.execute("INSERT INTO staging.stg_events VALUES ('2026-06-01 10:00'), ('2026-06-02 09:00')")
    con.execute("CREATE TABLE staging.stg_orders (_loaded_at TIMESTAMP)")  # empty
    seen = watermarks(con)  # identity.resolved_records does not exist yet
    assert seen == {"stg_events": datetime(2026, 6, 2, 9), "stg_orders": None, "resolved_records": None}
    record_build(con, MARTS_STEP, "m", BuildPlan(True, "no earlier build on record"), seen)
    recorded = con.execute(
        "SELECT w.relation, w.through FROM raw._dbt_watermarks w "
        "JOIN raw._dbt_builds b USING (step, built_at) ORDER BY 1"
    ).fetchall()
    assert recorded == [
        ("resolved_records", None),
        ("stg_events", datetime(2026, 6, 2, 9)),
        ("stg_orders", None),
    ]
