"""Reference data (stores, products, campaigns, KOLs): small files replaced whole on every load."""

from pathlib import Path

import duckdb

from assets.common.sql import table
from assets.ingest.batch import (
    declared_columns,
    ensure_raw_table,
    load_batch,
    quarantine_bad_rows,
    with_lineage,
)
from assets.ingest.feed_spec import FileSpec
from assets.ingest.ledger import QUARANTINE
from assets.ingest.loader import FileLoad
from assets.ingest.readers import read_file
from assets.ingest.reference_tables import ReferenceTable


def load_reference(con: duckdb.DuckDBPyConnection, ref: ReferenceTable, landing: Path) -> FileLoad:
    path = landing / "reference" / ref.file
    rel = path.relative_to(landing).as_posix()
    ensure_raw_table(con, ref.name, ref.columns)
    if not path.exists():
        return FileLoad(rel, "missing", reason=f"{path} not found")
    result = read_file(path, FileSpec(pattern=ref.file, format="csv"))
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM {table('raw', ref.name)}")
        con.execute(f"DELETE FROM {QUARANTINE} WHERE path = ?", [rel])
        loaded, quarantined = 0, 0
        if result.table.num_rows:
            rows = with_lineage(declared_columns(result.table, ref.columns), ref.name, 0, None)
            loaded, quarantined, _ = load_batch(
                con,
                table("raw", ref.name),
                ref.columns,
                rows,
                feed=ref.name,
                paths={ref.name: rel},
                record_id=ref.columns[0].name,
            )[ref.name]
        quarantine_bad_rows(con, ref.name, [(rel, None, result.bad_rows)])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return FileLoad(
        rel,
        "loaded",
        result.rows_in,
        loaded,
        quarantined + len(result.bad_rows),
        result.error,
        result.encoding,
    )
