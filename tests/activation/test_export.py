"""Activation files: the platform's format, the delta against the last export, the manifest."""

import hashlib
import json

import polars as pl

from assets.activation.export import IDENTIFIERS_SCHEMA, platform_ids, write_export
from assets.activation.settings import Destination, IdFile

TENCENT = Destination(
    "tencent_ads",
    "id_list",
    files=(
        IdFile("HASH_MOBILE_PHONE", "mobile", "md5"),
        IdFile("HASH_IDFA", "idfa", "md5"),
        IdFile("HASH_IMEI", "imei", "md5"),
    ),
)
WECHAT = Destination(
    "wechat_oa", "id_list", files=(IdFile("openid", "openid", "none", namespace="wechat_oa"),), header=True
)


def identifiers(rows: list[tuple[str, str, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=IDENTIFIERS_SCHEMA, orient="row")


PEOPLE = identifiers(
    [
        ("u1", "mobile", "", "13800138000"),
        ("u1", "device_id", "", "FF1999CD71774937A47474937A102630"),
        ("u2", "mobile", "", "13912345678"),
        ("u2", "device_id", "", "A000002C9060F7"),
        ("u2", "openid", "wechat_oa", "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"),
        ("u2", "openid", "douyin", "douyin-openid-of-u2"),
        ("u3", "email", "", "x@example.com"),
    ]
)


def test_each_file_holds_one_id_type_spelled_and_hashed_the_platform_way():
    mobiles = platform_ids(PEOPLE, TENCENT.files[0])
    assert mobiles.to_dicts() == sorted(
        [
            {"unified_id": "u1", "value": "7945bd83237335e5376ff44d62e4f0ae"},
            {"unified_id": "u2", "value": hashlib.md5(b"13912345678").hexdigest()},
        ],
        key=lambda r: r["value"],
    )
    assert platform_ids(PEOPLE, TENCENT.files[1])["value"].to_list() == ["2c010ed96aef2fc34983e1e7e9176b7e"]
    assert platform_ids(PEOPLE, TENCENT.files[2])["value"].to_list() == ["f2d5a650733ca8c27d502b1c08da14e5"]
    assert platform_ids(PEOPLE, WECHAT.files[0])["value"].to_list() == ["o6_bmjrPTlm6_2sgVt7hMZOPfL2M"]


def test_a_second_export_lists_exactly_who_was_added_and_removed(tmp_path):
    first = write_export(
        tmp_path,
        "lapsed",
        TENCENT,
        PEOPLE.filter(pl.col("unified_id") != "u2"),
        {"purpose": "ads_personalisation", "run_id": "r1"},
    )
    folder = first.folder
    assert (folder / "HASH_MOBILE_PHONE.txt").read_text() == "7945bd83237335e5376ff44d62e4f0ae\n"
    assert (folder / "HASH_MOBILE_PHONE.added.txt").read_text() == "7945bd83237335e5376ff44d62e4f0ae\n"
    second = write_export(
        tmp_path,
        "lapsed",
        TENCENT,
        PEOPLE.filter(pl.col("unified_id") != "u1"),
        {"purpose": "ads_personalisation", "run_id": "r2"},
    )
    u2 = hashlib.md5(b"13912345678").hexdigest()
    assert (folder / "HASH_MOBILE_PHONE.txt").read_text() == f"{u2}\n"
    assert (folder / "HASH_MOBILE_PHONE.added.txt").read_text() == f"{u2}\n"
    assert (folder / "HASH_MOBILE_PHONE.removed.txt").read_text() == "7945bd83237335e5376ff44d62e4f0ae\n"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["run_id"] == "r2" and manifest["purpose"] == "ads_personalisation"
    assert manifest["files"]["HASH_IMEI"] == {"rows": 1, "added": 1, "removed": 0}
    assert manifest["previous_export_at"] is not None
    assert {f.name: f.rows for f in second.files} == {"HASH_MOBILE_PHONE": 1, "HASH_IDFA": 0, "HASH_IMEI": 1}
    assert sorted(p.name for p in tmp_path.joinpath("lapsed").iterdir()) == [
        "tencent_ads"
    ]  # nothing left aside


def test_header_lines_are_written_and_not_counted_as_ids(tmp_path):
    export = write_export(tmp_path, "coupons", WECHAT, PEOPLE, {})
    assert (export.folder / "openid.txt").read_text() == "openid\no6_bmjrPTlm6_2sgVt7hMZOPfL2M\n"
    again = write_export(tmp_path, "coupons", WECHAT, PEOPLE, {})
    assert again.files[0].added == again.files[0].removed == 0


def test_crm_list_has_masked_fields_and_the_join_key_delta(tmp_path):
    crm = Destination("crm_sms", "crm_list")
    rows = pl.DataFrame(
        {
            "join_key": ["k1", "k2"],
            "mobile_masked": ["138****8000", "139****5678"],
            "name_masked": ["王*", "李*"],
            "city": ["上海", None],
        }
    )
    write_export(tmp_path, "new", crm, rows, {})
    export = write_export(tmp_path, "new", crm, rows.tail(1), {})
    assert (export.folder / "members.removed.txt").read_text() == "join_key\nk1\n"
    assert pl.read_csv(export.folder / "members.csv")["mobile_masked"].to_list() == ["139****5678"]
