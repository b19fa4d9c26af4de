"""``cdp feeds draft``: for each shape partners send, the draft pasted unchanged into a feeds.yaml
loads every valid row (and quarantines the rest), and finds the right identity kinds. Every file
is built by hand here; the expected rows are counted from what the test wrote."""

import datetime as dt
import gzip
import io
import json
import zipfile
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xlsxwriter
import yaml
from typer.testing import CliRunner

from assets.identity.settings import load_identity_config
from assets.ingest.draft import DraftError, draft_feed
from assets.ingest.draft_shape import aligned_columns, has_header
from assets.ingest.draft_values import draft_column
from assets.ingest.feeds import FeedConfig, load_feeds_config
from assets.ingest.loader import load_feed_files
from pipelines import cli

DAY = date(2026, 5, 1)
KINDS = set(load_identity_config().attribute_kinds)
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def national_id(first17: str) -> str:
    """An 18-digit resident id with its MOD 11-2 check character."""
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def samples(tmp_path: Path, files: dict[str, bytes]) -> list[Path]:
    folder = tmp_path / "samples"
    folder.mkdir(exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return [folder / name for name in files]


def onboard(tmp_path: Path, files: dict[str, bytes], **options) -> tuple[FeedConfig, list, dict, str]:
    """Draft from the samples, paste the draft unchanged as feeds.yaml, deliver the samples and load
    them: the feed, the file loads, the draft as YAML data and as text."""
    paths = samples(tmp_path, files)
    text = draft_feed(paths, kinds=KINDS, **options)
    config = tmp_path / "feeds.yaml"
    config.write_text(text, encoding="utf-8")
    (name,) = load_feeds_config(config, load_identity_config()).feeds
    feed = load_feeds_config(config, load_identity_config()).feeds[name]
    landing = tmp_path / "landing"
    day = landing / feed.path / DAY.isoformat()
    day.mkdir(parents=True)
    for path in paths:
        (day / path.name).write_bytes(path.read_bytes())
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    loads = load_feed_files(
        con, feed, [(day / p.name, DAY) for p in paths], landing, timezone="Asia/Shanghai"
    )
    con.close()
    return feed, loads, yaml.safe_load(text)["feeds"][name], text


def identity_kinds(feed: FeedConfig) -> dict[str, str]:
    return {a.column: a.kind for a in feed.identity}


def counts(loads) -> tuple[int, int, int]:
    return (
        sum(f.rows_in for f in loads),
        sum(f.rows_loaded for f in loads),
        sum(f.rows_quarantined for f in loads),
    )


def test_headerless_whitespace_log_with_compact_dates_and_no_ids(tmp_path):
    lines = [
        "00001   19970101   1   11.77   13800138000",
        "00001   19970118   2   17.96   +8613800138000",
        "00002   19970112   1   12.00   13912345678",
        "00002   19970112   1   12.00   13912345678",
        "00003   19970203   3   35.10   １３７００１３７０００",
        "00004   19970204   1    5.00   13600136000",
        "00005   1997013x   1    5.00   13500135000",
        "00006   19970301   1",
        "",
    ]
    feed, loads, entry, text = onboard(tmp_path, {"cdnow.txt": "\n".join(lines).encode()})
    assert (feed.kind, feed.record_id_from, feed.timestamp) == ("orders", (), "col_2")
    assert entry["files"] == [
        {
            "pattern": "*.txt",
            "encoding": "utf-8",
            "format": "csv",
            "delimiter": "whitespace",
            "header": False,
            "columns": ["col_1", "col_2", "col_3", "amount", "mobile"],
        }
    ]
    assert entry["columns"]["col_1"] == {"type": "varchar", "required": True}  # leading zeros kept
    assert entry["columns"]["col_2"] == {"type": "date", "required": True, "format": "%Y%m%d"}
    assert entry["canonical"] == {"amount": "amount"}
    assert identity_kinds(feed) == {"mobile": "mobile"}
    assert counts(loads) == (8, 6, 2)
    assert "1 would be quarantined (1997013x)" in text and "100% China mobiles" in text


def member_workbook() -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer)
    sheet = book.add_worksheet("会员")
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write(0, 0, "会员名单（2026年5月）")
    sheet.write_row(1, 0, ["会员卡号", "姓名", "手机", "性别", "生日", "城市", "积分", "VIP", "入会时间"])
    members = [
        ("M001", "王芳", "13800138000", "女", "19560409", "上海", "1,234", "是"),
        ("M002", "李娜", "139 1234 5678", "女", None, "北京", "12", "否"),
        ("M003", "张伟", "13700137000", "男", "19800101", "杭州", "300", "是"),
        ("M004", "刘洋", "13600136000", "男", "1990-02-30", "上海", "45", "否"),
        ("M005", "陈静", "13500135000", "女", "19851120", "广州", "2,001", "否"),
        ("M006", "杨磊", "13400134000", "男", "19770707", "深圳", "9", "是"),
    ]
    for i, (card, name, mobile, gender, birth, city, points, vip) in enumerate(members, start=2):
        sheet.write_row(i, 0, [card, name, mobile, gender])
        if birth is None:
            sheet.write_datetime(i, 4, dt.datetime(1968, 6, 11), day)
        else:
            sheet.write(i, 4, birth)
        sheet.write_row(i, 5, [city, points, vip])
        sheet.write_number(i, 8, 46143.5 + i)
    sheet.write_row(9, 0, ["合计", "6"])
    book.close()
    return buffer.getvalue()


