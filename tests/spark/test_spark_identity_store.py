"""The identity graph kept in Spark's warehouse (``spark_store``): two runs over staging tables on
Spark write the same identity tables, row for row, as two runs of the DuckDB store over the same
staging — numbering, kept ids, links, refused values, candidates and the appended history — and the
state says each Spark run was full, and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pytest

from assets.common.spark import to_polars
from assets.identity.graph_store import DuckDBGraphStore
from assets.identity.run import resolve_stored
from assets.identity.settings import IdentityConfig
from assets.identity.spark_check import frame_differences
from assets.identity.spark_store import SPARK_FULL_RUN, SparkGraphStore, resolve_spark_store
from tests.identity.helpers import SALT, frames
from tests.spark import NEEDS_SPARK
from tests.spark.identity_data import ROWS, partners_rows

pytestmark = [pytest.mark.slow(seconds=120), *NEEDS_SPARK]

LOADED = datetime(2026, 3, 1)
RUNS = [("r1", datetime(2026, 3, 1, 6)), ("r2", datetime(2026, 3, 2, 6))]
PUBLISHED = ["resolved_records", "links", "guarded_values", "match_candidates", "history", "nodes"]


def staging(rows: list[tuple]) -> dict[str, pl.DataFrame]:
    """Staging's two identity tables as dbt builds them: records, and attribute rows with their
    validity (an invalid row — a value that failed its check — is no evidence)."""
    records, attributes = frames(rows)
    invalid = attributes.head(1).with_columns(value=pl.lit("13900000077"), is_valid=pl.lit(False))
    return {
        "stg_identity_records": records.with_columns(loaded_at=pl.lit(LOADED)),
        "stg_identity_attributes": pl.concat(
            [attributes.with_columns(is_valid=pl.lit(True)), invalid]
        ).with_columns(loaded_at=pl.lit(LOADED)),
    }


def stage(spark: Any, con: duckdb.DuckDBPyConnection, tables: dict[str, pl.DataFrame]) -> None:
    spark.sql("CREATE DATABASE IF NOT EXISTS staging")
    con.execute("CREATE SCHEMA IF NOT EXISTS staging")
    for name, frame in tables.items():
        spark.createDataFrame(frame.to_arrow()).write.mode("overwrite").saveAsTable(f"staging.{name}")
        con.register("_frame", frame)
        con.execute(f"CREATE OR REPLACE TABLE staging.{name} AS SELECT * FROM _frame")


def test_two_runs_write_the_duckdb_stores_tables(spark: Any, config: IdentityConfig) -> None:
    people = partners_rows(np.random.default_rng(5), 60)
    second = [row for row in ROWS + people if row[1] != "p7-0"] + [  # an order withdrawn, one new
        ("crm", "late", "record", "mobile", "", "13900000003", 999)
    ]
    con = duckdb.connect()
    for rows, (run_id, now) in zip([ROWS + people, second], RUNS, strict=True):
        stage(spark, con, staging(rows))
        resolve_stored(DuckDBGraphStore(con), config, salt=SALT, run_id=run_id, now=now, full_rebuild=True)
        outcome = resolve_spark_store(
            SparkGraphStore(spark), config, salt=SALT, run_id=run_id, now=now, buckets=2
        )
        assert outcome.mode == "full" and outcome.reason == SPARK_FULL_RUN
        for table in PUBLISHED:
            ours = con.sql(f"SELECT * FROM identity.{table}").pl()
            assert not frame_differences(ours, to_polars(spark.table(f"identity.{table}"))), table
    history = to_polars(spark.table("identity.history"))
    assert set(history.get_column("run_id")) == {"r1", "r2"}  # appended run by run
    resolved = to_polars(spark.table("identity.resolved_records"))
    assert "13900000077" not in to_polars(spark.table("identity.node_keys")).get_column("key").to_list()
    assert resolved.filter(pl.col("record_id") == "late").get_column("first_linked_run").item() == "r2"
    state = SparkGraphStore(spark).last_state()
    assert state is not None and state.mode == "full" and state.resolved_at == RUNS[1][1]
    assert state.users == resolved.get_column("unified_id").n_unique() - 1  # anonymous records have none
    assert spark.table("identity.state").count() == 2
