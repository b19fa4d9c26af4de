"""Load one landing file into its ``raw`` table: type-check every declared column, quarantine the
rows that fail (with a reason), and record the file in the ledger — all in one transaction, so a
run killed half-way leaves no partial file behind and the next run simply loads it again."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from assets.ingest.ledger import LEDGER, QUARANTINE, ensure_ledger, ledger_entry
from assets.ingest.readers import ROW_NUMBER, BadRow, ReadResult, read_file
from assets.ingest.sql import DUCKDB_TYPES, fetch_one, ident, literal, table
from pipelines.config import ColumnSpec, FeedConfig

LINEAGE_COLUMNS = {"_file_id": "VARCHAR", "_row_number": "BIGINT", "_partition": "DATE", "_loaded_at": "TIMESTAMP"}


@dataclass
class FileLoad:
    """What happened to one file; ``rows_in == rows_loaded + rows_quarantined`` always holds."""

    path: str
    status: str  # loaded | already_loaded | duplicate_content | rejected
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    reason: str | None = None
    encoding: str | None = None
    extra_columns: list[str] = field(default_factory=list)


def ensure_raw_table(con: duckdb.DuckDBPyConnection, name: str, columns: tuple[ColumnSpec, ...]) -> None:
    """Create the raw table, or add columns the config declares that it does not have yet."""
    ensure_ledger(con)
    target = table("raw", name)
    defs = [f"{ident(c.name)} {DUCKDB_TYPES[c.type]}" for c in columns]
    defs += [f"{ident(n)} {t}" for n, t in LINEAGE_COLUMNS.items()]
    con.execute(f"CREATE TABLE IF NOT EXISTS {target} ({', '.join(defs)})")
    existing = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = ?",
        [name]).fetchall()}
    for c in columns:
        if c.name not in existing:
            con.execute(f"ALTER TABLE {target} ADD COLUMN {ident(c.name)} {DUCKDB_TYPES[c.type]}")


def _typed_select(columns: tuple[ColumnSpec, ...], incoming: pa.Schema) -> str:
    """SELECT over ``incoming`` that casts every declared column and explains each failure."""
    values, reasons = [], []
    for c in columns:
        target_type = DUCKDB_TYPES[c.type]
        if c.name not in incoming.names:
            values.append(f"CAST(NULL AS {target_type}) AS {ident(c.name)}")
            continue
        src = ident(c.name)
        is_text = pa.types.is_string(incoming.field(c.name).type) or pa.types.is_large_string(incoming.field(c.name).type)
        clean = f"NULLIF(TRIM({src}), '')" if is_text else src
        value = f"CAST({clean} AS VARCHAR)" if c.type == "varchar" else f"TRY_CAST({clean} AS {target_type})"
        values.append(f"{value} AS {ident(c.name)}")
        if c.type != "varchar":
            reasons.append(f"CASE WHEN {clean} IS NOT NULL AND {value} IS NULL THEN "
                           f"{literal(c.name + ': cannot read ')} || left(CAST({clean} AS VARCHAR), 60) "
                           f"|| {literal(' as ' + c.type)} END")
        if c.required:
            reasons.append(f"CASE WHEN {clean} IS NULL THEN {literal(c.name + ': required value missing')} END")
    reason = f"concat_ws('; ', {', '.join(reasons)})" if reasons else "''"
    return f"SELECT {ident(ROW_NUMBER)}, {', '.join(values)}, {reason} AS _reason FROM incoming"


def load_rows(con: duckdb.DuckDBPyConnection, target: str, columns: tuple[ColumnSpec, ...], result: ReadResult,
              *, feed: str, path: str, partition: date | None, file_id: str, record_id: str | None) -> tuple[int, int]:
    """Insert valid rows into ``target`` and the rest into the quarantine; returns (loaded, quarantined).

    Must run inside the caller's transaction."""
    now = datetime.now()
    incoming = result.table
    con.register("incoming", incoming)
    try:
        checked = _typed_select(columns, incoming.schema)
        if record_id:
            rid = ident(record_id)
            checked = f"""
                SELECT t.* REPLACE (concat_ws('; ', NULLIF(t._reason, ''),
                    CASE WHEN t.{rid} IS NOT NULL AND row_number() OVER (PARTITION BY t.{rid} ORDER BY t._row_number) > 1
                         THEN 'duplicate record id in file' END,
                    CASE WHEN s._seen IS NOT NULL THEN 'record id already loaded for this partition' END) AS _reason)
                FROM ({checked}) t
                LEFT JOIN (SELECT DISTINCT {rid} AS _seen FROM {target} WHERE _partition IS NOT DISTINCT FROM $partition) s
                  ON s._seen = t.{rid}"""
        con.execute(f"CREATE OR REPLACE TEMP TABLE _checked AS {checked}",
                    {"partition": partition} if record_id else None)
        names = ", ".join(ident(c.name) for c in columns)
        con.execute(f"""INSERT INTO {target} ({names}, _file_id, _row_number, _partition, _loaded_at)
                        SELECT {names}, $file_id, _row_number, $partition, $now FROM _checked WHERE _reason = ''""",
                    {"file_id": file_id, "partition": partition, "now": now})
        con.execute(f"""INSERT INTO {QUARANTINE}
                        SELECT $feed, $path, $partition, c._row_number, c._reason, CAST(to_json(i) AS VARCHAR), $now
                        FROM _checked c JOIN incoming i USING (_row_number) WHERE c._reason <> ''""",
                    {"feed": feed, "path": path, "partition": partition, "now": now})
        quarantined = fetch_one(con, "SELECT count(*) FROM _checked WHERE _reason <> ''")[0]
        con.execute("DROP TABLE _checked")
    finally:
        con.unregister("incoming")
    quarantine_bad_rows(con, result.bad_rows, feed=feed, path=path, partition=partition)
    return incoming.num_rows - quarantined, quarantined + len(result.bad_rows)


