"""The restricted ``privacy`` schema: the audit of deletion requests and the suppression list.

Nothing here holds personal data in clear: identifiers and record keys are stored as salted
SHA-256 hashes, so the list can say "this record was deleted" without saying whose it was."""

from __future__ import annotations

import duckdb

from assets.common.sql import fetch_value, table_exists

SCHEMA = "privacy"
AUDIT = f"{SCHEMA}.forget_audit"
SUPPRESSED_RECORDS = f"{SCHEMA}.suppressed_records"


def ensure_privacy_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    con.execute(f"""
        CREATE TABLE IF NOT EXISTS {AUDIT} (
            request_id VARCHAR, requested_at TIMESTAMP, identifier_kind VARCHAR, identifier_hash VARCHAR,
            people INTEGER, table_name VARCHAR, rows_deleted BIGINT)""")
    con.execute(f"""
        CREATE TABLE IF NOT EXISTS {SUPPRESSED_RECORDS} (
            -- sha256(salt || feed || '|' || record id) of every deleted raw row: loading it again is refused
            record_hash VARCHAR PRIMARY KEY, request_id VARCHAR)""")


def record_hash_sql(salt_param: str, feed_sql: str, record_id_sql: str) -> str:
    """SQL for the suppression hash of a raw row; the salt is always a bound parameter."""
    return f"sha256({salt_param} || {feed_sql} || '|' || CAST({record_id_sql} AS VARCHAR))"


def has_suppressions(con: duckdb.DuckDBPyConnection) -> bool:
    return (
        table_exists(con, SCHEMA, SUPPRESSED_RECORDS.split(".")[1])
        and fetch_value(con, f"SELECT count(*) FROM {SUPPRESSED_RECORDS}") > 0
    )


FULL_WIDTH = "'０１２３４５６７８９＠．', '0123456789@.'"


def identifier_key_sql(kind: str, value_sql: str) -> str:
    """A comparable key for an identifier value, so that a request for ``13800138000`` finds
    ``+86 138-0013-8000`` and ``１３８００１３８０００``. Deliberately looser than staging's
    normalisation: a deletion must find every spelling, and a false match is bounded by the kind."""
    plain = f"translate(CAST({value_sql} AS VARCHAR), {FULL_WIDTH})"
    if kind == "mobile":
        return (
            f"nullif(regexp_extract(regexp_replace({plain}, '[^0-9]', '', 'g'), "
            f"'^(?:0086|86)?(1[3-9][0-9]{{9}})$', 1), '')"
        )
    if kind == "email":
        return f"nullif(lower(regexp_replace({plain}, '\\s', '', 'g')), '')"
    return f"nullif(upper(regexp_replace({plain}, '[\\s\\-_:.]', '', 'g')), '')"
