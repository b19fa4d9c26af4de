"""Small helpers for building SQL from configuration safely: identifiers are quoted, values are
always bound as parameters (a column called ``x"; DROP TABLE`` stays a column name)."""

from __future__ import annotations

from typing import Any

import polars as pl
import pyarrow as pa

DUCKDB_TYPES = {
    "varchar": "VARCHAR",
    "integer": "BIGINT",
    "double": "DOUBLE",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "boolean": "BOOLEAN",
}


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A SQL string literal, for DDL (views) where parameters cannot be bound."""
    return "'" + value.replace("'", "''") + "'"


def table(schema: str, name: str) -> str:
    return f"{ident(schema)}.{ident(name)}"


def fetch_one(con, sql: str, params: list | dict | None = None) -> tuple | None:
    """First row of a query. duckdb 2.0 keeps a connection busy until a result is read to the end,
    so read it all (queries passed here return at most a few rows)."""
    rows = con.execute(sql, params).fetchall()
    return rows[0] if rows else None


def fetch_value(con, sql: str, params: list | dict | None = None) -> Any:
    """The first column of a query's first row, for queries that always return one (a count, an
    aggregate, a ``SELECT`` of an expression); a query that returns none is a bug, said as such."""
    row = fetch_one(con, sql, params)
    if row is None:
        raise LookupError(f"expected one row from: {sql}")
    return row[0]


def table_exists(con, schema: str, name: str) -> bool:
    """Whether ``schema.name`` exists: steps that read another stage's table (a mart the first run
    has not built yet) ask before reading."""
    return (
        fetch_value(
            con,
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, name],
        )
        > 0
    )


def insert_rows(
    con, target: str, rows: Any, select: str, params: dict | None = None, where: str = ""
) -> None:
    """``INSERT INTO target SELECT select FROM rows [where]`` for an Arrow table (or DataFrame) of
    rows: one statement for a whole batch, where ``executemany`` would run one per row."""
    con.register("_inserted_rows", rows)
    try:
        con.execute(f"INSERT INTO {target} SELECT {select} FROM _inserted_rows {where}", params or {})
    finally:
        con.unregister("_inserted_rows")


def arrow_of(frame: pl.DataFrame) -> pa.Table:
    """``frame`` as the Arrow table DuckDB reads without copying its strings.

    DuckDB reads a registered polars frame through Arrow's older string layout, a copy of every
    string column made when the frame is registered: at 2 M people the identity tables' strings are
    gigabytes, copied all at once beside the frames. Polars' own string views (the newest Arrow
    level) are read as they are."""
    return frame.to_arrow(compat_level=pl.CompatLevel.newest())
