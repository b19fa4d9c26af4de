"""A deployment on the Spark engine: ``CDP_ENGINE=spark cdp run`` runs every stage of the one
pipeline on the hand-built landing zone, and publishes what the DuckDB deployment's run of the same
landing zone and salt publishes (the session's shared run), table for table; nothing personal
leaves it in clear, and ``cdp forget`` removes a person from Spark's tables and day partitions.

Needs Java 17 and pyspark (``.ci/run`` installs both)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from assets.common.paths import DataPaths
from assets.exports.publish import exported_tables
from pipelines import cli
from pipelines.spark_parity import compare_published
from tests.e2e.shared_runs import SharedRun, use_deployment
from tests.landing_builder import order, write_csv
from tests.privacy.test_forget import LI_MOBILE, LI_RECORDS, all_leaks
from tests.spark import NEEDS_SPARK

pytestmark = [pytest.mark.slow(seconds=200), *NEEDS_SPARK]


def _active_session() -> Any:
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession()


@pytest.fixture(scope="module")
def spark_run(small_run: SharedRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The landing zone and the salt of the DuckDB deployment's run, in a deployment of its own on
    the Spark engine, run as an operator runs it; the CLI's result."""
    root = tmp_path_factory.mktemp("spark-deployment")
    with pytest.MonkeyPatch.context() as mp:
        paths = use_deployment(mp, root)
        shutil.copytree(small_run.paths.landing, paths.landing)
        shutil.copytree(small_run.paths.root / "secrets", paths.root / "secrets")
        mp.setenv("CDP_ENGINE", "spark")
        result = CliRunner().invoke(cli.app, ["run"], terminal_width=200)
        yield result
        session = _active_session()
        if session is not None:
            session.stop()


@pytest.fixture(scope="module")
def spark_paths(spark_run: Any) -> DataPaths:
    assert spark_run.exit_code == 0, spark_run.output[-4000:]
    return DataPaths.from_env()


def test_every_stage_runs_on_spark_and_publishes_what_duckdb_publishes(
    spark_paths: DataPaths, small_run: SharedRun
) -> None:
    duck = small_run.paths
    tables = sorted(exported_tables(spark_paths.exports))
    assert tables == sorted(exported_tables(duck.exports))
    assert {"identity_map", "fct_events", "user_clv", "kpi_attribution", "audience_members"} <= set(tables)
    compared = compare_published(
        (duck.exports, duck.analyst_db),
        (spark_paths.exports, spark_paths.analyst_db),
        tables,
        spark_paths.root,
        own_runs=True,
    )
    assert len(compared) == 2 * len(tables)
    assert {c.relation: c.differences for c in compared if c.differences} == {}
    assert all(c.spark_rows == c.duckdb_rows for c in compared)


def _files(folder: Path) -> dict[str, str]:
    """Every activation file's text, manifests without the run's id and time."""
    texts = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        text = path.read_text(encoding="utf-8")
        if path.name == "manifest.json":
            manifest = json.loads(text)
            text = json.dumps({k: v for k, v in manifest.items() if k not in ("run_id", "created_at")})
        texts[str(path.relative_to(folder))] = text
    return texts


def test_spark_activates_the_same_people_for_the_same_destinations(
    spark_paths: DataPaths, small_run: SharedRun
) -> None:
    ours, theirs = _files(small_run.paths.exports / "activation"), _files(spark_paths.exports / "activation")
    assert theirs and ours == theirs


def test_the_warehouse_is_sparks_and_the_duckdb_file_only_mounts_it(spark_paths: DataPaths) -> None:
    """The marts are Spark tables; the DuckDB file holds the control layer (raw rows, ledger,
    quality history) and views over Spark's files; the feeds' rows are day partitions."""
    spark = _active_session()
    assert spark.catalog.tableExists("marts.identity_map") and spark.catalog.tableExists("identity.links")
    with duckdb.connect(str(spark_paths.warehouse), read_only=True) as con:
        kinds = dict(
            con.execute(
                "SELECT table_type, count(*) FROM information_schema.tables "
                "WHERE table_schema IN ('staging', 'intermediate', 'identity', 'marts') GROUP BY 1"
            ).fetchall()
        )
        suites = con.execute("SELECT count(DISTINCT table_name) FROM quality.row_counts").fetchall()[0][0]
    assert set(kinds) == {"VIEW"} and kinds["VIEW"] > 40
    assert suites > 5  # the quality suites ran over the mounted marts
    days = list((spark_paths.root / "spark" / "raw" / "pos_transactions").glob("_partition=*"))
    assert days and all(any(day.glob("*.parquet")) for day in days)


