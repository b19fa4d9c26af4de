"""The warehouse tables that make ingestion auditable: the file ledger (what was loaded, when, with
which checksum and row counts), the quarantine (every row not loaded, with its reason) and the
values of undeclared columns, kept aside rather than lost."""

from __future__ import annotations

import duckdb

RAW = "raw"
LEDGER = "raw._files"
QUARANTINE = "raw._quarantine"
EXTRA_COLUMNS = "raw._extra_columns"


def ensure_ledger(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW}")
    con.execute(f"""
        CREATE TABLE IF NOT EXISTS {LEDGER} (
            file_id VARCHAR, feed VARCHAR, partition DATE, path VARCHAR, size_bytes BIGINT, sha256 VARCHAR,
            status VARCHAR, reason VARCHAR, encoding VARCHAR, extra_columns VARCHAR[],
            rows_in BIGINT, rows_loaded BIGINT, rows_quarantined BIGINT, loaded_at TIMESTAMP)""")
    con.execute(f"""
        CREATE TABLE IF NOT EXISTS {QUARANTINE} (
            -- row_number: the data row (1-based) for rows the reader parsed; the physical line for
            -- rows the CSV parser rejected; 0 for a file that could not be read at all
            feed VARCHAR, path VARCHAR, partition DATE, row_number BIGINT, reason VARCHAR,
            raw_record VARCHAR, quarantined_at TIMESTAMP)""")
    con.execute(f"""
        CREATE TABLE IF NOT EXISTS {EXTRA_COLUMNS} (
            -- values of columns a file carried but the feed does not declare (policy extra_columns: keep)
            feed VARCHAR, path VARCHAR, partition DATE, row_number BIGINT, record_id VARCHAR,
            column_name VARCHAR, value VARCHAR, loaded_at TIMESTAMP)""")
