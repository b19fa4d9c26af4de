"""Find personal data in clear in tables: China mobiles, emails, 18-digit national ids, device ids.

Patterns refuse to match inside longer alphanumeric runs, so salted hashes (hex) and masked values
(138****8000, z***@qq.com) never count; any real value does. DuckDB's RE2 has no look-around,
hence the explicit non-alphanumeric borders."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

_EDGE_L, _EDGE_R = "(^|[^0-9A-Za-z])", "($|[^0-9A-Za-z])"
PATTERNS = {
    "mobile": f"{_EDGE_L}1[3-9][0-9]{{9}}{_EDGE_R}",
    "email": "[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}",
    "national_id": f"{_EDGE_L}[1-9][0-9]{{16}}[0-9Xx]{_EDGE_R}",
    "device_id": f"{_EDGE_L}[0-9A-Fa-f]{{8}}-[0-9A-Fa-f]{{4}}-[0-9A-Fa-f]{{4}}-[0-9A-Fa-f]{{4}}-[0-9A-Fa-f]{{12}}{_EDGE_R}",
}


@dataclass(frozen=True)
class Leak:
    relation: str
    column: str
    kind: str
    sample: str


def scan(con: duckdb.DuckDBPyConnection, relation: str) -> list[Leak]:
    """Every (column, kind) of ``relation`` (a table name or a read_parquet(...) call) holding personal data."""
    columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
    leaks = []
    for column in columns:
        value = f'CAST("{column.replace(chr(34), chr(34) * 2)}" AS VARCHAR)'
        for kind, pattern in PATTERNS.items():
            rows = con.execute(f"SELECT {value} FROM {relation} WHERE regexp_matches({value}, ?) LIMIT 1",
                               [pattern]).fetchall()
            if rows:
                leaks.append(Leak(relation, column, kind, rows[0][0][:80]))
    return leaks


def relations(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    return [f'"{schema}"."{name}"' for (name,) in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY 1", [schema]).fetchall()]
