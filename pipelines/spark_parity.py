"""``cdp parity``: this deployment's dbt project built on Spark from the DuckDB warehouse's inputs,
every model held to the table DuckDB built.

It answers the question a brand asks before moving to Spark: will our deployment (its feeds, its
identity rules, its tag and funnel rules written as SQL) give the same marts there? The dbt
sources start from the feeds' raw rows, published as Parquet day partitions with the canonical views
over them written in Spark SQL (``assets/ingest/spark_raw.py``; the reference tables are copied);
dbt builds the staging identity reads on Spark, identity resolves on Spark from it
(``assets/identity/spark_store.py``, with the run id and time of DuckDB's last identity run), and dbt
builds every other seed and model, all in full with the deployment's vars and salt. Each model's
table and identity's tables are compared with DuckDB's (assets/common/engine_parity.py). Run it
after a ``cdp run``, which leaves the DuckDB side built. On a warehouse of many identity runs (ids
kept across them, daily increments), which a first run on Spark cannot reproduce, DuckDB's
identity tables are copied instead and the report says so."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
from rich.table import Table

from assets.common.engine_parity import compare_tables, publish_to_spark
from assets.common.paths import hash_salt
from assets.common.pipeline_config import engine_name, pipeline_config
from assets.common.spark import spark_session, warehouse_folder
from assets.common.spark_mount import parquet_reader
from assets.common.sql import fetch_one, fetch_value, table_exists
from assets.common.warehouse import Warehouse
from assets.exports.publish import exported_tables
from assets.exports.spark_publish import export_spark_marts, publish_spark_analyst_db, spark_marts
from assets.identity.evaluation import read_truth, threshold_curve
from assets.identity.settings import identity_config
from assets.identity.spark_store import SparkGraphStore, resolve_spark_store
from assets.identity.store import Tables
from assets.ingest.canonical import VIEWS
from assets.ingest.feeds import feeds_config
from assets.ingest.spark_raw import create_canonical_views_on_spark, publish_raw_partitions
from assets.kpis.attribution_spark import ATTRIBUTION_MARTS, write_attribution_on_spark
from assets.profiles.clv_spark import CLV_MARTS, write_clv_on_spark
from pipelines.dbt import DBT_PROJECT, prepare_manifest
from pipelines.dbt_runner import invoke_dbt
from pipelines.dbt_vars import dbt_vars

ACCUMULATING = {"dim_users_snapshot": "as_of", "clv_model_fits": "as_of"}
"""Marts that keep rows of earlier builds (dated history): a Spark build from scratch holds only
the dates it built, so they are compared on those dates."""
RUN_STAMPS = {
    "clv_model_fits": "computed_at",
    "kpi_attribution": "computed_at",
    "audience_members": "computed_at",
}
"""Columns that record when a Python mart ran: the two engines ran at different times."""
RUN_COLUMNS = ("run_id", "first_linked_run", "id_created_at", "resolved_at", "computed_at")
"""Columns that name a run or say when it ran: two deployments' own runs differ in these only."""
PYTHON_MARTS = [("marts", name) for name in CLV_MARTS + ATTRIBUTION_MARTS]
"""The marts built in Python from what the dbt project built (on Spark: fitted on the driver)."""
IDENTITY_TABLES = [
    (Tables().schema, name)
    for name in ("resolved_records", "links", "guarded_values", "match_candidates", "history", "nodes")
] + [(Tables().schema, Tables().curve)]
"""Identity's tables the dbt project reads, resolved on Spark from the staging Spark built."""
IDENTITY_INPUTS = ["+stg_identity_records", "+stg_identity_attributes"]
"""The staging models identity reads, and everything they are built from: dbt's first build."""


@dataclass
class ModelParity:
    """One model's comparison: DuckDB's rows, Spark's, and what differs (nothing when they agree)."""

    relation: str
    duckdb_rows: int
    spark_rows: int
    differences: list[str]


