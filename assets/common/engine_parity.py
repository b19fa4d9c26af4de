"""Holding one engine's tables to another's: the same rows, whatever the engine.

The Spark engine must give the answers DuckDB gives. Two tables agree when they have the same
columns and the same multiset of rows, with integers, strings, dates and timestamps equal exactly
and floating-point numbers equal to a relative tolerance (1e-9): two engines sum and divide in
different orders, and the last bits of a double follow that order. Types are compared by kind, not
by width (an INTEGER count on one side and a BIGINT on the other hold the same numbers; a DECIMAL
sum and a DOUBLE one too).

:func:`publish_to_spark` copies DuckDB relations into a Spark session as Parquet tables, so a
Spark build can start from exactly the inputs a DuckDB build had."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import polars as pl

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

FLOAT_TOLERANCE = 1e-9
"""Relative difference allowed between two floating-point values of the same row and column."""

SAMPLE = 3
"""Rows of each side shown when two tables differ."""


def publish_to_spark(
    con: duckdb.DuckDBPyConnection, spark: SparkSession, relations: list[tuple[str, str]], folder: Path
) -> dict[str, int]:
    """Each DuckDB ``(schema, name)`` written as Parquet under ``folder/schema/name`` and created as
    the Spark table ``schema.name`` over it (replacing one of that name). Returns rows per table."""
    published = {}
    for schema, name in relations:
        target = folder / schema / name
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        con.execute(f"COPY (SELECT * FROM {schema}.{name}) TO '{target / 'part-0.parquet'}' (FORMAT parquet)")
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {schema}")
        spark.sql(f"DROP TABLE IF EXISTS {schema}.`{name}`")
        spark.sql(f"CREATE TABLE {schema}.`{name}` USING parquet LOCATION '{target}'")
        published[f"{schema}.{name}"] = spark.table(f"{schema}.`{name}`").count()
    return published


def _comparable(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column as the kind its values are compared by: whole numbers as Int64, other numbers
    as Float64, dates and timestamps as microsecond datetimes, lists and structs as their text."""
    columns = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        if dtype.is_integer() or dtype == pl.Boolean:
            columns.append(column.cast(pl.Int64))
        elif dtype.is_numeric():
            columns.append(column.cast(pl.Float64))
        elif dtype == pl.Date or isinstance(dtype, pl.Datetime):
            columns.append(column.cast(pl.Datetime("us")))
        elif isinstance(dtype, pl.List | pl.Array):
            columns.append(column.cast(pl.List(pl.String)).list.join("\x1f", ignore_nulls=False))
        elif isinstance(dtype, pl.Struct):
            columns.append(column.struct.json_encode())
        else:
            columns.append(column.cast(pl.String))
    return frame.select(columns)


def _floats_agree(left: pl.Series, right: pl.Series) -> bool:
    """Equal, both null, or within :data:`FLOAT_TOLERANCE` of the larger magnitude."""
    pair = pl.DataFrame({"a": left, "b": right})
    a, b = pl.col("a"), pl.col("b")
    close = (a - b).abs() <= FLOAT_TOLERANCE * pl.max_horizontal(a.abs(), b.abs())
    agree = (a.is_null() & b.is_null()) | (a == b) | close
    return bool(pair.select(agree.fill_null(False).all()).item())


def table_differences(left: pl.DataFrame, right: pl.DataFrame) -> list[str]:
    """What differs between two versions of one table, in words; empty when they agree."""
    if sorted(left.columns) != sorted(right.columns):
        only_left = sorted(set(left.columns) - set(right.columns))
        only_right = sorted(set(right.columns) - set(left.columns))
        return [f"columns differ: only left {only_left}, only right {only_right}"]
    if left.height != right.height:
        return [f"{left.height} rows against {right.height}"]
    a, b = _comparable(left), _comparable(right.select(left.columns))
    floats = [name for name, dtype in a.schema.items() if dtype == pl.Float64]
    exact = [name for name in a.columns if name not in floats]
    order = exact + floats
    a, b = a.sort(order, nulls_last=True), b.sort(order, nulls_last=True)
    problems = []
    if exact and not a.select(exact).equals(b.select(exact)):
        unmatched = a.select(exact).join(b.select(exact), on=exact, how="anti", nulls_equal=True)
        problems.append(f"{unmatched.height} rows differ in {exact}; e.g. {unmatched.head(SAMPLE).rows()}")
    for name in floats:
        if not _floats_agree(a[name], b[name]):
            problems.append(f"column {name} differs beyond a relative {FLOAT_TOLERANCE:g}")
    return problems
