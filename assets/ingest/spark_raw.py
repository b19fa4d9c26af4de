"""The raw layer on Spark: each feed's loaded rows as Parquet partitions by day, and the canonical
views over them written in Spark SQL from the same feed declarations.

Ingest reads, types, checks and quarantines a delivery on the driver (the readers and the rules of
``loader`` and ``batch``, the file ledger in the warehouse), where a day's files are read together.
What a Spark deployment's staging reads is then this: ``<folder>/raw/<feed>/_partition=<day>/``, a
Hive layout any engine reads, registered as the partitioned table ``raw.<feed>``; only the days a
run touched are rewritten. The canonical views (``raw.orders``, ``raw.identity_attributes``…) are
``canonical.view_sql`` in the Spark dialect, so a feed added in ``feeds.yaml`` reaches Spark's
staging as it reaches DuckDB's, without SQL."""

from __future__ import annotations

import shutil
from collections.abc import Collection
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from assets.common.dialect import SPARK
from assets.common.sql import fetch_value, literal, table
from assets.ingest.canonical import view_sql
from assets.ingest.feeds import FeedsConfig

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

PARTITION = "_partition"
SPARK_OF_DUCKDB = {
    "VARCHAR": "STRING",
    "BIGINT": "BIGINT",
    "INTEGER": "INT",
    "DOUBLE": "DOUBLE",
    "BOOLEAN": "BOOLEAN",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP_NTZ",
}


def _spark_columns(con: duckdb.DuckDBPyConnection, feed: str) -> list[tuple[str, str]]:
    """The raw table's columns with their Spark types (the partition column last, as Spark keeps it)."""
    described = con.execute(f"DESCRIBE {table('raw', feed)}").fetchall()
    columns = [(name, SPARK_OF_DUCKDB[kind]) for name, kind, *_ in described if name != PARTITION]
    return [*columns, (PARTITION, "DATE")]


def _write_days(
    con: duckdb.DuckDBPyConnection, feed: str, target: Path, days: Collection[date] | None
) -> None:
    """The feed's rows of ``days`` (every day when None) as ``target/_partition=<day>/`` folders,
    each replaced whole: a day's folder holds what the warehouse holds for it now."""
    if days is None:
        shutil.rmtree(target, ignore_errors=True)
        where = ""
    else:
        for day in days:
            shutil.rmtree(target / f"{PARTITION}={day.isoformat()}", ignore_errors=True)
        where = f"WHERE {PARTITION} IN ({', '.join(literal(d.isoformat()) for d in sorted(days))})"
    target.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"COPY (SELECT * FROM {table('raw', feed)} {where}) TO '{target}' "
        f"(FORMAT parquet, PARTITION_BY ({PARTITION}), OVERWRITE_OR_IGNORE, FILENAME_PATTERN 'part-{{i}}')"
    )


def publish_raw_partitions(
    con: duckdb.DuckDBPyConnection,
    spark: SparkSession,
    config: FeedsConfig,
    folder: Path,
    days: Collection[date] | None = None,
    feeds: Collection[str] | None = None,
) -> dict[str, int]:
    """Each feed's (of ``feeds``; all when None) raw rows of ``days`` (all when None) as Parquet day
    folders under ``folder/raw/<feed>``, and the Spark table ``raw.<feed>`` over them; rows per
    table (counted in the warehouse, which holds the same rows)."""
    spark.sql("CREATE DATABASE IF NOT EXISTS raw")
    published = {}
    for feed in config.feeds if feeds is None else feeds:
        target = folder / "raw" / feed
        if days is None or days:
            _write_days(con, feed, target, days)
        target.mkdir(parents=True, exist_ok=True)
        columns = ", ".join(f"{SPARK.ident(name)} {kind}" for name, kind in _spark_columns(con, feed))
        relation = SPARK.table("raw", feed)
        spark.sql(f"DROP TABLE IF EXISTS {relation}")
        spark.sql(
            f"CREATE TABLE {relation} ({columns}) USING parquet PARTITIONED BY ({PARTITION}) "
            f"LOCATION {SPARK.literal(str(target))}"
        )
        spark.sql(f"MSCK REPAIR TABLE {relation}")
        published[f"raw.{feed}"] = fetch_value(con, f"SELECT count(*) FROM {table('raw', feed)}")
    return published


def create_canonical_views_on_spark(spark: SparkSession, config: FeedsConfig) -> None:
    """The canonical views over the feeds' raw tables, in Spark SQL."""
    for name, select in view_sql(config, SPARK).items():
        spark.sql(f"CREATE OR REPLACE VIEW {SPARK.table('raw', name)} AS {select}")