def test_nothing_personal_leaves_a_spark_deployment_in_clear(spark_paths: DataPaths) -> None:
    assert all_leaks(spark_paths) == []


NEXT_DAY = "2026-05-02"


@pytest.fixture(scope="module")
def next_day(spark_paths: DataPaths) -> dict[str, Any]:
    """Wang orders again on Tmall the next day: the deployment's daily run on Spark. Returns the
    first run's identity map and the second run's CLI result."""
    spark = _active_session()
    before = {(r.source, r.record_id): r.unified_id for r in spark.table("marts.identity_map").collect()}
    write_csv(
        spark_paths.landing / "ecommerce_orders" / NEXT_DAY / f"tmall_orders_{NEXT_DAY}.csv",
        [order("TM2", "tmall", "tb_wang", "+86 138 0013 8000", "王芳", 59.0, time=f"{NEXT_DAY} 11:00:00")],
        encoding="gbk",
    )
    result = CliRunner().invoke(cli.app, ["run"], terminal_width=200)
    return {"before": before, "result": result}


def test_a_daily_run_on_spark_appends_the_new_delivery_and_keeps_every_id(
    next_day: dict[str, Any], spark_paths: DataPaths
) -> None:
    assert next_day["result"].exit_code == 0, next_day["result"].output[-4000:]
    spark = _active_session()
    with duckdb.connect(str(spark_paths.warehouse), read_only=True) as con:
        staged = con.execute(
            "SELECT full_build, reason FROM raw._dbt_builds WHERE step = 'dbt_staging' ORDER BY built_at"
        ).fetchall()
    assert [full for full, _ in staged] == [True, False]  # the second build appended the new day
    orders = [(r.source, r.order_id) for r in spark.table("staging.stg_orders").collect()]
    assert len(orders) == len(set(orders)) and ("ecommerce_orders", "TM2") in orders
    after = {(r.source, r.record_id): r.unified_id for r in spark.table("marts.identity_map").collect()}
    assert {key: after[key] for key in next_day["before"]} == next_day["before"]
    assert after[("ecommerce_orders", "TM2")] == after[("ecommerce_orders", "TM1")] is not None


def _li_on_spark(spark: Any, spark_paths: DataPaths) -> set[tuple[str, str]]:
    """Li's records still in Spark's identity map, in the feeds' day partitions and in the export."""
    found = {(r.source, r.record_id) for r in spark.table("marts.identity_map").collect()}
    found |= {(r.source, r.record_id) for r in spark.table("identity.resolved_records").collect()}
    with duckdb.connect() as con:
        exported = exported_tables(spark_paths.exports)["identity_map"]
        found |= set(con.execute(f"SELECT source, record_id FROM {exported}").fetchall())
        raw = spark_paths.root / "spark" / "raw"
        for feed, column in (("pos_transactions", "txn_id"), ("expo_registrations", "registration_id")):
            files = [str(f) for f in (raw / feed).rglob("*.parquet")]  # a day with no row left has none
            if files:
                rows = con.execute(f"SELECT {column} FROM read_parquet($files)", {"files": files}).fetchall()
                found |= {(feed, r) for (r,) in rows}
    return found & LI_RECORDS


def test_forget_removes_the_person_from_sparks_tables_partitions_and_exports(spark_paths: DataPaths) -> None:
    spark = _active_session()
    assert _li_on_spark(spark, spark_paths) == LI_RECORDS
    forgotten = CliRunner().invoke(cli.app, ["forget", "--mobile", LI_MOBILE], terminal_width=200)
    assert forgotten.exit_code == 0, forgotten.output
    assert "identity.resolved_records" in forgotten.output and "marts.identity_map" in forgotten.output
    assert _li_on_spark(spark, spark_paths) == set()
    with duckdb.connect(str(spark_paths.analyst_db), read_only=True) as con:
        left = con.execute("SELECT source, record_id FROM identity_map").fetchall()
    assert left and not set(left) & LI_RECORDS
