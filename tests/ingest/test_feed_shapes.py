"""Deliveries shaped the way other partners send them, loaded by declaration alone: each test
builds its files by hand, declares the feed in YAML and checks what the loader kept and why."""

import datetime as dt
import gzip
import io
import json
import zipfile
from datetime import date
from pathlib import Path

import duckdb
import pytest
import xlsxwriter

from assets.ingest.loader import load_feed_files
from tests.ingest.feed_yaml import feed_from_yaml

DAY = date(2026, 5, 1)


@pytest.fixture
def con(tmp_path):
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield connection
    connection.close()


def deliver(tmp_path: Path, feed: str, name: str, content: bytes) -> tuple[Path, Path]:
    landing = tmp_path / "landing"
    path = landing / feed / DAY.isoformat() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return landing, path


def load(con, feed, landing: Path, path: Path, timezone: str | None = "Asia/Shanghai"):
    return load_feed_files(con, feed, [(path, DAY)], landing, timezone=timezone)[0]


def rows(con, feed: str, columns: str) -> list[tuple]:
    return con.execute(f"SELECT {columns} FROM raw.{feed} ORDER BY _row_number").fetchall()


def reasons(con) -> dict[int, str]:
    return dict(con.execute("SELECT row_number, reason FROM raw._quarantine").fetchall())


TXLOG = """
  txlog:
    kind: orders
    channel: offline
    files: [{pattern: "*.txt", format: csv, delimiter: whitespace, header: false}]
    timestamp: txn_date
    columns:
      customer_id: {type: varchar, required: true}
      txn_date: {type: date, format: "%Y%m%d", required: true}
      quantity: integer
      amount: {type: double, required: true}
    canonical: {amount: amount, quantity: quantity}
"""
TXLOG_TEXT = """00001   19970101   1   11.77
00001   19970118   2   17.96
00002   19970112   1   12.00
00002   19970112   1   12.00
00003   1997013x   1    5.00
00004   19970201   1
"""


def test_headerless_space_aligned_log_with_compact_dates_and_no_ids(tmp_path, con):
    feed = feed_from_yaml(tmp_path, TXLOG, "txlog")
    landing, path = deliver(tmp_path, "txlog", "cdnow.txt", TXLOG_TEXT.encode())
    result = load(con, feed, landing, path)
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (6, 4, 2)
    assert result.identical_rows == 1
    loaded = rows(con, "txlog", "customer_id, txn_date, amount, _record_id")
    assert [r[:3] for r in loaded] == [
        ("00001", date(1997, 1, 1), 11.77),
        ("00001", date(1997, 1, 18), 17.96),
        ("00002", date(1997, 1, 12), 12.0),
        ("00002", date(1997, 1, 12), 12.0),
    ]
    ids = [r[3] for r in loaded]
    assert len(set(ids)) == 4 and ids[3] == ids[2] + "-2"
    assert reasons(con) == {
        5: "txn_date: cannot read 1997013x as date (%Y%m%d)",
        6: "expected 4 fields, found 3",
    }
    again = duckdb.connect(str(tmp_path / "again.duckdb"))  # the same file loaded elsewhere: the same ids
    load(again, feed, landing, path)
    assert [r[3] for r in rows(again, "txlog", "customer_id, txn_date, amount, _record_id")] == ids
    again.close()


MEMBERS = """
  members:
    kind: people
    channel: offline
    files: [{pattern: "*.xlsx", format: xlsx, skip_rows: 1, skip_footer: 1}]
    record_id: card
    columns:
      card: {type: varchar, required: true}
      name: varchar
      mobile: varchar
      birth_date: {type: date, format: ["%Y%m%d", "%Y-%m-%d", excel]}
      joined: {type: timestamp, format: ["%Y-%m-%d %H:%M:%S", excel]}
      points: {type: integer, thousands: ","}
      vip: boolean
      level: {type: varchar, map: {"1": gold, "2": silver}}
    identity: {card: member_id, name: person_name, mobile: mobile, birth_date: birth_date}
"""


