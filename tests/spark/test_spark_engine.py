"""The Spark engine gives DuckDB's answers: every dbt model built on Spark from a finished DuckDB
run's inputs holds the same rows, and the silent traps between the two engines (string literals
un-escaped, regexp_replace's flag, date differences counted another way, null values in max_by)
are guarded where they would change an answer without an error.

Needs Java 17 and pyspark (``pip install -e ".[spark]"``; ``.ci/run`` installs both). One
``local[2]`` session serves the module."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from assets.common.pipeline_config import Spark
from assets.common.spark import spark_session
from assets.common.warehouse import Warehouse
from assets.kpis.attribution_spark import ATTRIBUTION_MARTS
from assets.profiles.clv_spark import CLV_MARTS
from pipelines.dbt import DBT_PROJECT, prepare_manifest
from pipelines.spark_parity import IDENTITY_TABLES, ParityReport, check_parity
from tests.e2e.shared_runs import SharedRun
from tests.spark import NEEDS_SPARK

pytestmark = [pytest.mark.slow(seconds=150), *NEEDS_SPARK]

TRAPS = """
select
    {{ normalize_identifier("'person_name'", "'  Zhang   San '") }} as person_name,
    {{ normalize_identifier("'email'", "'Li.Na@Example.CN'") }} as email,
    {{ normalize_identifier("'email'", "'li@examplexcn'") }} as email_without_a_dot,
    {{ normalize_identifier("'mobile'", "'+86 138-0013-8000'") }} as mobile,
    {{ normalize_identifier("'member_id'", "'vip-0042 a'") }} as member_id,
    {{ normalize_identifier("'device_id'", "'00-00-00-00'") }} as all_zero_device,
    {{ units_between('month', "date '2026-01-31'", "date '2026-02-01'") }} as months_across_a_boundary,
    {{ units_between('year', "date '2025-12-31'", "date '2026-01-01'") }} as years_across_a_boundary,
    {{ units_between('week', "date '2026-03-01'", "date '2026-03-14'") }} as weeks_in_thirteen_days,
    {{ units_between('day', "date '2026-02-27'", "date '2026-03-01'") }} as days,
    cast({{ plus_units('month', "date '2026-01-31'", '1') }} as date) as a_month_after,
    {{ sha256_hex("'abc'") }} as digest
"""

EXPECTED = {
    "person_name": "zhang san",
    "email": "li.na@example.cn",
    "email_without_a_dot": None,
    "mobile": "13800138000",
    "member_id": "VIP0042A",
    "all_zero_device": None,
    "months_across_a_boundary": 1,
    "years_across_a_boundary": 1,
    "weeks_in_thirteen_days": 1,
    "days": 2,
    "a_month_after": date(2026, 2, 28),
    "digest": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
}


@pytest.fixture(scope="module")
def spark(small_run: SharedRun) -> Iterator[Any]:
    session = spark_session(Spark(), small_run.paths.root)
    yield session
    session.stop()


@pytest.fixture(scope="module")
def parity(small_run: SharedRun, spark: Any) -> ParityReport:
    return check_parity(Warehouse(data_dir=str(small_run.paths.root)))


def test_every_model_built_on_spark_holds_duckdbs_rows(parity: ParityReport) -> None:
    manifest = json.loads(prepare_manifest().read_text())
    built = {
        f"{node['schema']}.{node['alias']}"
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed") and node["config"]["materialized"] != "ephemeral"
    }
    assert parity.dbt_errors == []
    # fitted and credited on the driver from what Spark reduced the facts to
    python_marts = {f"marts.{name}" for name in CLV_MARTS + ATTRIBUTION_MARTS}
    identity = {f"{schema}.{name}" for schema, name in IDENTITY_TABLES}  # resolved on Spark
    assert {model.relation for model in parity.models} == built | python_marts | identity
    # the feeds' raw rows by day, under canonical views Spark writes itself
    assert {"raw.pos_transactions", "raw.ecommerce_orders"} <= set(parity.published)
    assert not {"raw.events", "raw.identity_attributes"} & set(parity.published)
    assert not identity & set(parity.published)  # built from Spark's staging, not copied
    different = {model.relation: model.differences for model in parity.models if model.differences}
    assert different == {}
    rows = {model.relation: model.spark_rows for model in parity.models}
    assert rows["marts.identity_map"] > 0 and rows["marts.fct_orders"] > 0 and rows["marts.user_tags"] > 0
    assert rows["marts.user_clv"] > 0 and rows["intermediate.int_clv_purchase_days"] > 0
    assert rows["marts.kpi_attribution"] > 0 and rows["marts.attribution_paths"] > 0
    assert parity.agrees
    timed = {node for node in parity.node_seconds if node.startswith(("model.", "seed."))}
    assert len(timed) == len(built)  # where Spark spends, per model, for the benchmark


def test_identity_on_spark_writes_the_duckdb_engines_tables_from_sparks_staging(parity: ParityReport) -> None:
    """Resolved on Spark from the staging dbt built on Spark, from the hand-built run's partner
    files: the same people, ids, methods, links, refused values, candidates, pins' history and node
    numbers as the DuckDB run's identity tables."""
    compared = {m.relation: m for m in parity.models if m.relation.startswith("identity.")}
    assert {name: m.differences for name, m in compared.items() if m.differences} == {}
    for table in ("resolved_records", "links", "guarded_values", "nodes"):
        assert compared[f"identity.{table}"].spark_rows == compared[f"identity.{table}"].duckdb_rows > 0
    assert parity.seconds["identity_on_spark"] > 0