def test_excel_member_list_with_title_and_totals_rows(tmp_path):
    feed, loads, entry, _ = onboard(tmp_path, {"members.xlsx": member_workbook()})
    assert feed.kind == "people" and feed.record_id == "会员卡号" and feed.timestamp_from == "partition"
    assert entry["files"] == [{"pattern": "*.xlsx", "format": "xlsx", "skip_rows": 1, "skip_footer": 1}]
    assert entry["columns"]["生日"]["format"] == ["%Y%m%d", "%Y-%m-%d %H:%M:%S"]
    assert entry["columns"]["积分"] == {"type": "integer", "required": True, "thousands": ","}
    assert entry["columns"]["VIP"] == {"type": "boolean", "required": True}
    assert entry["columns"]["入会时间"]["format"] == "excel"
    assert identity_kinds(feed) == {
        "会员卡号": "member_id",
        "姓名": "person_name",
        "手机": "mobile",
        "性别": "gender",
        "生日": "birth_date",
        "城市": "city",
    }
    assert counts(loads) == (6, 5, 1)


def test_person_records_without_timestamps_in_gb18030(tmp_path):
    ids = [
        national_id("11010519491231002"),
        national_id("31010419800101123"),
        national_id("44030519900615234"),
        national_id("33010219751111345"),
        national_id("51010719881208456"),
    ]
    rows = [
        (
            "王芳",
            "+86 138-0013-8000",
            ids[0],
            "wangfang@example.com",
            "wxid_abc123",
            "o" + "A" * 27,
            "上海",
            "女",
        ),
        (
            "李娜",
            "１３９１２３４５６７８",
            ids[1],
            "LiNa@Example.COM",
            "wxid_li_na",
            "o" + "B" * 27,
            "北京",
            "女",
        ),
        ("张伟", "13700137000", ids[2], "zw@example.cn", "wxid_zw", "o" + "C" * 26 + "-", "深圳", "男"),
        ("赵敏", "0086 136 0013 6000", ids[3], "zm@example.com", "wxid_zm", "o" + "D" * 27, "杭州", "女"),
        ("孙立", "13500135000", ids[4], "", "wxid_sl", "o" + "E" * 27, "成都", "男"),
    ]
    text = "姓名,手机号,身份证号,邮箱,微信号,openid,城市,性别\n" + "".join(",".join(r) + "\n" for r in rows)
    feed, loads, entry, _ = onboard(tmp_path, {"crm_export.csv": text.encode("gb18030")})
    assert feed.kind == "people" and feed.record_id_from == () and feed.timestamp_from == "partition"
    assert entry["files"][0]["encoding"] == "gb18030"
    assert all(spec == "varchar" or spec["type"] == "varchar" for spec in entry["columns"].values())
    assert identity_kinds(feed) == {
        "姓名": "person_name",
        "手机号": "mobile",
        "身份证号": "national_id",
        "邮箱": "email",
        "微信号": "wechat_id",
        "openid": "openid",
        "城市": "city",
        "性别": "gender",
    }
    assert counts(loads) == (5, 5, 0)