@dataclass
class ParityReport:
    published: dict[str, int] = field(default_factory=dict)
    models: list[ModelParity] = field(default_factory=list)
    exports: list[ModelParity] = field(default_factory=list)  # Spark's exports and analysts' file vs DuckDB's
    dbt_errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the check could not compare, and why
    seconds: dict[str, float] = field(default_factory=dict)
    node_seconds: dict[str, float] = field(default_factory=dict)  # dbt's unique id → Spark's time

    @property
    def agrees(self) -> bool:
        compared = self.models + self.exports
        return not self.dbt_errors and bool(self.models) and all(not m.differences for m in compared)


def _relations(manifest: Mapping[str, Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The dbt sources to copy, and the seeds and models to compare, as (schema, name)."""
    sources = sorted({(s["schema"], s["name"]) for s in manifest["sources"].values()})
    built = sorted(
        (node["schema"], node["alias"])
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed") and node["config"].get("materialized") != "ephemeral"
    )
    return sources, built


def _node_seconds(run_results: Path) -> dict[str, float]:
    """Each dbt node's execution time in the build (dbt's run_results.json), for where Spark spends."""
    if not run_results.exists():
        return {}
    results = json.loads(run_results.read_text(encoding="utf-8"))["results"]
    return {result["unique_id"]: round(result["execution_time"], 2) for result in results}


def _compare(con: duckdb.DuckDBPyConnection, spark: Any, schema: str, name: str) -> ModelParity:
    relation = f"{schema}.{name}"
    return _parity(con, relation, name, relation, parquet_reader(spark, relation))


def _parity(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    name: str,
    ours: str | None,
    theirs: str,
    own_runs: bool = False,
) -> ModelParity:
    """``relation`` on DuckDB (``ours``; None when DuckDB has none) held to Spark's (``theirs``);
    ``own_runs``: each side was built by its own deployment's runs, so their run columns differ."""
    if ours is None:
        return ModelParity(relation, 0, 0, ["DuckDB has no such table"])
    if name in ACCUMULATING:
        column = ACCUMULATING[name]
        ours = f"(SELECT * FROM {ours} WHERE {column} IN (SELECT {column} FROM {theirs}))"
    columns = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {theirs}").fetchall()}
    stamps = [c for c in RUN_COLUMNS if c in columns] if own_runs else [RUN_STAMPS.get(name, "")]
    if any(stamps):
        left_out = ", ".join(c for c in stamps if c)
        ours, theirs = (f"(SELECT * EXCLUDE ({left_out}) FROM {side})" for side in (ours, theirs))
    compared = compare_tables(con, ours, theirs)
    return ModelParity(relation, compared.left_rows, compared.right_rows, compared.differences)


def _build_on_spark(
    report: ParityReport, warehouse: Warehouse, spark: Any, sources: list[tuple[str, str]]
) -> bool:
    """Publish the feeds' raw rows to Spark as day partitions, with the canonical views over them in
    Spark SQL (the other sources copied), build staging's identity inputs there, resolve identity
    on Spark from them (or copy DuckDB's, see :func:`_identity_runs`), then build the rest of the
    project; whether dbt succeeded."""
    paths, began = warehouse.paths, time.perf_counter()
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        inputs = warehouse_folder(pipeline_config().spark, paths.root) / "inputs"
        last_run, runs = _identity_runs(con)
        resolve_on_spark = runs <= 1
        canonical = {("raw", view) for view in VIEWS}  # written in Spark SQL over the feeds' partitions
        spark.sql(f"DROP DATABASE IF EXISTS {Tables().schema} CASCADE")
        copied = [
            s for s in sources if s not in canonical and (s[0] != Tables().schema or not resolve_on_spark)
        ]
        report.published = publish_to_spark(con, spark, copied, inputs)
        report.published |= publish_raw_partitions(con, spark, feeds_config(), inputs)
        create_canonical_views_on_spark(spark, feeds_config())
    report.seconds["publish"] = time.perf_counter() - began
    if not resolve_on_spark:
        report.notes.append(
            f"identity's tables copied from DuckDB, not resolved on Spark: the warehouse holds {runs} "
            "identity runs (ids kept across them, daily increments); identity on Spark is compared "
            "after a first run"
        )
        return _dbt_on_spark(report, warehouse, []) and _python_marts_on_spark(report, spark)
    if not _dbt_on_spark(report, warehouse, ["--select", *IDENTITY_INPUTS]):
        return False
    began = time.perf_counter()
    _identity_on_spark(spark, warehouse, last_run)
    report.seconds["identity_on_spark"] = time.perf_counter() - began
    return _dbt_on_spark(report, warehouse, ["--exclude", *IDENTITY_INPUTS]) and _python_marts_on_spark(
        report, spark
    )


def _python_marts_on_spark(report: ParityReport, spark: Any) -> bool:
    began = time.perf_counter()
    write_clv_on_spark(spark)
    write_attribution_on_spark(spark)
    report.seconds["python_marts_on_spark"] = time.perf_counter() - began
    return True


def _dbt_on_spark(report: ParityReport, warehouse: Warehouse, selection: list[str]) -> bool:
    """One dbt build on Spark of the ``selection``, in full, with the deployment's vars."""
    began, root = time.perf_counter(), warehouse.paths.root
    args = ["build", "--target", "spark", "--full-refresh", *selection, "--vars", json.dumps(dbt_vars())]
    with warehouse.dbt_environment():
        outcome = invoke_dbt(args, DBT_PROJECT, root / "dbt-spark")
    report.node_seconds |= _node_seconds(root / "dbt-spark" / "run_results.json")
    report.seconds["dbt_on_spark"] = report.seconds.get("dbt_on_spark", 0.0) + time.perf_counter() - began
    report.dbt_errors += outcome.errors if not outcome.success else []
    return outcome.success


def _identity_runs(con: duckdb.DuckDBPyConnection) -> tuple[tuple[str, datetime] | None, int]:
    """The run id and time of DuckDB's last identity run (Spark's tables carry the same), and how
    many identity runs the warehouse holds: after more than one, its ids were kept across runs and
    its graph grew by increments, which a first run on Spark cannot reproduce."""
    tables = Tables()
    if not table_exists(con, tables.schema, tables.state):
        return None, 0
    state = f"{tables.schema}.{tables.state}"
    runs = fetch_value(con, f"SELECT count(*) FROM {state}")
    row = fetch_one(con, f"SELECT run_id, resolved_at FROM {state} ORDER BY resolved_at DESC LIMIT 1")
    return ((row[0], row[1]) if row else None), runs


def _identity_on_spark(spark: Any, warehouse: Warehouse, last_run: tuple[str, datetime] | None) -> None:
    """Identity resolved on Spark from the staging Spark built, into an empty graph, as DuckDB's
    last run was resolved: its tables then compare with DuckDB's when that run was the warehouse's
    first (a later one keeps ids and appends history that a first run on Spark cannot have)."""
    settings, paths = identity_config(), warehouse.paths
    store = SparkGraphStore(spark)
    run_id, now = last_run or ("parity", datetime.now())
    resolve_spark_store(store, settings, salt=hash_salt(paths), run_id=run_id, now=now)
    truth = read_truth(paths.landing)
    store.write_threshold_curve(threshold_curve(store.candidates(), truth, settings.review.thresholds))


def check_parity(warehouse: Warehouse, build: bool = True) -> ParityReport:
    """Build the dbt project on Spark from ``warehouse``'s inputs and compare every model; with
    ``build=False``, compare the tables the last build left on Spark again. A deployment on the Spark
    engine is refused: its Spark warehouse is the deployment's own, which the check would replace."""
    if engine_name() == "spark":
        raise RuntimeError(
            "cdp parity checks a DuckDB deployment's marts on Spark before it moves; this deployment "
            "runs on Spark already (its Spark warehouse is its own, which the check would replace)"
        )
    report, began = ParityReport(), time.perf_counter()
    paths = warehouse.paths
    sources, built = _relations(json.loads(prepare_manifest().read_text()))
    spark = spark_session(pipeline_config().spark, paths.root)
    report.seconds["session"] = time.perf_counter() - began
    if build and not _build_on_spark(report, warehouse, spark, sources):
        return report
    began = time.perf_counter()
    with _comparing(duckdb.connect(str(paths.warehouse), read_only=True), paths.root) as con:
        resolved_on_spark = bool(spark.catalog.tableExists(f"{Tables().schema}.{Tables().state}"))
        compared = built + PYTHON_MARTS + (IDENTITY_TABLES if resolved_on_spark else [])
        report.models = [_compare(con, spark, schema, name) for schema, name in compared]
    report.seconds["compare"] = time.perf_counter() - began
    if paths.exports.exists() and paths.analyst_db.exists():
        began = time.perf_counter()
        report.exports = _publish_and_compare(spark, paths.exports, paths.analyst_db, paths.root)
        report.seconds["publish_from_spark"] = time.perf_counter() - began
    return report


def _comparing(con: duckdb.DuckDBPyConnection, root: Path) -> duckdb.DuckDBPyConnection:
    """``con`` set to compare within dbt's memory limit, sorting beyond it on disk: the JVM holds its
    heap beside this process."""
    con.execute(f"SET memory_limit = '{pipeline_config().dbt_memory_limit}'")
    con.execute("SET enable_progress_bar = false")  # the report is the table at the end
    con.execute(f"SET temp_directory = '{warehouse_folder(pipeline_config().spark, root) / 'compare.tmp'}'")
    return con


def _publish_and_compare(spark: Any, exports: Path, analyst_db: Path, root: Path) -> list[ModelParity]:
    """Spark's marts published as the DuckDB engine publishes its own (Parquet exports, then the
    analysts' file built from them), into the Spark folder, and each held to DuckDB's."""
    folder = warehouse_folder(pipeline_config().spark, root)
    tables = spark_marts(spark)
    export_spark_marts(spark, folder / "exports", tables)
    memory = pipeline_config().exports_memory_limit
    publish_spark_analyst_db(spark, folder / "exports", folder / "marts.duckdb", memory)
    return compare_published(
        (exports, analyst_db), (folder / "exports", folder / "marts.duckdb"), tables, root
    )


def compare_published(
    duckdb_side: tuple[Path, Path],
    spark_side: tuple[Path, Path],
    tables: list[str],
    scratch: Path,
    own_runs: bool = False,
) -> list[ModelParity]:
    """Each of ``tables`` as each engine published it, (exports folder, analysts' file) per side:
    the export read back, and the analysts' table, Spark's held to DuckDB's. ``scratch`` holds what
    the comparison spills; ``own_runs``: two deployments' runs (a DuckDB one and a Spark one of the
    same landing zone and salt), whose run ids and run times differ."""
    ours, theirs = exported_tables(duckdb_side[0]), exported_tables(spark_side[0])
    with _comparing(duckdb.connect(), scratch) as con:
        con.execute(f"ATTACH '{duckdb_side[1]}' AS duck (READ_ONLY)")
        con.execute(f"ATTACH '{spark_side[1]}' AS spark (READ_ONLY)")
        analysed = {
            row[0]
            for row in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'duck'"
            ).fetchall()
        }
        return [
            compared
            for name in tables
            for compared in (
                _parity(con, f"exports/{name}", name, ours.get(name), theirs[name], own_runs),
                _parity(
                    con,
                    f"marts.duckdb: {name}",
                    name,
                    f'duck.main."{name}"' if name in analysed else None,
                    f'spark.main."{name}"',
                    own_runs,
                ),
            )
        ]


def parity_table(report: ParityReport) -> Table:
    """One line per model: its rows on each engine and what differs."""
    table = Table(title="dbt models, identity, the exports and the analysts' file: Spark against DuckDB")
    for column in ("model", "DuckDB rows", "Spark rows", "differences"):
        table.add_column(column, justify="right" if "rows" in column else "left")
    for model in report.models + report.exports:
        shown = "; ".join(model.differences) or "none"
        table.add_row(model.relation, f"{model.duckdb_rows:,}", f"{model.spark_rows:,}", shown)
    return table
