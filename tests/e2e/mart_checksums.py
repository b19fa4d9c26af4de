"""Order-independent checksums of every mart: in the warehouse, in marts.duckdb and in the exports.

Columns that record *when* or *in which run* something was computed (identity's ``resolved_at``,
``id_created_at``, ``first_linked_run``, attribution's ``computed_at``) differ between runs by design
and are left out; every other value must match."""

from __future__ import annotations

import duckdb

from assets.common.paths import DataPaths
from assets.exports.publish import exported_tables

RUN_TIME_COLUMNS = ("resolved_at", "computed_at", "id_created_at", "first_linked_run")


def _checksum(con: duckdb.DuckDBPyConnection, relation: str) -> tuple[int, str]:
    columns = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()}
    skipped = [c for c in RUN_TIME_COLUMNS if c in columns]
    rows = (
        f"SELECT * EXCLUDE ({', '.join(skipped)}) FROM {relation}" if skipped else f"SELECT * FROM {relation}"
    )
    return tuple(
        con.execute(f"""SELECT count(*), coalesce(md5(string_agg(h, '' ORDER BY h)), '')
                                 FROM (SELECT md5(CAST(t AS VARCHAR)) AS h FROM ({rows}) t)""").fetchall()[0]
    )


def mart_checksums(paths: DataPaths) -> dict[str, tuple[int, str]]:
    sums = {}
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        for (name,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts' ORDER BY 1"
        ).fetchall():
            sums[f"warehouse:{name}"] = _checksum(con, f'marts."{name}"')
    with duckdb.connect(str(paths.analyst_db), read_only=True) as con:
        for (name,) in con.execute("SHOW TABLES").fetchall():
            sums[f"marts.duckdb:{name}"] = _checksum(con, f'"{name}"')
    with duckdb.connect() as con:
        for name, relation in exported_tables(paths.exports).items():
            sums[f"export:{name}"] = _checksum(con, relation)
    return sums
