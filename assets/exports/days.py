"""The content fingerprints of a mart day by day, for the marts published by day (the Parquet day
folders of publish.py, the dated history in the analysts' file).

A day's fingerprint is its row count, the sum of its rows' hashes, and the mart's columns: equal
fingerprints, equal content, whatever the row order. Hashing costs a pass over the rows, which for
the facts is the size of the event history, like the rest of a run. The dated profile snapshots are
different: they gain a day of every user's profile each run (570 k rows a day at 200 k people), so
hashing them all would make each run cost more than the one before, without end. For such marts
(``DAYS_WRITTEN``) only the days a build may have rewritten are hashed again; every other day keeps
the fingerprint it had, unless its row count or the columns changed (``cdp forget`` deletes rows)."""

from __future__ import annotations

from collections.abc import Mapping

import duckdb

from assets.common.sql import ident, literal, table

MARTS_SCHEMA = "marts"
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"  # the folder a null day's rows go to (DuckDB, Hive, Spark)

DAYS_WRITTEN = {"dim_users_snapshot": f"SELECT DISTINCT profile_as_of FROM {MARTS_SCHEMA}.dim_users"}
"""The marts whose builds rewrite only the days this query returns, keeping the others as they were
written (dim_users_snapshot: a build writes the profile date of dim_users, and is never rebuilt)."""


def day_of(column: str) -> str:
    """The day of a row as its folder names it (DuckDB's, Hive's and Spark's name for a null day)."""
    return f"coalesce(CAST({ident(column)} AS VARCHAR), {literal(NULL_PARTITION)})"


def columns_of(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    return [(c[0], c[1]) for c in con.execute(f"DESCRIBE {relation}").fetchall()]


def day_fingerprints(
    con: duckdb.DuckDBPyConnection, name: str, column: str, held: Mapping[str, str] | None = None
) -> tuple[dict[str, int], dict[str, str]]:
    """Per day of ``marts.<name>`` (by ``column``): its rows, and its fingerprint. ``held`` are the
    fingerprints kept from the last publish: for a mart of ``DAYS_WRITTEN``, its days outside the
    build's days, with the same row count and columns, keep them without being hashed again."""
    relation = table(MARTS_SCHEMA, name)
    columns = columns_of(con, relation)
    if name not in DAYS_WRITTEN or not held:
        return _hashed(con, relation, column, columns, None)
    counted = con.execute(f"SELECT {ident(column)}, count(*) FROM {relation} GROUP BY 1").fetchall()
    rows = {NULL_PARTITION if day is None else str(day): n for day, n in counted}
    written = {str(day) for (day,) in con.execute(DAYS_WRITTEN[name]).fetchall()}
    kept = {
        day: held[day]
        for day, n in rows.items()
        if day not in written and _describes(held.get(day), n, columns)
    }
    _, hashed = _hashed(con, relation, column, columns, sorted(rows.keys() - kept.keys()))
    return rows, kept | hashed


def _describes(fingerprint: str | None, rows: int, columns: list[tuple[str, str]]) -> bool:
    """Whether ``fingerprint`` could be a day's of ``rows`` rows and these columns (its hash sum,
    between them, holds no colon)."""
    if fingerprint is None:
        return False
    return fingerprint.startswith(f"{rows}:") and fingerprint.endswith(f":{columns}")


def _hashed(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    column: str,
    columns: list[tuple[str, str]],
    days: list[str] | None,
) -> tuple[dict[str, int], dict[str, str]]:
    """Rows and fingerprints of ``days`` (None: every day), from one pass over their rows."""
    if days == []:
        return {}, {}
    where = "" if days is None else f" WHERE {among_days(column, columns, days)}"
    sums = con.execute(
        f"SELECT {day_of(column)}, count(*), sum(hash(t)::HUGEINT) FROM {relation} AS t{where} GROUP BY 1"
    ).fetchall()
    return {day: n for day, n, _ in sums}, {day: f"{n}:{hashes}:{columns}" for day, n, hashes in sums}


def among_days(column: str, columns: list[tuple[str, str]], days: list[str]) -> str:
    """SQL: ``column`` is one of ``days`` (folder names: a null day is ``NULL_PARTITION``), compared
    in the column's own type (of ``columns``, a relation's names and types), so that DuckDB reads
    only the row groups of those days."""
    kind = dict(columns)[column]
    named = [f"CAST({literal(day)} AS {kind})" for day in days if day != NULL_PARTITION]
    tests = [f"{ident(column)} IN ({', '.join(named)})"] if named else []
    return " OR ".join(tests + ([f"{ident(column)} IS NULL"] if NULL_PARTITION in days else []))
