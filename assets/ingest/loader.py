"""Load landing files into their ``raw`` table: type-check every declared column, quarantine the
rows that fail (with a reason), and record each file in the ledger.

Partners send thousands of small daily files, so files are read one by one but written in
batches: one typed INSERT per batch instead of per file. Each batch is one transaction covering
its rows, its quarantine and its ledger entries, so a run killed half-way leaves no partial file
behind and the next run loads the missing files again."""

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from assets.common.sql import insert_rows, table
from assets.ingest.batch import (
    declared_columns,
    ensure_raw_table,
    load_batch,
    quarantine_bad_rows,
    with_lineage,
)
from assets.ingest.feeds import FeedConfig
from assets.ingest.ledger import EXTRA_COLUMNS, LEDGER
from assets.ingest.nested import steps
from assets.ingest.readers import ROW_NUMBER, BadRow, read_bytes
from assets.ingest.values import Clock, derived_columns
from assets.privacy.suppression import SUPPRESSED_RECORDS, has_suppressions, record_hash_sql

BATCH_ROWS = 500_000


@dataclass
class FileLoad:
    """What happened to one file; ``rows_in == rows_loaded + rows_quarantined`` always holds."""

    path: str
    status: str  # loaded | already_loaded | duplicate_content | rejected | missing
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    reason: str | None = None
    encoding: str | None = None
    extra_columns: list[str] = field(default_factory=list)
    identical_rows: int = 0  # rows repeating an earlier row of the file (told apart when ids hash the row)


@dataclass
class _Pending:
    load: FileLoad
    file_id: str
    partition: date | None
    size: int
    sha256: str
    rows: pa.Table | None = None  # declared columns + _row_number, when the file is loadable
    bad_rows: list[BadRow] = field(default_factory=list)
    extras: pa.Table | None = None  # undeclared columns, long form: row number, record id, column, value


def _concat(tables: list[pa.Table]) -> pa.Table:
    """One table from files whose readers typed columns differently (CSV text, Parquet numbers…);
    when types cannot be promoted, data columns fall back to text (lineage columns start with _)."""
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        as_text = [
            t.cast(
                pa.schema([f if f.name.startswith("_") else pa.field(f.name, pa.string()) for f in t.schema])
            )
            for t in tables
        ]
        return pa.concat_tables(as_text)


def _read(
    feed: FeedConfig, file: Path, rel: str, partition: date | None, data: bytes, sha256: str
) -> _Pending:
    pending = _Pending(FileLoad(rel, "loaded"), sha256[:16], partition, len(data), sha256)
    spec = feed.file_spec(file.name)
    if spec is None:
        return _rejected(pending, f"no files pattern of feed '{feed.name}' matches {file.name}")
    result = read_bytes(data, file.name, spec)
    pending.load.encoding = result.encoding
    if result.error:
        return _rejected(pending, result.error)
    present = set(result.table.column_names) - {ROW_NUMBER}
    nested = {str(steps(path)[0]) for _, path in spec.paths}  # objects whose fields are declared by path
    pending.load.extra_columns = sorted(present - {c.name for c in feed.source_columns} - nested)
    if pending.load.extra_columns and feed.extra_columns == "keep":
        pending.extras = _extras_long(result.table, pending.load.extra_columns, feed.record_id)
    missing = [c.name for c in feed.source_columns if c.required and c.name not in present]
    if missing and result.rows_in:
        reason = f"file is missing required column(s): {', '.join(missing)}"
        pending.bad_rows = [BadRow(n, reason, "") for n in range(1, result.rows_in + 1)]
        pending.load.status, pending.load.reason = "rejected", reason
    else:
        pending.rows = declared_columns(result.table, feed.columns)
        pending.bad_rows = result.bad_rows
    pending.load.rows_in = result.rows_in
    return pending


def _as_text(column: pa.ChunkedArray) -> pa.Array:
    try:
        return column.cast(pa.string()).combine_chunks()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([None if v is None else str(v) for v in column.to_pylist()], pa.string())


def _extras_long(rows: pa.Table, extra: list[str], record_id: str) -> pa.Table:
    """The undeclared columns of a file as (row number, record id, column, value), non-empty values only."""
    rid = (
        _as_text(rows.column(record_id))
        if record_id in rows.column_names
        else pa.nulls(rows.num_rows, pa.string())
    )
    parts = [
        pa.table(
            {
                "row_number": rows.column(ROW_NUMBER).combine_chunks(),
                "record_id": rid,
                "column_name": pa.array([name] * rows.num_rows, pa.string()),
                "value": _as_text(rows.column(name)),
            }
        )
        for name in extra
    ]
    table_ = pa.concat_tables(parts)
    return table_.filter(pc.fill_null(pc.not_equal(table_.column("value"), ""), False))


def _rejected(pending: _Pending, reason: str) -> _Pending:
    """A file that cannot be read at all counts as one quarantined row, so it is never silently dropped."""
    pending.load.status, pending.load.reason, pending.load.rows_in = "rejected", reason, 1
    pending.bad_rows = [BadRow(0, reason, "")]
    return pending


