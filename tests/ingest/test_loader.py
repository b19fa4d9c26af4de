from datetime import date
from pathlib import Path

import duckdb
import pytest

from assets.ingest.batch import ensure_raw_table
from assets.ingest.feeds import feeds_config
from assets.ingest.loader import load_feed_file
from tests.landing_builder import pos, write_csv

DAY = date(2026, 5, 1)
HEADER_ROW = pos("T0")


@pytest.fixture
def con(tmp_path):
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_raw_table(connection, "pos_transactions", feeds_config().feeds["pos_transactions"].columns)
    yield connection
    connection.close()


def load(con, path: Path, landing: Path):
    return load_feed_file(con, feeds_config().feeds["pos_transactions"], path, landing, DAY)


def landing_file(tmp_path: Path, rows: list[dict], name: str = "pos.csv", encoding: str = "gbk") -> Path:
    return write_csv(tmp_path / "landing" / "pos_transactions" / DAY.isoformat() / name, rows, encoding)


def counts(con) -> tuple[int, int]:
    loaded = con.execute("SELECT count(*) FROM raw.pos_transactions").fetchall()[0][0]
    quarantined = con.execute("SELECT count(*) FROM raw._quarantine").fetchall()[0][0]
    return loaded, quarantined


def test_bad_values_are_quarantined_with_reasons_and_rows_add_up(con, tmp_path):
    rows = [
        pos("T1"),
        {**pos("T2"), "quantity": "abc"},
        {**pos("T3"), "txn_time": "2026-02-30 10:00:00"},
        {**pos("T4"), "amount": ""},
        pos("T1"),
    ]
    load_result = load(con, landing_file(tmp_path, rows), tmp_path / "landing")
    assert (load_result.rows_in, load_result.rows_loaded, load_result.rows_quarantined) == (5, 1, 4)
    reasons = dict(con.execute("SELECT row_number, reason FROM raw._quarantine").fetchall())
    assert reasons[2] == "quantity: cannot read abc as integer"
    assert reasons[3].startswith("txn_time: cannot read 2026-02-30")
    assert reasons[4] == "amount: required value missing"
    assert reasons[5] == "duplicate record id in this partition"
    ledger = con.execute("SELECT rows_in, rows_loaded, rows_quarantined, status FROM raw._files").fetchall()
    assert ledger == [(5, 1, 4, "loaded")]


def test_typed_values_land_in_raw(con, tmp_path):
    load(
        con,
        landing_file(tmp_path, [{**pos("T1", "+86 139 1234 5678", amount=12.5), "quantity": "3"}]),
        tmp_path / "landing",
    )
    row = con.execute(
        "SELECT txn_id, mobile, quantity, amount, txn_time FROM raw.pos_transactions"
    ).fetchall()[0]
    assert row[:4] == ("T1", "+86 139 1234 5678", 3, 12.5) and row[4].year == 2026


def test_loading_the_same_file_again_loads_nothing(con, tmp_path):
    path = landing_file(tmp_path, [pos("T1"), pos("T2")])
    assert load(con, path, tmp_path / "landing").status == "loaded"
    assert load(con, path, tmp_path / "landing").status == "already_loaded"
    assert counts(con) == (2, 0)
    assert con.execute("SELECT count(*) FROM raw._files").fetchall()[0][0] == 1


def test_same_content_under_another_name_is_recorded_not_loaded(con, tmp_path):
    first = landing_file(tmp_path, [pos("T1")], "a.csv")
    second = landing_file(tmp_path, [pos("T1")], "b.csv")
    load(con, first, tmp_path / "landing")
    result = load(con, second, tmp_path / "landing")
    assert result.status == "duplicate_content" and "a.csv" in result.reason
    assert counts(con) == (1, 0)


def test_a_file_missing_a_required_column_is_quarantined_whole(con, tmp_path):
    rows = [{k: v for k, v in pos(f"T{i}").items() if k != "amount"} for i in range(3)]
    result = load(con, landing_file(tmp_path, rows), tmp_path / "landing")
    assert result.status == "rejected" and "amount" in result.reason
    assert counts(con) == (0, 3)


def test_extra_columns_are_reported_and_a_file_no_pattern_matches_is_rejected(con, tmp_path):
    result = load(con, landing_file(tmp_path, [{**pos("T1"), "loyalty_tier": "gold"}]), tmp_path / "landing")
    assert result.extra_columns == ["loyalty_tier"] and result.rows_loaded == 1
    stray = tmp_path / "landing" / "pos_transactions" / DAY.isoformat() / "notes.txt"
    stray.write_text("hello", encoding="utf-8")
    rejected = load(con, stray, tmp_path / "landing")
    assert rejected.status == "rejected" and rejected.rows_quarantined == 1


def test_sql_looking_values_and_column_names_are_data(con, tmp_path):
    evil = "x'); DROP TABLE raw.pos_transactions; --"
    load(
        con,
        landing_file(tmp_path, [{**pos("T1"), "customer_name": evil, 'weird"col': evil}]),
        tmp_path / "landing",
    )
    assert con.execute("SELECT customer_name FROM raw.pos_transactions").fetchall() == [(evil,)]
