"""Retention (PIPL: keep personal data no longer than needed): raw rows older than their feed's
``retention_days`` are deleted, with what they left in the quarantine and the kept-aside columns.

Age is counted from the delivery day (the row's partition), so a late file does not keep old
data alive. Derived layers are rebuilt from raw by the next run (the incremental staging models
in full, since rows went: pipelines/dbt_builds.py), so the rows disappear from staging, identity
and the marts with it; the ledger keeps each file's entry (without content) so the file is not
loaded again. Each deletion is audited like a deletion on request: which feed, the
cutoff, the table and the row count, never a value."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import duckdb

from assets.common.sql import fetch_value, table, table_exists
from assets.ingest.ledger import EXTRA_COLUMNS, QUARANTINE
from assets.privacy.suppression import ensure_privacy_tables

RETENTION_AUDIT = "privacy.retention_audit"


@dataclass
class RetentionReport:
    run_id: str
    deleted: dict[str, dict[str, int]] = field(default_factory=dict)  # feed -> table -> rows
    cutoffs: dict[str, date] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(n for tables in self.deleted.values() for n in tables.values())


def ensure_retention_audit(con: duckdb.DuckDBPyConnection) -> None:
    ensure_privacy_tables(con)
    con.execute(f"""CREATE TABLE IF NOT EXISTS {RETENTION_AUDIT} (
        run_id VARCHAR, applied_at TIMESTAMP, feed VARCHAR, retention_days INTEGER, cutoff DATE,
        table_name VARCHAR, rows_deleted BIGINT)""")


def _delete(con: duckdb.DuckDBPyConnection, target: str, where: str, params: list[object]) -> int:
    count = fetch_value(con, f"SELECT count(*) FROM {target} WHERE {where}", params)
    if count:
        con.execute(f"DELETE FROM {target} WHERE {where}", params)
    return int(count)


def apply_retention(
    con: duckdb.DuckDBPyConnection,
    limits: dict[str, int],
    today: date | None = None,
    run_id: str | None = None,
) -> RetentionReport:
    """Delete the raw rows of each feed in ``limits`` (feed → days) delivered before today minus
    its days, in one transaction, and audit what went."""
    today = today or date.today()
    report = RetentionReport(run_id or uuid.uuid4().hex)
    ensure_retention_audit(con)
    con.execute("BEGIN TRANSACTION")
    try:
        for feed, days in sorted(limits.items()):
            cutoff = today - timedelta(days=days)
            report.cutoffs[feed] = cutoff
            deleted: dict[str, int] = {}
            if table_exists(con, "raw", feed):
                deleted[f"raw.{feed}"] = _delete(con, table("raw", feed), "_partition < ?", [cutoff])
            for side in (QUARANTINE, EXTRA_COLUMNS):
                if table_exists(con, *side.split(".")):
                    deleted[side] = _delete(con, side, "feed = ? AND partition < ?", [feed, cutoff])
            report.deleted[feed] = deleted
            con.executemany(
                f"INSERT INTO {RETENTION_AUDIT} VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    [report.run_id, datetime.now(), feed, days, cutoff, name, rows]
                    for name, rows in deleted.items()
                ],
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return report
