"""Order-independent checksums of every mart: in the warehouse, in marts.duckdb and in the exports."""

from __future__ import annotations

import duckdb

from pipelines.settings import DataPaths


def _checksum(con: duckdb.DuckDBPyConnection, relation: str) -> tuple[int, str]:
    return tuple(con.execute(f"""SELECT count(*), coalesce(md5(string_agg(h, '' ORDER BY h)), '')
                                 FROM (SELECT md5(CAST(t AS VARCHAR)) AS h FROM {relation} t)""").fetchall()[0])


def mart_checksums(paths: DataPaths) -> dict[str, tuple[int, str]]:
    sums = {}
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        for (name,) in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts' "
                                   "ORDER BY 1").fetchall():
            sums[f"warehouse:{name}"] = _checksum(con, f'marts."{name}"')
    with duckdb.connect(str(paths.analyst_db), read_only=True) as con:
        for (name,) in con.execute("SHOW TABLES").fetchall():
            sums[f"marts.duckdb:{name}"] = _checksum(con, f'"{name}"')
    with duckdb.connect() as con:
        for file in sorted(paths.exports.glob("*/*.parquet")):
            sums[f"export:{file.parent.name}"] = _checksum(con, f"read_parquet('{file}')")
    return sums