def test_an_id_number_failing_its_checksum_is_not_a_national_id(tmp_path):
    wrong = [
        i[:17] + ("0" if i[17] != "0" else "1")
        for i in (national_id("11010519491231002"), national_id("31010419800101123"))
    ]
    (path,) = samples(
        tmp_path, {"ids.csv": ("证件,备注\n" + "".join(f"{w},x{n}\n" for n, w in enumerate(wrong))).encode()}
    )
    assert "national_id" not in draft_feed([path], kinds=KINDS)


def test_nested_json_orders_gzipped_with_epoch_times_and_currency(tmp_path):
    orders = [
        {
            "id": f"A{i}",
            "created": 1777595400000 + i * 60000,
            "buyer": {"mobile": f"1380013800{i}", "address": {"city": "上海"}},
            "items": [{"sku": f"P{i}"}],
            "total": f"¥1,{i}34.50",
        }
        for i in range(7)
    ]
    orders[3]["created"] = "yesterday"
    orders[4]["buyer"] = None
    document = {"status": "ok", "data": {"count": 8, "orders": orders + ["not an order"]}}
    feed, loads, entry, _ = onboard(
        tmp_path, {"orders.json.gz": gzip.compress(json.dumps(document).encode())}
    )
    assert (feed.kind, feed.record_id, feed.timestamp) == ("orders", "id", "created")
    assert entry["files"] == [{"pattern": "*.json.gz", "format": "json", "records_path": "data.orders"}]
    assert entry["columns"]["created"] == {"type": "timestamp", "required": True, "format": "epoch_ms"}
    assert entry["columns"]["total"] == {"type": "double", "required": True, "thousands": ","}
    assert entry["columns"]["buyer_mobile"] == {"type": "varchar", "path": "buyer.mobile"}
    assert "buyer" not in entry["columns"]
    assert identity_kinds(feed) == {"buyer_mobile": "mobile", "buyer_address_city": "city"}
    assert counts(loads) == (8, 6, 2)


def test_fixed_width_extract_with_blank_cells_and_names_with_spaces(tmp_path):
    people = [
        ("C00001", "王芳", "13800138000", "上海", "20260101"),
        ("C00002", "Li Na", "13912345678", "", "20260102"),
        ("C00003", "陈兰", "", "北京", "20260103"),
        ("C00004", "张伟", "13700137000", "杭州", "2026013x"),
        ("C00005", "刘洋", "13600136000", "", "20260105"),
        ("C00006", "杨磊", "13500135000", "广州", "20260106"),
    ]
    text = "".join(
        f"{card:<8}{name:<10}{mobile:<13}{city:<6}{joined}\n" for card, name, mobile, city, joined in people
    )
    feed, loads, entry, text = onboard(tmp_path, {"extract.dat": text.encode("gb18030")})
    assert feed.kind == "people" and feed.record_id == "col_1"
    assert entry["files"][0]["format"] == "fixed_width" and entry["files"][0]["widths"] == [8, 10, 13, 6, 8]
    assert entry["files"][0]["columns"] == ["col_1", "name", "mobile", "col_4", "col_5"]
    assert identity_kinds(feed) == {"name": "person_name", "mobile": "mobile"}
    assert counts(loads) == (6, 5, 1)


