"""A deployment of other partners' shapes, built by hand: five feeds in five file shapes about
three people whose answers are known by construction. Used to prove, through whole runs, that a
deployment is onboarded by configuration alone (no reshaping scripts, no generator).

- Wang Fang: member M001 in the Excel member list (title row), in the fixed-width CRM extract, in
  the headerless space-aligned till log (by card), a nested-JSON app order (+86 mobile) and a
  registration without timestamp (mobile with dashes).
- Li Na: member M002 in the member list and the till log; an app order with her mobile.
- Chen Lan: only a registration.
Bad rows (a malformed date, a short line, a non-object JSON record) must be quarantined."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import shutil
from pathlib import Path

import xlsxwriter

from assets.common.paths import CONFIG_DIR

DAY = "2026-05-01"

FEEDS = """
feeds:
  till_log:
    description: A store till's daily log, no header, space-aligned, compact dates, no transaction id.
    kind: orders
    channel: offline
    files: [{pattern: "*.txt", format: csv, delimiter: whitespace, header: false}]
    timestamp: sold_on
    columns:
      member_card: varchar
      sold_on: {type: date, format: "%Y%m%d", required: true}
      quantity: integer
      amount: {type: double, required: true}
    canonical: {amount: amount, quantity: quantity}
    identity: {member_card: member_id}

  member_list:
    description: The CRM's member master, an Excel sheet with a title row.
    kind: people
    channel: offline
    files: [{pattern: "*.xlsx", format: xlsx, skip_rows: 1}]
    record_id: card
    columns:
      card: {type: varchar, required: true}
      name: varchar
      mobile: varchar
      birth_date: {type: date, format: ["%Y%m%d", excel]}
      vip: boolean
    identity: {card: member_id, name: person_name, mobile: mobile, birth_date: birth_date}

  registrations:
    description: Event registrations, no timestamp per row.
    kind: people
    channel: offline
    files: [{pattern: "*.csv", format: csv}]
    columns:
      name: varchar
      mobile: {type: varchar, required: true}
      city: varchar
      gender: {type: varchar, map: {男: male, 女: female}}
    identity: {name: person_name, mobile: mobile, city: city, gender: gender}

  app_orders:
    description: Mini-program orders from the partner's API, nested JSON, gzip, epoch milliseconds in UTC.
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
      sku: {type: varchar, path: "items[0].sku"}
      total: {type: double, thousands: ","}
    canonical: {amount: total, product_id: sku, platform: {const: mini_program}}
    identity: {mobile: mobile}

  crm_extract:
    description: A mainframe CRM extract in fixed-width columns.
    kind: people
    channel: offline
    files: [{pattern: "*.dat", format: fixed_width, widths: [6, 12, 11], columns: [card, name, mobile]}]
    record_id: {columns: [card]}
    columns:
      card: {type: varchar, required: true}
      name: varchar
      mobile: varchar
    identity: {card: member_id, name: person_name, mobile: mobile}
"""

TRUE_PEOPLE = {"wang": 5 + 2, "li": 3 + 1, "chen": 1}  # identity records per person (till rows count each)
ROWS = {
    "till_log": (6, 4, 2),
    "member_list": (2, 2, 0),
    "registrations": (2, 2, 0),
    "app_orders": (3, 2, 1),
    "crm_extract": (2, 1, 1),
}  # rows in, loaded, quarantined per feed


def write_deployment(config_dir: Path, feeds_yaml: str = FEEDS) -> Path:
    """A whole config folder: the shipped settings (not their feed suites) with this deployment's feeds."""
    config_dir.mkdir(parents=True, exist_ok=True)
    for settings in CONFIG_DIR.glob("*.yaml"):
        shutil.copyfile(settings, config_dir / settings.name)
    (config_dir / "feeds.yaml").write_text(feeds_yaml, encoding="utf-8")
    return config_dir


def _member_workbook() -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer)
    sheet = book.add_worksheet("会员")
    sheet.write(0, 0, "会员名单（2026年5月）")
    sheet.write_row(1, 0, ["card", "name", "mobile", "birth_date", "vip"])
    sheet.write_row(2, 0, ["M001", "王芳", "13800138000", "19560409", "是"])
    sheet.write_row(3, 0, ["M002", "李娜"])
    sheet.write_number(3, 2, 13912345678)
    sheet.write_number(3, 3, 25000)
    sheet.write(3, 4, "否")
    book.close()
    return buffer.getvalue()


def _app_orders() -> bytes:
    created = int(dt.datetime(2026, 5, 1, 2, 0, tzinfo=dt.UTC).timestamp() * 1000)
    orders = [
        {
            "id": "A1",
            "created": created,
            "buyer": {"mobile": "+86 138 0013 8000"},
            "items": [{"sku": "P1"}],
            "total": "1,280.00",
        },
        {"id": "A2", "created": created, "buyer": {"mobile": "13912345678"}, "items": [], "total": 99},
        ["not", "an", "order"],
    ]
    return gzip.compress(json.dumps({"data": {"orders": orders}}, ensure_ascii=False).encode())


def write_landing(landing: Path) -> None:
    files = {
        "till_log/till_0501.txt": (
            "M001    20260501   1   59.00\nM001    20260501   1   59.00\n"
            "M002    20260501   2  120.50\nM001    2026050x   1   10.00\n"
            "M002    20260501   1   30.00\nM002    20260501\n"
        ).encode("gb18030"),
        "member_list/members.xlsx": _member_workbook(),
        "registrations/signups.csv": (
            "name,mobile,city,gender\n王芳,138-0013-8000,上海,女\n陈兰,13655551234,北京,女\n"
        ).encode("utf-8-sig"),
        "app_orders/orders.json.gz": _app_orders(),
        "crm_extract/crm.dat": "".join(
            f"{card:6}{name:12}{mobile}\n"
            for card, name, mobile in [("M001", "王芳", "13800138000"), ("", "无卡", "13700001111")]
        ).encode("gb18030"),
    }
    for relative, content in files.items():
        feed, name = relative.split("/")
        path = landing / feed / DAY / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