def member_workbook() -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer)
    sheet = book.add_worksheet("会员")
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write(0, 0, "会员名单（2026年5月）")
    for col, name in enumerate(["card", "name", "mobile", "birth_date", "joined", "points", "vip", "level"]):
        sheet.write(1, col, name)
    sheet.write_row(2, 0, ["M001", "王芳", "13800138000", "19560409"])
    sheet.write_datetime(2, 4, dt.datetime(2026, 5, 1, 9, 30), day)
    sheet.write_row(2, 5, ["1,234", "是", "1"])
    sheet.write_row(3, 0, ["M002", "李娜"])
    sheet.write_number(3, 2, 13912345678)
    sheet.write_number(3, 3, 25000)
    sheet.write_number(3, 4, 46143.5)
    sheet.write_row(3, 5, ["12", "否", "2"])
    sheet.write_row(4, 0, ["M003", "赵伟", "", "1990-02-30", "", "", "maybe"])
    sheet.write_row(6, 0, ["合计", "3"])
    book.close()
    return buffer.getvalue()


def test_excel_member_list_with_title_and_totals_rows(tmp_path, con):
    feed = feed_from_yaml(tmp_path, MEMBERS, "members")
    assert feed.kind == "people" and feed.identity_bearing and feed.timestamp == "_timestamp"
    landing, path = deliver(tmp_path, "members", "members.xlsx", member_workbook())
    result = load(con, feed, landing, path)
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (3, 2, 1)
    assert rows(con, "members", "card, mobile, birth_date, joined, points, vip, level, _timestamp") == [
        (
            "M001",
            "13800138000",
            date(1956, 4, 9),
            dt.datetime(2026, 5, 1, 9, 30),
            1234,
            True,
            "gold",
            dt.datetime(2026, 5, 1),
        ),
        (
            "M002",
            "13912345678",
            date(1968, 6, 11),
            dt.datetime(2026, 5, 1, 12),
            12,
            False,
            "silver",
            dt.datetime(2026, 5, 1),
        ),
    ]
    reason = reasons(con)[3]
    assert "birth_date: cannot read 1990-02-30 as date (%Y%m%d / %Y-%m-%d / excel)" in reason
    assert "vip: cannot read maybe as boolean" in reason


ORDERS_JSON = """
  app_orders:
    kind: orders
    channel: online
    files: [{pattern: "*.json.gz", format: json, records_path: data.orders}]
    record_id: id
    timestamp: created
    timezone: UTC
    columns:
      id: {type: varchar, required: true}
      created: {type: timestamp, format: epoch_ms, required: true}
      mobile: {type: varchar, path: buyer.mobile}
      city: {type: varchar, path: buyer.address.city}
      sku: {type: varchar, path: "items[0].sku"}
      total: {type: double, decimal: ".", thousands: ","}
    canonical: {amount: total, product_id: sku}
    identity: {mobile: mobile, city: city}
"""


def test_nested_json_orders_gzipped_with_epoch_times_and_currency(tmp_path, con):
    feed = feed_from_yaml(tmp_path, ORDERS_JSON, "app_orders")
    document = {
        "data": {
            "orders": [
                {
                    "id": "A1",
                    "created": 1777595400000,
                    "buyer": {"mobile": "13800138000", "address": {"city": "上海"}},
                    "items": [{"sku": "P1"}, {"sku": "P2"}],
                    "total": "¥1,234.50",
                },
                {"id": "A2", "created": 1777595400000, "buyer": {}, "items": [], "total": 88},
                {"id": "A3", "created": "yesterday", "buyer": None, "total": "12"},
                "not an order",
            ]
        }
    }
    landing, path = deliver(
        tmp_path,
        "app_orders",
        "orders.json.gz",
        gzip.compress(json.dumps(document, ensure_ascii=False).encode()),
    )
    result = load(con, feed, landing, path)
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (4, 2, 2)
    assert rows(con, "app_orders", "id, created, mobile, city, sku, total") == [
        ("A1", dt.datetime(2026, 5, 1, 8, 30), "13800138000", "上海", "P1", 1234.5),
        ("A2", dt.datetime(2026, 5, 1, 8, 30), None, None, None, 88.0),
    ]
    assert reasons(con) == {
        3: "created: cannot read yesterday as timestamp (epoch_ms)",
        4: "JSON record is not an object",
    }


