"""Each kind of bad partner file ends in loaded or quarantined rows with a reason, never a crash:
rows in = loaded + quarantined, per file."""

from datetime import date
from pathlib import Path

import duckdb
import pytest

from assets.ingest.feeds import feeds_config
from assets.ingest.loader import load_feed_files
from assets.ingest.partitions import partition_files
from tests.bad_inputs import BAD_INPUTS, CONTROL, EVIL, HUGE, BadInput


def load_case(tmp_path: Path, case: BadInput) -> tuple[duckdb.DuckDBPyConnection, dict]:
    landing = tmp_path / "landing"
    target = case.write(landing).relative_to(landing).as_posix()
    feed = feeds_config().feeds[case.feed]
    day = date.fromisoformat(case.day)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    loads = {
        f.path: f
        for f in load_feed_files(con, feed, [(p, day) for p in partition_files(landing, feed, day)], landing)
    }
    return con, loads[target]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[c.kind for c in BAD_INPUTS])
def test_every_bad_input_is_accounted_for(tmp_path, case):
    con, load = load_case(tmp_path, case)
    assert (load.status, load.rows_in, load.rows_loaded, load.rows_quarantined) == (
        case.status,
        case.rows_in,
        case.loaded,
        case.quarantined,
    )
    assert load.rows_in == load.rows_loaded + load.rows_quarantined
    quarantined = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE reason IS NULL OR reason = '') "
        "FROM raw._quarantine WHERE path = ?",
        [load.path],
    ).fetchall()[0]
    assert quarantined == (case.quarantined, 0)
    ledger = con.execute(
        "SELECT rows_in, rows_loaded, rows_quarantined FROM raw._files WHERE path = ?", [load.path]
    ).fetchall()
    assert ledger == [(case.rows_in, case.loaded, case.quarantined)]


def values(tmp_path: Path, kind: str, sql: str) -> list[tuple]:
    con, _ = load_case(tmp_path, next(c for c in BAD_INPUTS if c.kind == kind))
    return con.execute(sql).fetchall()


def test_encodings_decode_to_the_same_text(tmp_path):
    assert values(tmp_path / "a", "GBK", "SELECT customer_name FROM raw.pos_transactions ORDER BY 1") == [
        ("李娜",),
        ("王芳",),
    ]
    assert values(
        tmp_path / "b", "GB18030 (4-byte characters)", "SELECT receiver_name FROM raw.ecommerce_orders"
    ) == [("王𠀀",)]
    assert values(
        tmp_path / "c", "utf-8 with BOM", "SELECT order_id, receiver_name FROM raw.ecommerce_orders"
    ) == [("B-BOM1", "刘洋")]


def test_odd_values_are_kept_exactly(tmp_path):
    assert values(
        tmp_path / "a",
        "quoted newlines",
        "SELECT customer_name, store_id FROM raw.pos_transactions ORDER BY txn_id",
    ) == [("王\n芳", "S01"), (None, 'S01,"x"\n')]
    assert values(tmp_path / "b", "huge field", "SELECT customer_name FROM raw.pos_transactions") == [(HUGE,)]
    assert values(tmp_path / "c", "control characters", "SELECT customer_name FROM raw.pos_transactions") == [
        (CONTROL,)
    ]
    assert values(
        tmp_path / "d", "SQL-looking strings", "SELECT customer_name FROM raw.pos_transactions"
    ) == [(EVIL,)]
    assert values(
        tmp_path / "e",
        "reordered columns",
        "SELECT txn_id, amount, store_id FROM raw.pos_transactions ORDER BY 1",
    ) == [("B-RE1", 77.0, "S01"), ("B-RE2", 77.0, "S01")]


def test_extra_columns_are_kept_aside_with_their_record(tmp_path):
    assert values(
        tmp_path,
        "extra columns",
        "SELECT path, row_number, record_id, column_name, value FROM raw._extra_columns ORDER BY column_name",
    ) == [
        ("pos_transactions/2026-05-01/bad_extra.csv", 1, "B-EX1", "loyalty_tier", "gold"),
        ("pos_transactions/2026-05-01/bad_extra.csv", 1, "B-EX1", "notes", "vip"),
    ]


def test_extra_columns_policy_drop_only_reports_them(tmp_path):
    from dataclasses import replace

    landing = tmp_path / "landing"
    case = next(c for c in BAD_INPUTS if c.kind == "extra columns")
    path = case.write(landing)
    feed = replace(feeds_config().feeds["pos_transactions"], extra_columns="drop")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    [load] = load_feed_files(con, feed, [(path, date.fromisoformat(case.day))], landing)
    assert load.extra_columns == ["loyalty_tier", "notes"] and load.rows_loaded == 1
    assert con.execute("SELECT count(*) FROM raw._extra_columns").fetchall() == [(0,)]


def test_reasons_say_what_is_wrong(tmp_path):
    reasons = {r for (r,) in values(tmp_path / "a", "impossible dates", "SELECT reason FROM raw._quarantine")}
    assert reasons == {
        "txn_time: cannot read 2026-02-30 10:00:00 as timestamp",
        "txn_time: cannot read 2026-13-01 25:61:00 as timestamp",
    }
    [(reason,)] = set(values(tmp_path / "b", "missing required column", "SELECT reason FROM raw._quarantine"))
    assert reason == "file is missing required column(s): amount"
    [(reason,)] = values(tmp_path / "c", "truncated last line", "SELECT reason FROM raw._quarantine")
    assert reason.startswith("expected 15 fields, found")