def quarantine_bad_rows(con: duckdb.DuckDBPyConnection, rows: list[BadRow], *, feed: str, path: str,
                        partition: date | None) -> None:
    if rows:
        now = datetime.now()
        con.executemany(f"INSERT INTO {QUARANTINE} VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [[feed, path, partition, r.row_number, r.reason, r.text, now] for r in rows])


def _record(con: duckdb.DuckDBPyConnection, feed: str, partition: date | None, load: FileLoad, size: int,
            sha256: str) -> None:
    con.execute(f"INSERT INTO {LEDGER} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [sha256[:16], feed, partition, load.path, size, sha256, load.status, load.reason, load.encoding,
                 load.extra_columns, load.rows_in, load.rows_loaded, load.rows_quarantined, datetime.now()])


def load_feed_file(con: duckdb.DuckDBPyConnection, feed: FeedConfig, file: Path, landing: Path,
                   partition: date) -> FileLoad:
    """Load one file of a feed's daily folder; safe to call again for a file already loaded."""
    rel = file.relative_to(landing).as_posix()
    data = file.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    seen = ledger_entry(con, feed.name, sha256)
    if seen is not None and seen[0] == rel:
        return FileLoad(rel, "already_loaded")
    con.execute("BEGIN TRANSACTION")
    try:
        load = _load_new_file(con, feed, file, rel, partition, sha256, seen)
        _record(con, feed.name, partition, load, len(data), sha256)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return load


def _load_new_file(con: duckdb.DuckDBPyConnection, feed: FeedConfig, file: Path, rel: str, partition: date,
                   sha256: str, seen: tuple[str, str] | None) -> FileLoad:
    if seen is not None:
        return FileLoad(rel, "duplicate_content", reason=f"same content as {seen[0]}; not loaded again")
    spec = feed.file_spec(file.name)
    if spec is None:
        return _reject(con, feed, rel, partition, f"no files pattern of feed '{feed.name}' matches {file.name}")
    result = read_file(file, spec)
    if result.error:
        return _reject(con, feed, rel, partition, result.error, result.encoding)
    present = set(result.table.column_names) - {ROW_NUMBER}
    missing = [c.name for c in feed.columns if c.required and c.name not in present]
    extra = sorted(present - set(feed.column_names))
    if missing and result.rows_in:
        reason = f"file is missing required column(s): {', '.join(missing)}"
        quarantine_bad_rows(con, [BadRow(n, reason, "") for n in range(1, result.rows_in + 1)],
                            feed=feed.name, path=rel, partition=partition)
        return FileLoad(rel, "rejected", result.rows_in, 0, result.rows_in, reason, result.encoding, extra)
    loaded, quarantined = load_rows(con, table("raw", feed.name), feed.columns, result, feed=feed.name, path=rel,
                                    partition=partition, file_id=sha256[:16], record_id=feed.record_id)
    return FileLoad(rel, "loaded", result.rows_in, loaded, quarantined, None, result.encoding, extra)


def _reject(con: duckdb.DuckDBPyConnection, feed: FeedConfig, rel: str, partition: date, reason: str,
            encoding: str | None = None) -> FileLoad:
    """A file that cannot be read at all counts as one quarantined row, so it is never silently dropped."""
    quarantine_bad_rows(con, [BadRow(0, reason, "")], feed=feed.name, path=rel, partition=partition)
    return FileLoad(rel, "rejected", 1, 0, 1, reason, encoding)
