"""Shared helpers for the metadata every materialisation carries (row counts, previews)."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
import duckdb

from assets.ingest.sql import fetch_one, table


def row_count(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> int:
    return fetch_one(con, f"SELECT count(*) FROM {table(schema, name)}")[0]


def markdown_table(rows: Sequence[dict], limit: int = 30) -> dg.MetadataValue:
    """A small Markdown table for the Dagster UI; long lists are cut with a note."""
    if not rows:
        return dg.MetadataValue.md("_none_")
    headers = list(rows[0])
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(r[h]).replace("|", "\\|") for h in headers) + " |" for r in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"\n_{len(rows) - limit} more not shown_")
    return dg.MetadataValue.md("\n".join(lines))
