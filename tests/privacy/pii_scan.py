"""Find personal data in clear in tables: China mobiles, emails, 18-digit national ids by pattern,
and device ids by value.

Patterns refuse to match inside longer alphanumeric runs, so salted hashes (hex) and masked values
(138****8000, z***@qq.com) never count; any real value does. DuckDB's RE2 has no look-around,
hence the explicit non-alphanumeric borders. A device id (IDFA / OAID) looks like any UUID — a
Dagster run id, say — so device ids are looked up as the values the raw layer actually holds."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

_EDGE_L, _EDGE_R = "(^|[^0-9A-Za-z])", "($|[^0-9A-Za-z])"
PATTERNS = {
    "mobile": f"{_EDGE_L}1[3-9][0-9]{{9}}{_EDGE_R}",
    "email": "[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}",
    "national_id": f"{_EDGE_L}[1-9][0-9]{{16}}[0-9Xx]{_EDGE_R}",
}


@dataclass(frozen=True)
class Leak:
    relation: str
    column: str
    kind: str
    sample: str


def scan(con: duckdb.DuckDBPyConnection, relation: str, device_ids: list[str] = ()) -> list[Leak]:
    """Every (column, kind) of ``relation`` (a table name or a read_parquet(...) call) holding personal
    data; ``device_ids``: the raw device ids to look for (any case, with or without separators)."""
    columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
    spellings = sorted(
        {
            v
            for d in device_ids
            if d.strip("0-")
            for v in (d.lower(), d.upper(), d.replace("-", "").lower(), d.replace("-", "").upper())
        }
    )
    leaks = []
    for column in columns:
        value = f'CAST("{column.replace(chr(34), chr(34) * 2)}" AS VARCHAR)'
        for kind, pattern in PATTERNS.items():
            rows = con.execute(
                f"SELECT {value} FROM {relation} WHERE regexp_matches({value}, ?) LIMIT 1", [pattern]
            ).fetchall()
            if rows:
                leaks.append(Leak(relation, column, kind, rows[0][0][:80]))
        if spellings:
            rows = con.execute(
                f"SELECT {value} FROM {relation} "
                f"WHERE len(list_filter(?, lambda d: contains({value}, d))) > 0 LIMIT 1",
                [spellings],
            ).fetchall()
            if rows:
                leaks.append(Leak(relation, column, "device_id", rows[0][0][:80]))
    return leaks


def relations(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    return [
        f'"{schema}"."{name}"'
        for (name,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY 1", [schema]
        ).fetchall()
    ]
