"""Holding one engine's tables to another's: the same rows, whatever the engine.

The Spark engine must give the answers DuckDB gives. Two tables agree when they have the same
columns and the same multiset of rows, with integers, strings, dates and timestamps equal exactly
and floating-point numbers equal to a relative tolerance (1e-9): two engines sum and divide in
different orders, and the last bits of a double follow that order. Types are compared by kind, not
by width (an INTEGER count on one side and a BIGINT on the other hold the same numbers; a DECIMAL
sum and a DOUBLE one too).

The comparison runs in DuckDB, which spills to disk: both sides are sorted by every column and
compared row by row, so a fact table of ten million rows is compared in bounded memory (holding both
sides of one in Python took 18 GB at 200 k people).

:func:`publish_to_spark` copies DuckDB relations into a Spark session as Parquet tables, so a
Spark build can start from exactly the inputs a DuckDB build had."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

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


WHOLE = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
)
NUMBERS = ("FLOAT", "DOUBLE", "DECIMAL", "REAL")


def _kind(type_name: str) -> str:
    """How a column's values are compared: whole, float, time, list, struct or text."""
    if type_name in WHOLE or type_name == "BOOLEAN":
        return "whole"
    if type_name.startswith(NUMBERS):
        return "float"
    if type_name == "DATE" or type_name.startswith("TIMESTAMP"):
        return "time"
    if type_name.endswith("]"):
        return "list"
    return "struct" if type_name.startswith("STRUCT") else "text"


def _normalised(name: str, kind: str) -> str:
    """The SQL of a column as its kind's comparable value."""
    column = f'"{name}"'
    return {
        "whole": f"CAST({column} AS BIGINT)",
        "float": f"CAST({column} AS DOUBLE)",
        "time": f"CAST({column} AS TIMESTAMP)",
        "list": f"array_to_string(list_transform({column}, lambda e: coalesce(CAST(e AS VARCHAR), chr(0))), "
        + "chr(31))",
        "struct": f"CAST(to_json({column}) AS VARCHAR)",
        "text": f"CAST({column} AS VARCHAR)",
    }[kind]


def _schema(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    """Each column's DuckDB type name."""
    read = con.sql(f"FROM {relation} LIMIT 0")
    return dict(zip(read.columns, map(str, read.types), strict=True))


def _rows(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    counted = con.execute(f"SELECT count(*) FROM {relation}").fetchone()
    return int(counted[0]) if counted else 0


def _kinds(left: dict[str, str], right: dict[str, str]) -> dict[str, str]:
    """Each column's kind; float when either side holds it as a non-whole number."""
    kinds = {}
    for name, type_name in left.items():
        both = {_kind(type_name), _kind(right[name])}
        kinds[name] = "float" if "float" in both else _kind(type_name)
    return kinds


def _ordered(relation: str, kinds: dict[str, str], order: list[str]) -> str:
    columns = ", ".join(f'{_normalised(name, kind)} AS "{name}"' for name, kind in kinds.items())
    ordering = ", ".join(f'"{name}" NULLS LAST' for name in order)
    return (
        f"SELECT *, row_number() OVER (ORDER BY {ordering}) AS _row FROM (SELECT {columns} FROM {relation})"
    )


@dataclass(frozen=True)
class TableComparison:
    """Two versions of one table: their rows, and what differs in words (empty when they agree)."""

    left_rows: int
    right_rows: int
    differences: list[str]


def compare_tables(con: duckdb.DuckDBPyConnection, left: str, right: str) -> TableComparison:
    """Two versions of one table compared (``left`` and ``right``: relations or table functions
    DuckDB reads)."""
    schemas = [_schema(con, side) for side in (left, right)]
    left_rows, right_rows = (_rows(con, side) for side in (left, right))
    if sorted(schemas[0]) != sorted(schemas[1]):
        only_left, only_right = (
            sorted(set(schemas[0]) - set(schemas[1])),
            sorted(set(schemas[1]) - set(schemas[0])),
        )
        return TableComparison(
            left_rows, right_rows, [f"columns differ: only left {only_left}, only right {only_right}"]
        )
    if left_rows != right_rows:
        return TableComparison(left_rows, right_rows, [f"{left_rows} rows against {right_rows}"])
    return TableComparison(left_rows, right_rows, _row_differences(con, left, right, _kinds(*schemas)))


def _row_differences(
    con: duckdb.DuckDBPyConnection, left: str, right: str, kinds: dict[str, str]
) -> list[str]:
    """Both sides sorted by every column and paired row by row: whole values must be equal, floats
    within the tolerance."""
    floats = [name for name, kind in kinds.items() if kind == "float"]
    exact = [name for name in kinds if name not in floats]
    same = " AND ".join(f'a."{n}" IS NOT DISTINCT FROM b."{n}"' for n in exact) or "true"
    close = [
        f'count(*) FILTER (WHERE NOT coalesce(a."{n}" = b."{n}" OR (a."{n}" IS NULL AND b."{n}" IS NULL) OR '
        f'abs(a."{n}" - b."{n}") <= {FLOAT_TOLERANCE} * greatest(abs(a."{n}"), abs(b."{n}")), false))'
        for n in floats
    ]
    order = exact + floats
    paired = f"({_ordered(left, kinds, order)}) AS a JOIN ({_ordered(right, kinds, order)}) AS b USING (_row)"
    counts = con.execute(
        f"SELECT count(*) FILTER (WHERE NOT ({same})), {', '.join(close) or '0'} FROM {paired}"
    ).fetchone()
    assert counts is not None
    problems = []
    if counts[0]:
        shown = ", ".join(f'a."{n}"' for n in exact)
        sample = con.execute(f"SELECT {shown} FROM {paired} WHERE NOT ({same}) LIMIT {SAMPLE}").fetchall()
        problems.append(f"{counts[0]} rows differ in {exact}; e.g. {sample}")
    problems += [
        f"column {name} differs beyond a relative {FLOAT_TOLERANCE:g}"
        for name, bad in zip(floats, counts[1:], strict=False)
        if bad
    ]
    return problems
