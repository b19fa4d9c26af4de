"""Publish the marts a Spark build made exactly as the DuckDB engine publishes its own
(:mod:`assets.exports.publish`): the same ``exports/`` layout, the same atomic swaps, the big facts by
day with only the changed days rewritten — Spark writing the Parquet, so no table passes through the
driver. The analysts' DuckDB file is then built from those exports, so analysts query the same
``marts.duckdb`` whichever engine built the marts.

The exports folder must be a path the driver and every executor see alike: a local folder on
``local[N]``, a shared mount (``/dbfs/...``, NFS) on a cluster."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from assets.common.sql import ident
from assets.exports.analyst_db import build_analyst_db
from assets.exports.days import NULL_PARTITION
from assets.exports.publish import (
    FINGERPRINT,
    PARTITION_FINGERPRINTS,
    PARTITIONED_BY_DAY,
    ExportedTable,
    exported_tables,
    publish_days,
    publish_whole,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

ENGINE = "spark"
"""Fingerprints name their engine: a DuckDB hash and a Spark hash of the same rows differ, so a
deployment that changes engine rewrites every export once instead of trusting the other's."""


def spark_marts(spark: SparkSession, schema: str = "marts") -> list[str]:
    """The tables of ``schema`` in the Spark catalog, sorted (views and temporary tables left out)."""
    tables = spark.catalog.listTables(schema)
    return sorted(t.name for t in tables if t.tableType != "VIEW" and not t.isTemporary)


def export_spark_marts(
    spark: SparkSession, exports: Path, tables: list[str], schema: str = "marts"
) -> list[ExportedTable]:
    """Every table in ``tables`` as Parquet under ``exports``, except those whose export holds their
    content already; the facts of ``PARTITIONED_BY_DAY`` by day."""
    out = []
    for name in tables:
        frame = spark.table(f"{schema}.`{name}`")
        if name in PARTITIONED_BY_DAY:
            out.append(_export_by_day(frame, exports, name, PARTITIONED_BY_DAY[name]))
        else:
            out.append(_export_whole(frame, exports, name))
    return out


def _columns(frame: DataFrame) -> list[tuple[str, str]]:
    return [(field.name, field.dataType.simpleString()) for field in frame.schema.fields]


def _fingerprints(frame: DataFrame, day: Column | None = None) -> dict[str | None, tuple[int, str]]:
    """Per ``day`` (or for the whole table, under None): rows and a fingerprint of the content that
    does not depend on row order (rows, sum of 64-bit row hashes, columns and their types)."""
    from pyspark.sql import functions as F

    columns = _columns(frame)
    row_hash = F.xxhash64(*[F.col(f"`{name}`") for name, _ in columns]).cast("decimal(38,0)")
    grouped = frame.groupBy(day.alias("day")) if day is not None else frame.groupBy()
    sums = grouped.agg(F.count(F.lit(1)).alias("n"), F.sum(row_hash).alias("h")).collect()
    return {
        (row["day"] if day is not None else None): (row["n"], f"{ENGINE}:{row['n']}:{row['h']}:{columns}")
        for row in sums
        if row["n"]
    }


def _day_label(column: str) -> Column:
    """A row's day as its folder names it (``__HIVE_DEFAULT_PARTITION__`` for no day)."""
    from pyspark.sql import functions as F

    return F.coalesce(F.col(f"`{column}`").cast("string"), F.lit(NULL_PARTITION))


def _export_whole(frame: DataFrame, exports: Path, name: str) -> ExportedTable:
    """``exports/<name>/<name>.parquet``, rows ordered; Spark writes one part file, renamed."""
    from pyspark.sql import functions as F

    rows, content = _fingerprints(frame).get(None, (0, f"{ENGINE}:0:0:{_columns(frame)}"))

    def write(staging: Path) -> None:
        ordered = frame.orderBy(*[F.col(f"`{c}`").asc_nulls_last() for c in frame.columns]).coalesce(1)
        ordered.write.option("compression", "zstd").parquet(str(staging / "spark"))
        parts = sorted((staging / "spark").glob("*.parquet"))
        if len(parts) != 1:
            raise RuntimeError(f"{name}: Spark wrote {len(parts)} Parquet files where one was expected")
        parts[0].rename(staging / f"{name}.parquet")
        shutil.rmtree(staging / "spark")

    return publish_whole(exports, name, rows, content, write)


def _export_by_day(frame: DataFrame, exports: Path, name: str, column: str) -> ExportedTable:
    """``exports/<name>/<column>=<day>/`` as the DuckDB engine lays it out (``publish_days``): only the
    changed days written, by Spark; an empty table is one empty file."""
    days = _fingerprints(frame, _day_label(column))
    if not days:
        return _export_whole(frame, exports, name)

    def write_days(chosen: list[str], staging: Path) -> None:
        picked = frame.where(_day_label(column).isin(chosen)).repartition(f"`{column}`")
        picked.write.option("compression", "zstd").partitionBy(column).parquet(str(staging))
        for checksum in staging.rglob(".*.crc"):  # Hadoop's local checksums: no reader wants them
            checksum.unlink()

    wanted = {str(day): content for day, (_, content) in days.items()}
    return publish_days(exports / name, column, wanted, write_days, sum(n for n, _ in days.values()))


def publish_spark_analyst_db(spark: SparkSession, exports: Path, target: Path, memory_limit: str) -> bool:
    """The analysts' ``marts.duckdb`` built from the exports of Spark's marts, each table's columns
    in Spark's order; whether it was replaced."""
    columns = {name: spark.table(f"marts.`{name}`").columns for name in spark_marts(spark)}
    return publish_analyst_db_from_exports(target, exports, columns, memory_limit)


def publish_analyst_db_from_exports(
    target: Path, exports: Path, columns: dict[str, list[str]], memory_limit: str = "80%"
) -> bool:
    """The analysts' ``marts.duckdb`` built from the exported tables (``columns``: name → the table's
    columns in order; a day-partitioned export gives its day column back last, from the folder
    names, so the order is restored here); whether it was replaced."""
    readers = exported_tables(exports) if exports.exists() else {}
    missing = sorted(set(columns) - set(readers))
    if missing:
        raise RuntimeError(f"no export to build the analysts' database from: {', '.join(missing)}")
    content = "\n".join(f"{name}={_export_content(exports / name)}" for name in columns)
    selects = {
        name: f"SELECT {', '.join(map(ident, order))} FROM {readers[name]}" for name, order in columns.items()
    }
    with duckdb.connect(config={"memory_limit": memory_limit}) as con:
        return build_analyst_db(con, target, content, selects)


def _export_content(folder: Path) -> str:
    """What a table's export holds, by its fingerprints (of the whole file, or per day)."""
    for kept in (FINGERPRINT, PARTITION_FINGERPRINTS):
        if (folder / kept).exists():
            return (folder / kept).read_text(encoding="utf-8")
    return ""