def test_orders_only_csv_with_bom_currency_and_ids(tmp_path):
    rows = [
        f'O{i:04},2026-05-0{i} 1{i}:00:00,1380013800{i},p{i}@example.com,"¥{i},234.50",{i},P{i},S0{i}'
        for i in range(1, 8)
    ]
    rows.append('O0008,2026-05-08 10:80:00,13800138008,,"12.00",1,P8,S08')
    text = "order_id,order_time,mobile,email,amount,qty,product_id,store_id\n" + "\n".join(rows) + "\n"
    feed, loads, entry, _ = onboard(tmp_path, {"shop_orders.csv": b"\xef\xbb\xbf" + text.encode()})
    assert (feed.kind, feed.record_id, feed.timestamp) == ("orders", "order_id", "order_time")
    assert entry["files"][0]["encoding"] == "utf-8-sig"
    assert entry["columns"]["order_time"]["format"] == "%Y-%m-%d %H:%M:%S"
    assert entry["canonical"] == {
        "amount": "amount",
        "quantity": "qty",
        "product_id": "product_id",
        "store_id": "store_id",
    }
    assert identity_kinds(feed) == {"mobile": "mobile", "email": "email", "store_id": "store"}
    assert counts(loads) == (8, 7, 1)


def test_parquet_keeps_its_own_types(tmp_path):
    times = pa.array([dt.datetime(2026, 5, 1, h) for h in (9, 10, 11)])
    table = pa.table(
        {
            "order_id": ["X-1", "X-2", "X-3"],
            "paid_at": times,
            "amount": [1.5, 2.0, 3.25],
            "mobile": ["13800138000", "13912345678", None],
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    feed, loads, entry, _ = onboard(tmp_path, {"pos.parquet": buffer.getvalue()})
    assert (feed.kind, feed.record_id, feed.timestamp) == ("orders", "order_id", "paid_at")
    assert entry["files"] == [{"pattern": "*.parquet", "format": "parquet"}]
    assert entry["columns"]["paid_at"] == {"type": "timestamp", "required": True}
    assert identity_kinds(feed) == {"mobile": "mobile"} and counts(loads) == (3, 3, 0)


def test_kind_can_be_given_and_tsv_is_recognised(tmp_path):
    text = "event\tat\tcode\nclick\t2026-05-01 10:00:00\tA1\nview\t2026-05-01 11:00:00\tA2\n"
    feed, loads, entry, _ = onboard(tmp_path, {"clicks.tsv": text.encode()}, name="clicks", kind="events")
    assert feed.name == "clicks" and feed.kind == "events" and entry["files"][0]["format"] == "tsv"
    assert entry["canonical"] == {"event_type": "event"} and feed.timestamp == "at"
    assert counts(loads) == (2, 2, 0)


@pytest.mark.parametrize(
    "name, values, spec",
    [
        ("paid", ["¥1,234.50", "88", "￥12.00"], {"type": "double", "thousands": ","}),
        ("paid", ["1 234,50", "7,25", "3"], {"type": "double", "decimal": ",", "thousands": " "}),
        ("qty", ["1", "2", "30"], {"type": "integer"}),
        (
            "total",
            ["1,280.00", "99", "12.00"],
            {"type": "double", "thousands": ","},
        ),  # written with cents: money
        ("vip", ["Y", "N", "y"], {"type": "boolean"}),
        ("card", ["007", "012", "113"], {"type": "varchar"}),
        ("day", ["01/05/2026", "31/12/2025", "15/06/2026"], {"type": "date", "format": "%d/%m/%Y"}),
        ("day", ["2026/05/01", "2026/12/31", "2026/06/15"], {"type": "date", "format": "%Y/%m/%d"}),
        (
            "at",
            ["2026-05-01 10:00:00", "2026-05-02 11:30:00", "2026-05-03 00:00:05"],
            {"type": "timestamp", "format": "%Y-%m-%d %H:%M:%S"},
        ),
        (
            "created_at",
            ["1777595400", "1777595460", "1777681800"],
            {"type": "timestamp", "format": "epoch_s"},
        ),
        ("quantity", ["1777595400", "1777595460", "1777681800"], {"type": "integer"}),  # no time in the name
        ("note", ["abc", "12", "x"], {"type": "varchar"}),
    ],
)
def test_column_types_and_formats_are_the_ones_the_loader_reads(name, values, spec):
    with duckdb.connect() as con:
        draft = draft_column(con, name, pa.chunked_array([values], pa.string()), KINDS, excel=False)
    assert draft.spec == {**spec, "required": True}


def test_identity_kinds_are_only_those_the_deployment_declares():
    with duckdb.connect() as con:
        column = pa.chunked_array([["13800138000", "13912345678"]], pa.string())
        assert draft_column(con, "tel", column, KINDS, excel=False).kind == "mobile"
        assert draft_column(con, "tel", column, KINDS - {"mobile"}, excel=False).kind is None


def test_text_title_and_totals_rows_and_zip_compression(tmp_path):
    text = "门店会员导出 2026-05\ncard|name|mobile\nM1|王芳|13800138000\nM2|李娜|13912345678\n合计|2|\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("export.csv", text.encode("gb18030"))
    feed, loads, entry, _ = onboard(tmp_path, {"export.zip": buffer.getvalue()})
    assert entry["files"] == [
        {
            "pattern": "*.zip",
            "encoding": "gb18030",
            "format": "csv",
            "delimiter": "|",
            "skip_rows": 1,
            "skip_footer": 1,
        }
    ]
    assert identity_kinds(feed) == {"card": "member_id", "name": "person_name", "mobile": "mobile"}
    assert counts(loads) == (2, 2, 0)


def test_header_and_alignment_detection():
    assert has_header(["card", "name"], [["M1", "王芳"]])
    assert not has_header(["00001", "19970101"], [["00002", "19970102"]])
    assert not has_header(["王芳", "上海"], [["王芳", "北京"]])
    assert aligned_columns(["ab  cd   e", "x   y    zz", "abc       q"]) == [0, 4, 9]
    assert aligned_columns(["a   Li Na  1", "b   王芳     2", "c   陈兰     3"]) == [
        0,
        4,
        11,
    ]  # "Na" is no column


def empty_workbook() -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer)
    book.add_worksheet("空")
    book.close()
    return buffer.getvalue()


@pytest.mark.parametrize(
    "files, message",
    [
        ({"empty.xlsx": empty_workbook()}, "no rows to draft from"),
        ({"scalars.json": b"[1, 2, 3]"}, "no data rows"),
        ({"empty.csv": b""}, "the file is empty"),
        ({"broken.json.gz": b"\x1f\x8bnot gzip"}, "the archive could not be opened"),
        ({"broken.xlsx": b"PK\x03\x04 not a workbook"}, "archive could not be opened"),
    ],
)
def test_unreadable_samples_are_named_with_the_reason(tmp_path, files, message):
    with pytest.raises(DraftError, match=message):
        draft_feed(samples(tmp_path, files), kinds=KINDS)


runner = CliRunner()


def test_cli_prints_the_draft_and_writes_it_only_with_out(tmp_path):
    (path,) = samples(tmp_path, {"m.csv": "card,name\nM1,王芳\nM2,李娜\n".encode()})
    result = runner.invoke(cli.app, ["feeds", "draft", str(path), "--name", "crm"], terminal_width=400)
    assert result.exit_code == 0 and "crm" in yaml.safe_load(result.stdout)["feeds"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["samples"]
    out = tmp_path / "draft.yaml"
    result = runner.invoke(cli.app, ["feeds", "draft", str(path), "--out", str(out)], terminal_width=400)
    assert (
        result.exit_code == 0
        and yaml.safe_load(out.read_text(encoding="utf-8"))["feeds"]["m"]["kind"] == "people"
    )


def test_cli_names_an_unreadable_file_without_a_traceback(tmp_path):
    result = runner.invoke(cli.app, ["feeds", "draft", str(tmp_path / "missing.csv")], terminal_width=400)
    assert result.exit_code == 2 and "missing.csv" in result.output and "cannot be read" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