FIXED = """
  mainframe:
    kind: people
    channel: offline
    files: [{pattern: "*.dat", format: fixed_width, widths: [6, 12, 11, 2], columns: [card, name, mobile, _]}]
    record_id: {columns: [card]}
    timestamp: {from: load_time}
    columns:
      card: {type: varchar, required: true}
      name: varchar
      mobile: varchar
    identity: {card: member_id, name: person_name, mobile: mobile}
"""


def test_fixed_width_extract_with_ids_derived_from_columns(tmp_path, con):
    feed = feed_from_yaml(tmp_path, FIXED, "mainframe")
    lines = [
        ("C00001", "王芳", "13800138000XX"),
        ("C00002", "Li Na", "13912345678"),
        ("", "nobody", "13700000000"),
        ("C00003", "陈兰", "13600000000XX and more"),
    ]
    text = "".join(f"{card:6}{name:12}{rest}\n" for card, name, rest in lines)
    landing, path = deliver(tmp_path, "mainframe", "extract.dat", text.encode("gb18030"))
    result = load(con, feed, landing, path)
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (4, 2, 2)
    loaded = rows(con, "mainframe", "card, name, mobile, _record_id, _timestamp")
    assert [r[:3] for r in loaded] == [("C00001", "王芳", "13800138000"), ("C00002", "Li Na", "13912345678")]
    assert all(len(r[3]) == 20 and r[4] is not None for r in loaded)
    assert reasons(con)[3] == "card: required value missing"
    assert reasons(con)[4].startswith("line is 40 characters, the declared widths cover 31")


ZIPPED = """
  stores_zip:
    kind: events
    channel: offline
    files:
      - {pattern: "*.zip", format: tsv}
    record_id: visit
    timestamp: at
    timezone: Europe/Paris
    columns:
      visit: {type: varchar, required: true}
      at: {type: timestamp, format: "%d/%m/%Y %H:%M"}
      spend: {type: double, decimal: ",", thousands: " "}
    canonical: {event_type: {const: visit}}
"""


def test_zip_of_tsv_files_in_another_time_zone_with_decimal_commas(tmp_path, con):
    feed = feed_from_yaml(tmp_path, ZIPPED, "stores_zip")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.tsv", "visit\tat\tspend\nV1\t01/05/2026 10:00\t1 234,50\n")
        archive.writestr("b.tsv", "visit\tat\tspend\nV2\t02/05/2026 23:30\t€ 7,25\nV3\t2026-05-02\t1\n")
    landing, path = deliver(tmp_path, "stores_zip", "visits.zip", buffer.getvalue())
    result = load(con, feed, landing, path)
    assert (result.rows_in, result.rows_loaded, result.rows_quarantined) == (3, 2, 1)
    assert rows(con, "stores_zip", 'visit, "at", spend') == [
        ("V1", dt.datetime(2026, 5, 1, 16, 0), 1234.5),
        ("V2", dt.datetime(2026, 5, 3, 5, 30), 7.25),
    ]
    assert reasons(con) == {3: "at: cannot read 2026-05-02 as timestamp (%d/%m/%Y %H:%M)"}


def test_a_broken_archive_is_one_quarantined_row_with_the_reason(tmp_path, con):
    feed = feed_from_yaml(tmp_path, ORDERS_JSON, "app_orders")
    landing, path = deliver(tmp_path, "app_orders", "orders.json.gz", b"not gzip at all")
    result = load(con, feed, landing, path)
    assert (result.status, result.rows_in, result.rows_quarantined) == ("rejected", 1, 1)
    assert result.reason.startswith("gzip archive could not be opened")


def test_a_timestamp_taken_from_the_delivery_day_is_not_moved_by_the_partner_clock(tmp_path, con):
    feed = feed_from_yaml(
        tmp_path,
        """
  signups:
    kind: people
    files: [{pattern: "*.csv", format: csv}]
    timezone: UTC
    columns: {mobile: varchar}
    identity: {mobile: mobile}
""",
        "signups",
    )
    landing, path = deliver(tmp_path, "signups", "s.csv", b"mobile\n13800138000\n")
    load(con, feed, landing, path)
    assert rows(con, "signups", "_timestamp") == [(dt.datetime(2026, 5, 1),)]