def _flush(
    con: duckdb.DuckDBPyConnection,
    feed: FeedConfig,
    batch: list[_Pending],
    salt: str | None,
    timezone: str | None,
) -> None:
    if not batch:
        return
    now = datetime.now()
    con.execute("BEGIN TRANSACTION")
    try:
        loadable = [p for p in batch if p.rows is not None and p.rows.num_rows]
        counts: dict[str, tuple[int, int, int]] = {}
        if loadable:
            tables = [with_lineage(p.rows, p.file_id, i, p.partition) for i, p in enumerate(loadable)]
            counts = load_batch(
                con,
                table("raw", feed.name),
                feed.columns,
                _concat(tables),
                feed=feed.name,
                paths={p.file_id: p.load.path for p in loadable},
                record_id=feed.record_id,
                salt=salt,
                derived=derived_columns(feed, now),
                clock=Clock(partner=feed.timezone, local=timezone),
            )
        quarantine_bad_rows(con, feed.name, [(p.load.path, p.partition, p.bad_rows) for p in batch])
        for p in batch:
            loaded, quarantined, p.load.identical_rows = counts.get(p.file_id, (0, 0, 0))
            p.load.rows_loaded, p.load.rows_quarantined = loaded, quarantined + len(p.bad_rows)
            if p.extras is not None and p.extras.num_rows:
                _keep_extras(con, feed.name, p, now, salt)
        _record_in_ledger(con, feed.name, batch, now)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _record_in_ledger(
    con: duckdb.DuckDBPyConnection, feed: str, batch: list[_Pending], now: datetime
) -> None:
    """One ledger row per file of the batch, in one insert (row-by-row inserts cost seconds a day
    when a partner sends thousands of small files)."""
    loads = [p.load for p in batch]
    files = pa.table(
        {
            "file_id": pa.array([p.file_id for p in batch], pa.string()),
            "partition": pa.array([p.partition for p in batch], pa.date32()),
            "path": pa.array([load.path for load in loads], pa.string()),
            "size_bytes": pa.array([p.size for p in batch], pa.int64()),
            "sha256": pa.array([p.sha256 for p in batch], pa.string()),
            "status": pa.array([load.status for load in loads], pa.string()),
            "reason": pa.array([load.reason for load in loads], pa.string()),
            "encoding": pa.array([load.encoding for load in loads], pa.string()),
            "extra_columns": pa.array([load.extra_columns for load in loads], pa.list_(pa.string())),
            "rows_in": pa.array([load.rows_in for load in loads], pa.int64()),
            "rows_loaded": pa.array([load.rows_loaded for load in loads], pa.int64()),
            "rows_quarantined": pa.array([load.rows_quarantined for load in loads], pa.int64()),
        }
    )
    select = (
        "file_id, $feed, partition, path, size_bytes, sha256, status, reason, encoding, "
        "extra_columns, rows_in, rows_loaded, rows_quarantined, $now"
    )
    insert_rows(con, LEDGER, files, select, {"feed": feed, "now": now})


def _keep_extras(
    con: duckdb.DuckDBPyConnection, feed: str, pending: _Pending, now: datetime, salt: str | None
) -> None:
    """Store a file's undeclared column values, except those of records deleted on request."""
    params = {"feed": feed, "path": pending.load.path, "partition": pending.partition, "now": now}
    where = ""
    if salt is not None and has_suppressions(con):
        where = (
            f"WHERE {record_hash_sql('$salt', '$feed', 'record_id')} NOT IN "
            f"(SELECT record_hash FROM {SUPPRESSED_RECORDS}) OR record_id IS NULL"
        )
        params["salt"] = salt
    select = "$feed, $path, $partition, row_number, record_id, column_name, value, $now"
    insert_rows(con, EXTRA_COLUMNS, pending.extras, select, params, where)


def load_feed_files(
    con: duckdb.DuckDBPyConnection,
    feed: FeedConfig,
    files: list[tuple[Path, date]],
    landing: Path,
    batch_rows: int = BATCH_ROWS,
    salt: str | None = None,
    timezone: str | None = None,
) -> list[FileLoad]:
    """Load a feed's daily files; safe to call again with files already loaded (they are skipped).
    ``salt`` (the deployment's hash salt) turns on the suppression of records deleted on request;
    ``timezone`` is the deployment's clock, to which a partner's timestamps are converted."""
    ensure_raw_table(con, feed.name, feed.columns)
    known = {
        sha: path
        for sha, path in con.execute(
            f"SELECT sha256, min(path) FROM {LEDGER} WHERE feed = ? GROUP BY sha256", [feed.name]
        ).fetchall()
    }
    loads: list[FileLoad] = []
    batch: list[_Pending] = []
    batch_size = 0
    for file, partition in files:
        rel = file.relative_to(landing).as_posix()
        data = file.read_bytes()
        sha256 = hashlib.sha256(data).hexdigest()
        if sha256 in known:
            if known[sha256] == rel:
                loads.append(FileLoad(rel, "already_loaded"))
                continue
            pending = _Pending(
                FileLoad(
                    rel, "duplicate_content", reason=f"same content as {known[sha256]}; not loaded again"
                ),
                sha256[:16] + "-" + hashlib.sha256(rel.encode()).hexdigest()[:8],
                partition,
                len(data),
                sha256,
            )
        else:
            known[sha256] = rel
            pending = _read(feed, file, rel, partition, data, sha256)
        batch.append(pending)
        loads.append(pending.load)
        batch_size += pending.rows.num_rows if pending.rows is not None else 0
        if batch_size >= batch_rows:
            _flush(con, feed, batch, salt, timezone)
            batch, batch_size = [], 0
    _flush(con, feed, batch, salt, timezone)
    return loads


def load_feed_file(
    con: duckdb.DuckDBPyConnection,
    feed: FeedConfig,
    file: Path,
    landing: Path,
    partition: date,
    salt: str | None = None,
    timezone: str | None = None,
) -> FileLoad:
    """Load one file (see :func:`load_feed_files`)."""
    return load_feed_files(con, feed, [(file, partition)], landing, salt=salt, timezone=timezone)[0]
