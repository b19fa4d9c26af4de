"""The warehouse tables that make ingestion auditable: the file ledger (what was loaded, when, with
which checksum and row counts) and the quarantine (every row not loaded, with its reason)."""

from __future__ import annotations

import duckdb

from assets.ingest.sql import fetch_one

RAW = "raw"
LEDGER = "raw._files"
QUARANTINE = "raw._quarantine"


def ensure_ledger(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW}")
    con.execute(f"""
        CREATE TABLE IF NOT EXISTS {LEDGER} (
            file_id VARCHAR, feed VARCHAR, partition DATE, path VARCHAR, size_bytes BIGINT, sha256 VARCHAR,
            status VARCHAR, reason VARCHAR, encoding VARCHAR, extra_columns VARCHAR[],
            rows_in BIGINT, rows_loaded BIGINT, rows_quarantined BIGINT, loaded_at TIMESTAMP)""")
    con.execute(f"""
        CREATE TABLE IF NOT EXISTS {QUARANTINE} (
            feed VARCHAR, path VARCHAR, partition DATE, row_number BIGINT, reason VARCHAR,
            raw_record VARCHAR, quarantined_at TIMESTAMP)""")


def ledger_entry(con: duckdb.DuckDBPyConnection, feed: str, sha256: str) -> tuple[str, str] | None:
    """The (path, status) under which this content was first recorded for the feed, if ever."""
    row = fetch_one(con, f"SELECT path, status FROM {LEDGER} WHERE feed = ? AND sha256 = ? ORDER BY loaded_at LIMIT 1",
                    [feed, sha256])
    return (row[0], row[1]) if row else None