def test_a_seed_value_with_an_apostrophe_loads_on_spark(parity: ParityReport, spark: Any) -> None:
    """dbt-spark's own seed loader breaks on xi'an (macros/engine_seeds.sql)."""
    keys = {row.city_key for row in spark.table("reference.cities").collect()}
    assert "xi'an" in keys


def compiled(sql: str, target: str, folder: Path) -> str:
    from dbt.cli.main import dbtRunner

    args = ["compile", "--target", target, "--inline", sql, "--quiet"]
    paths = ["--project-dir", str(DBT_PROJECT.project_dir), "--profiles-dir", str(DBT_PROJECT.profiles_dir)]
    result = dbtRunner().invoke([*args, *paths, "--target-path", str(folder / target)])
    assert result.success, result.exception
    return str(result.result.results[0].node.compiled_code)


def spark_row(spark: Any, sql: str) -> dict[str, Any]:
    return spark.sql(sql).collect()[0].asDict()


def test_the_traps_between_the_engines_are_guarded(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDP_WAREHOUSE_PATH", str(tmp_path / "scratch.duckdb"))
    on_duckdb = duckdb.sql(compiled(TRAPS, "warehouse", tmp_path)).pl().to_dicts()[0]
    spark_sql = compiled(TRAPS, "spark", tmp_path)
    on_spark = spark_row(spark, spark_sql)
    assert {k: on_duckdb[k] for k in EXPECTED} == EXPECTED
    assert {k: on_spark[k] for k in EXPECTED} == EXPECTED
    # Without the session's escapedStringLiterals, Spark reads '\s+' as 's+' and '\.' as any
    # character: the same SQL then gives other answers, and no error.
    spark.conf.set("spark.sql.parser.escapedStringLiterals", "false")
    try:
        unguarded = spark_row(spark, spark_sql)
    finally:
        spark.conf.set("spark.sql.parser.escapedStringLiterals", "true")
    assert unguarded["person_name"] != "zhang san"
    assert unguarded["email_without_a_dot"] is not None


def test_max_by_answers_with_the_extreme_non_null_value_as_duckdb_does(spark: Any, tmp_path: Path) -> None:
    """DuckDB's arg_min skips a null value; Spark's min_by would answer null (macros/ties.sql)."""
    sql = (
        "select {{ min_by_stable('campaign', 'at') }} as first_campaign "
        "from (select cast(null as string) as campaign, 1 as at union all select 'C1', 2)"
    )
    on_spark = spark_row(spark, compiled(sql, "spark", tmp_path))
    assert on_spark["first_campaign"] == "C1"
    assert (
        spark_row(
            spark,
            "select min_by(campaign, at) as first_campaign from "
            "(select cast(null as string) as campaign, 1 as at union all select 'C1', 2)",
        )["first_campaign"]
        is None
    )


def test_spark_publishes_every_mart_as_duckdb_does(parity: ParityReport, small_run: SharedRun) -> None:
    """Spark's exports (the facts by day) and the analysts' file built from them hold DuckDB's rows."""
    spark_built = {
        m.relation.removeprefix("marts.") for m in parity.models if m.relation.startswith("marts.")
    }
    compared = {m.relation for m in parity.exports}
    assert compared == {f"exports/{n}" for n in spark_built} | {f"marts.duckdb: {n}" for n in spark_built}
    assert {m.relation: m.differences for m in parity.exports if m.differences} == {}
    exports = small_run.paths.root / "spark" / "exports"
    assert (exports / "fct_events" / ".partitions.json").exists()
    assert not list(exports.rglob("*.crc")) and not list(exports.rglob("_SUCCESS"))


def _facts_on_spark(spark: Any, rows: str) -> None:
    """``publish_test.fct_events`` (event_id, event_date, kind) holding ``rows`` (SQL VALUES)."""
    spark.sql("CREATE DATABASE IF NOT EXISTS publish_test")
    spark.sql("DROP TABLE IF EXISTS publish_test.fct_events")
    spark.sql(
        "CREATE TABLE publish_test.fct_events USING parquet AS "
        f"SELECT * FROM VALUES {rows} AS t(event_id, event_date, kind)"
    )


def test_a_spark_export_rewrites_only_changed_days_and_keeps_column_order(spark: Any, tmp_path: Path) -> None:
    from assets.exports.spark_publish import export_spark_marts, publish_analyst_db_from_exports

    exports, day = tmp_path / "exports", "(%d, date '2026-05-%02d', '%s')"
    _facts_on_spark(spark, ", ".join([day % (1, 1, "a"), day % (2, 1, "b"), day % (3, 2, "c")]))
    first = export_spark_marts(spark, exports, ["fct_events"], schema="publish_test")[0]
    assert (first.rows, first.days, first.days_rewritten) == (3, 2, 2)
    kept = exports / "fct_events" / "event_date=2026-05-01"
    kept_files = sorted(p.name for p in kept.iterdir())
    _facts_on_spark(spark, ", ".join([day % (1, 1, "a"), day % (2, 1, "b"), day % (4, 3, "d")]))
    second = export_spark_marts(spark, exports, ["fct_events"], schema="publish_test")[0]
    assert (second.rows, second.days, second.days_rewritten) == (3, 2, 1)
    assert sorted(p.name for p in kept.iterdir()) == kept_files  # the unchanged day is not written again
    assert not (exports / "fct_events" / "event_date=2026-05-02").exists()
    target, columns = tmp_path / "marts.duckdb", {"fct_events": ["event_id", "event_date", "kind"]}
    assert publish_analyst_db_from_exports(target, exports, columns)
    with duckdb.connect(str(target), read_only=True) as con:
        read = con.sql("SELECT * FROM fct_events ORDER BY event_id")
        assert read.columns == ["event_id", "event_date", "kind"]  # the day column is not moved last
        assert [row[0] for row in read.fetchall()] == [1, 2, 4]
    assert not publish_analyst_db_from_exports(target, exports, columns)  # nothing changed: kept


def test_an_empty_spark_mart_is_exported_as_one_file_with_its_columns(spark: Any, tmp_path: Path) -> None:
    from assets.exports.spark_publish import export_spark_marts

    spark.sql("CREATE DATABASE IF NOT EXISTS publish_test")
    spark.sql("DROP TABLE IF EXISTS publish_test.fct_orders")
    spark.sql("CREATE TABLE publish_test.fct_orders (order_id string, order_date date) USING parquet")
    exported = export_spark_marts(spark, tmp_path, ["fct_orders"], schema="publish_test")[0]
    assert exported.rows == 0 and exported.path == tmp_path / "fct_orders" / "fct_orders.parquet"
    assert duckdb.sql(f"SELECT * FROM read_parquet('{exported.path}')").columns == ["order_id", "order_date"]


def test_a_warehouse_of_many_identity_runs_is_compared_on_duckdbs_identity(
    small_run: SharedRun, spark: Any, parity: ParityReport
) -> None:
    """After daily runs, DuckDB's ids were kept across runs and its graph grew by increments, which
    a first run on Spark cannot reproduce: the check copies DuckDB's identity tables, says so, and
    still holds every mart to DuckDB's (runs last: it adds a run to the module's warehouse)."""
    with duckdb.connect(str(small_run.paths.warehouse)) as con:
        con.execute(
            "INSERT INTO identity.state BY NAME SELECT run_id || '-next' AS run_id, 'incremental' AS mode, "
            "resolved_at + INTERVAL 1 DAY AS resolved_at, last_full_at, fingerprint, model, nodes, "
            "0 AS changed_nodes, 0 AS rewritten_nodes, seconds, watermark, users FROM identity.state"
        )
    again = check_parity(Warehouse(data_dir=str(small_run.paths.root)))
    assert again.agrees and again.models and again.dbt_errors == []
    assert not any(m.relation.startswith("identity.") for m in again.models)
    assert "identity.resolved_records" in again.published and "2 identity runs" in again.notes[0]
    assert "identity_on_spark" not in again.seconds
