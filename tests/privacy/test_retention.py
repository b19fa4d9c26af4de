"""Retention deletes exactly the raw rows delivered before each feed's limit, and audits it."""

from datetime import date

import duckdb

from assets.ingest.ledger import ensure_ledger
from assets.privacy.retention import RETENTION_AUDIT, apply_retention


def warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    ensure_ledger(con)
    con.execute("CREATE TABLE raw.shop (id VARCHAR, mobile VARCHAR, _partition DATE)")
    con.execute("CREATE TABLE raw.pos (id VARCHAR, _partition DATE)")
    days = ["2026-01-01", "2026-03-31", "2026-04-01", "2026-04-02", "2026-05-01"]
    con.executemany(
        "INSERT INTO raw.shop VALUES (?, '13800138000', ?)", [[f"s{i}", d] for i, d in enumerate(days)]
    )
    con.executemany("INSERT INTO raw.pos VALUES (?, ?)", [[f"p{i}", d] for i, d in enumerate(days)])
    con.executemany(
        "INSERT INTO raw._quarantine VALUES (?, 'f.csv', ?, 1, 'bad', '{}', now())",
        [["shop", "2026-03-01"], ["shop", "2026-04-15"], ["pos", "2026-01-01"]],
    )
    return con


def test_rows_delivered_before_the_limit_go_and_nothing_else():
    con = warehouse()
    report = apply_retention(con, {"shop": 30}, today=date(2026, 5, 1))
    assert report.cutoffs == {"shop": date(2026, 4, 1)}
    assert con.execute("SELECT id FROM raw.shop ORDER BY id").fetchall() == [("s2",), ("s3",), ("s4",)]
    assert con.execute("SELECT count(*) FROM raw.pos").fetchall() == [(5,)]  # no limit declared: kept
    assert con.execute("SELECT feed, partition FROM raw._quarantine ORDER BY ALL").fetchall() == [
        ("pos", date(2026, 1, 1)),
        ("shop", date(2026, 4, 15)),
    ]
    assert report.deleted == {"shop": {"raw.shop": 2, "raw._quarantine": 1, "raw._extra_columns": 0}}
    audit = con.execute(
        f"SELECT feed, retention_days, cutoff, table_name, rows_deleted FROM {RETENTION_AUDIT} "
        "ORDER BY table_name"
    ).fetchall()
    assert audit == [
        ("shop", 30, date(2026, 4, 1), "raw._extra_columns", 0),
        ("shop", 30, date(2026, 4, 1), "raw._quarantine", 1),
        ("shop", 30, date(2026, 4, 1), "raw.shop", 2),
    ]
    again = apply_retention(con, {"shop": 30}, today=date(2026, 5, 1))
    assert again.total == 0


def test_a_feed_never_loaded_is_not_an_error():
    con = warehouse()
    assert apply_retention(con, {"missing_feed": 7}, today=date(2026, 5, 1)).deleted == {
        "missing_feed": {"raw._quarantine": 0, "raw._extra_columns": 0}
    }
