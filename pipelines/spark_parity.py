"""``cdp parity``: this deployment's dbt project built on Spark from the DuckDB warehouse's inputs,
every model held to the table DuckDB built.

It answers the question a brand asks before moving to Spark: will our deployment (its feeds, its
tag and funnel rules written as SQL, its identity outputs) give the same marts there? The dbt
sources (the canonical raw views and identity's tables) are copied from the warehouse into the
Spark session as Parquet; dbt then builds every seed and model on Spark in full, with the
deployment's vars and salt, and each model's table is compared with DuckDB's
(assets/common/engine_parity.py). Run it after a ``cdp run``, which leaves the DuckDB side built."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from rich.table import Table

from assets.common.engine_parity import publish_to_spark, table_differences
from assets.common.pipeline_config import pipeline_config
from assets.common.spark import spark_session, warehouse_folder
from assets.common.warehouse import Warehouse
from pipelines.dbt import DBT_PROJECT, prepare_manifest
from pipelines.dbt_runner import invoke_dbt
from pipelines.dbt_vars import dbt_vars

ACCUMULATING = {"dim_users_snapshot": "as_of"}
"""Models that keep rows of earlier builds (dated history): a Spark build from scratch holds only
the dates it built, so they are compared on those dates."""


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
    dbt_errors: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def agrees(self) -> bool:
        return not self.dbt_errors and bool(self.models) and all(not m.differences for m in self.models)


def _relations(manifest: Mapping[str, Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The dbt sources to copy, and the seeds and models to compare, as (schema, name)."""
    sources = sorted({(s["schema"], s["name"]) for s in manifest["sources"].values()})
    built = sorted(
        (node["schema"], node["alias"])
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed") and node["config"].get("materialized") != "ephemeral"
    )
    return sources, built


def _spark_frame(spark: Any, relation: str) -> pl.DataFrame:
    """The Spark table's rows, read from its Parquet files (hive partitions included) rather than
    collected through the driver, whose heap would have to hold a whole fact table at once."""
    details = spark.sql(f"DESCRIBE TABLE EXTENDED {relation}").collect()
    location = next(row.data_type for row in details if row.col_name == "Location").removeprefix("file:")
    if not any(Path(location).rglob("*.parquet")):
        return pl.from_arrow(spark.table(relation).toArrow())  # type: ignore[return-value]
    return pl.read_parquet(f"{location}/**/*.parquet", hive_partitioning=True)


def _compare(con: duckdb.DuckDBPyConnection, spark: Any, schema: str, name: str) -> ModelParity:
    relation = f"{schema}.{name}"
    theirs = _spark_frame(spark, relation)
    ours = con.sql(f"SELECT * FROM {relation}").pl()
    if name in ACCUMULATING:
        column = ACCUMULATING[name]
        ours = ours.filter(pl.col(column).is_in(theirs.get_column(column).unique().implode()))
    return ModelParity(relation, ours.height, theirs.height, table_differences(ours, theirs))


def check_parity(warehouse: Warehouse) -> ParityReport:
    """Build the dbt project on Spark from ``warehouse``'s inputs and compare every model."""
    report, began = ParityReport(), time.perf_counter()
    settings, paths = pipeline_config().spark, warehouse.paths
    manifest = json.loads(prepare_manifest().read_text())
    sources, built = _relations(manifest)
    spark = spark_session(settings, paths.root)
    report.seconds["session"] = time.perf_counter() - began
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        inputs = warehouse_folder(settings, paths.root) / "inputs"
        report.published = publish_to_spark(con, spark, sources, inputs)
    report.seconds["publish"] = time.perf_counter() - began - sum(report.seconds.values())
    args = ["build", "--target", "spark", "--full-refresh", "--vars", json.dumps(dbt_vars())]
    with warehouse.dbt_environment():
        outcome = invoke_dbt(args, DBT_PROJECT, paths.root / "dbt-spark")
    report.seconds["dbt_on_spark"] = time.perf_counter() - began - sum(report.seconds.values())
    report.dbt_errors = outcome.errors if not outcome.success else []
    if outcome.success:
        with duckdb.connect(str(paths.warehouse), read_only=True) as con:
            report.models = [_compare(con, spark, schema, name) for schema, name in built]
    report.seconds["compare"] = time.perf_counter() - began - sum(report.seconds.values())
    return report


def parity_table(report: ParityReport) -> Table:
    """One line per model: its rows on each engine and what differs."""
    table = Table(title="dbt models: Spark against DuckDB")
    for column in ("model", "DuckDB rows", "Spark rows", "differences"):
        table.add_column(column, justify="right" if "rows" in column else "left")
    for model in report.models:
        shown = "; ".join(model.differences) or "none"
        table.add_row(model.relation, f"{model.duckdb_rows:,}", f"{model.spark_rows:,}", shown)
    return table
