"""Write one batch of typed rows into a ``raw`` table, and the rows that fail into the quarantine.

Shared by the feeds (``loader``) and the reference tables (``reference``): every row is typed from
its declaration, checked against deletion requests and for a record id seen twice, then either
loaded with its lineage or quarantined with a reason — rows in = rows loaded + rows quarantined."""

from datetime import date, datetime

import duckdb
import pyarrow as pa

from assets.common.sql import DUCKDB_TYPES, ident, insert_rows, literal, table
from assets.ingest.feed_spec import ColumnSpec
from assets.ingest.ledger import QUARANTINE, ensure_ledger
from assets.ingest.readers import ROW_NUMBER, BadRow
from assets.ingest.values import Clock, Derived, typed_select
from assets.privacy.suppression import SUPPRESSED_RECORDS, has_suppressions, record_hash_sql

LINEAGE_COLUMNS = {
    "_file_id": "VARCHAR",
    "_row_number": "BIGINT",
    "_partition": "DATE",
    "_loaded_at": "TIMESTAMP",
}
SUPPRESSED = "suppressed: record deleted on request (privacy.suppressed_records)"


def ensure_raw_table(con: duckdb.DuckDBPyConnection, name: str, columns: tuple[ColumnSpec, ...]) -> None:
    """Create the raw table, or add columns the config declares that it does not have yet."""
    ensure_ledger(con)
    target = table("raw", name)
    defs = [f"{ident(c.name)} {DUCKDB_TYPES[c.type]}" for c in columns]
    defs += [f"{ident(n)} {t}" for n, t in LINEAGE_COLUMNS.items()]
    con.execute(f"CREATE TABLE IF NOT EXISTS {target} ({', '.join(defs)})")
    existing = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'raw' AND table_name = ?",
            [name],
        ).fetchall()
    }
    for c in columns:
        if c.name not in existing:
            con.execute(f"ALTER TABLE {target} ADD COLUMN {ident(c.name)} {DUCKDB_TYPES[c.type]}")


def with_lineage(rows: pa.Table, file_id: str, order: int, partition: date | None) -> pa.Table:
    n = rows.num_rows
    return (
        rows.append_column("_file_id", pa.array([file_id] * n, pa.string()))
        .append_column("_file_order", pa.array([order] * n, pa.int64()))
        .append_column("_partition", pa.array([partition] * n, pa.date32()))
    )


def declared_columns(rows: pa.Table, columns: tuple[ColumnSpec, ...]) -> pa.Table:
    """Exactly the declared columns (absent ones as nulls) plus the row number, in config order."""
    arrays = [
        rows.column(c.name) if c.name in rows.column_names else pa.nulls(rows.num_rows, pa.string())
        for c in columns
    ]
    return pa.table(arrays + [rows.column(ROW_NUMBER)], names=[c.name for c in columns] + [ROW_NUMBER])


def _checked_rows_sql(
    con: duckdb.DuckDBPyConnection,
    target: str,
    columns: tuple[ColumnSpec, ...],
    incoming: pa.Table,
    *,
    feed: str,
    record_id: str | None,
    salt: str | None,
    derived: Derived,
    clock: Clock,
) -> tuple[str, dict[str, object]]:
    """A query over the registered ``incoming`` rows that adds a ``_reason`` to each row that must
    be quarantined: a value that does not type, a record deleted on request, a record id seen twice
    in one partition (in this batch, or loaded before)."""
    checked = typed_select(columns, incoming.schema, derived, clock)
    params: dict[str, object] = {}
    if record_id and salt is not None and has_suppressions(con):
        params = {"salt": salt, "feed": feed}
        checked = f"""
            SELECT t.* REPLACE (CASE WHEN {record_hash_sql("$salt", "$feed", "t." + ident(record_id))}
                                          IN (SELECT record_hash FROM {SUPPRESSED_RECORDS})
                                     THEN {literal(SUPPRESSED)} ELSE t._reason END AS _reason)
            FROM ({checked}) t"""
    if record_id:
        rid = ident(record_id)
        checked = f"""
            SELECT t.* REPLACE (concat_ws('; ', NULLIF(t._reason, ''),
                CASE WHEN t.{rid} IS NOT NULL AND row_number() OVER (
                          PARTITION BY t._partition, t.{rid} ORDER BY t._file_order, t._row_number) > 1
                     THEN 'duplicate record id in this partition' END,
                CASE WHEN s._seen IS NOT NULL THEN 'record id already loaded for this partition' END
            ) AS _reason)
            FROM ({checked}) t
            LEFT JOIN (SELECT DISTINCT _partition AS _seen_partition, {rid} AS _seen FROM {target}
                       WHERE _partition IN (SELECT DISTINCT _partition FROM incoming)) s
              ON s._seen = t.{rid} AND s._seen_partition IS NOT DISTINCT FROM t._partition"""
    return checked, params


def _write_checked(
    con: duckdb.DuckDBPyConnection, target: str, columns: tuple[ColumnSpec, ...], feed: str, now: datetime
) -> None:
    """Rows of ``_checked`` without a reason into ``target``; the others into the quarantine with
    their raw values (except the content of a record deleted on request)."""
    names = ", ".join(ident(c.name) for c in columns)
    con.execute(
        f"""INSERT INTO {target} ({names}, _file_id, _row_number, _partition, _loaded_at)
                    SELECT {names}, _file_id, _row_number, _partition, $now
                    FROM _checked WHERE _reason = ''""",
        {"now": now},
    )
    raw_record = "{" + ", ".join(f"{literal(c.name)}: i.{ident(c.name)}" for c in columns) + "}"
    con.execute(
        f"""INSERT INTO {QUARANTINE}
                    SELECT $feed, p.path, c._partition, c._row_number, c._reason,
                           CASE WHEN NOT starts_with(c._reason, {literal(SUPPRESSED)})
                                THEN CAST(to_json({raw_record}) AS VARCHAR) END,
                           $now
                    FROM _checked c
                    JOIN incoming i USING (_file_id, _row_number)
                    JOIN file_paths p USING (_file_id)
                    WHERE c._reason <> ''""",
        {"feed": feed, "now": now},
    )


def load_batch(
    con: duckdb.DuckDBPyConnection,
    target: str,
    columns: tuple[ColumnSpec, ...],
    incoming: pa.Table,
    *,
    feed: str,
    paths: dict[str, str],
    record_id: str | None,
    salt: str | None = None,
    derived: Derived | None = None,
    clock: Clock | None = None,
) -> dict[str, tuple[int, int, int]]:
    """Insert valid rows of ``incoming`` (declared columns + _file_id, _file_order, _partition,
    _row_number) into ``target`` and the rest into the quarantine. A record id seen twice in one
    partition is loaded once: the first occurrence wins, in file order. Records deleted on request
    (their salted hash is in the suppression list) are quarantined without their content. Returns
    (loaded, quarantined, identical occurrences) per file id. Must run inside the caller's transaction."""
    con.register("incoming", incoming)
    con.register("file_paths", pa.table({"_file_id": list(paths), "path": list(paths.values())}))
    checked, params = _checked_rows_sql(
        con,
        target,
        columns,
        incoming,
        feed=feed,
        record_id=record_id,
        salt=salt,
        derived=derived or Derived(),
        clock=clock or Clock(),
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE _checked AS {checked}", params or None)
    _write_checked(con, target, columns, feed, datetime.now())
    counts = con.execute("""
        SELECT _file_id, count(*) FILTER (WHERE _reason = ''), count(*) FILTER (WHERE _reason <> ''),
               count(*) FILTER (WHERE _occurrence > 1)
        FROM _checked GROUP BY _file_id""").fetchall()
    con.execute("DROP TABLE _checked")
    # Registrations are per connection, not per transaction: after a failure the caller's ROLLBACK
    # is enough and the next batch replaces them.
    con.unregister("incoming")
    con.unregister("file_paths")
    return {file_id: (loaded, quarantined, identical) for file_id, loaded, quarantined, identical in counts}


def quarantine_bad_rows(
    con: duckdb.DuckDBPyConnection, feed: str, files: list[tuple[str, date | None, list[BadRow]]]
) -> None:
    """The rows readers refused, of every file of a batch (path, partition, rows), in one insert:
    a day of a thousand small till files with a few bad lines each is one statement, not a thousand."""
    flat = [(path, partition, row) for path, partition, rows in files for row in rows]
    if not flat:
        return
    bad_rows = pa.table(
        {
            "path": pa.array([path for path, _, _ in flat], pa.string()),
            "partition": pa.array([partition for _, partition, _ in flat], pa.date32()),
            "row_number": pa.array([row.row_number for _, _, row in flat], pa.int64()),
            "reason": pa.array([row.reason for _, _, row in flat], pa.string()),
            "raw_record": pa.array([row.text for _, _, row in flat], pa.string()),
        }
    )
    select = "$feed, path, partition, row_number, reason, raw_record, $now"
    insert_rows(con, QUARANTINE, bad_rows, select, {"feed": feed, "now": datetime.now()})
