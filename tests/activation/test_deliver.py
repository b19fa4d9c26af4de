"""Delivery from the warehouse: consenting members only, suppression for withdrawals and deletions,
nothing in clear but platform ids."""

import hashlib
import re

import duckdb
import polars as pl

from assets.activation.deliver import deliver
from assets.activation.settings import Audience, Destination, IdFile, Purpose
from assets.activation.suppression import destination_values, record_forgotten

ADS = Destination(
    "tencent_ads",
    "id_list",
    files=(IdFile("HASH_MOBILE_PHONE", "mobile", "md5"), IdFile("HASH_IDFA", "idfa", "md5")),
)
CRM = Destination("crm_sms", "crm_list")
PURPOSES = {
    "ads_personalisation": Purpose("ads_personalisation", "opt_in"),
    "marketing_sms": Purpose("marketing_sms", "opt_in"),
}
AUDIENCES = (
    Audience("lapsed", "x", "select 1", "ads_personalisation", ("tencent_ads",)),
    Audience("sms", "x", "select 1", "marketing_sms", ("crm_sms",)),
)


def md5(value: str) -> str:
    return hashlib.md5(value.encode()).hexdigest()


def warehouse() -> duckdb.DuckDBPyConnection:
    """u1 consents and is in the audience; u2 withdrew ads (so is not a member) and is suppressed;
    u3 consents but shares the store's front-desk phone, which identity guarded."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA staging; CREATE SCHEMA identity; CREATE SCHEMA marts")
    con.execute("""CREATE TABLE staging.stg_identity_attributes AS SELECT * FROM (VALUES
        ('pos', 'r1', 'record', 'mobile', '', '13800138000', true),
        ('ads', 'a1', 'actor', 'device_id', '', 'FF1999CD71774937A47474937A102630', true),
        ('pos', 'r2', 'record', 'mobile', '', '13912345678', true),
        ('pos', 'r3', 'record', 'mobile', '', '13700000001', true),
        ('pos', 'r4', 'record', 'mobile', '', NULL, false))
        AS t(source, record_id, record_type, attribute_kind, namespace, value, is_valid)""")
    con.execute("""CREATE TABLE identity.resolved_records AS SELECT * FROM (VALUES
        ('pos', 'r1', 'record', 'u1'), ('ads', 'a1', 'actor', 'u1'), ('pos', 'r2', 'record', 'u2'),
        ('pos', 'r3', 'record', 'u3'), ('pos', 'r4', 'record', 'u3'))
        AS t(source, record_id, record_type, unified_id)""")
    con.execute("""CREATE TABLE identity.guarded_values AS
                   SELECT 'mobile' AS attribute_kind, '' AS namespace, '13700000001' AS value,
                          'shared' AS guard""")
    con.execute("""CREATE TABLE marts.audience_members AS SELECT * FROM (VALUES
        ('lapsed', 'u1'), ('lapsed', 'u3'), ('sms', 'u1')) AS t(audience, unified_id)""")
    con.execute("""CREATE TABLE marts.audience_summary AS SELECT * FROM (VALUES
        ('lapsed', 2, 1), ('sms', 1, 0)) AS t(audience, members, excluded_without_consent)""")
    con.execute("""CREATE TABLE marts.user_consent AS SELECT * FROM (VALUES
        ('u1', 'ads_personalisation', 'granted'), ('u2', 'ads_personalisation', 'withdrawn'),
        ('u2', 'marketing_sms', 'withdrawn'), ('u3', 'ads_personalisation', 'granted'))
        AS t(unified_id, purpose, status)""")
    con.execute("""CREATE TABLE marts.dim_users AS SELECT * FROM (VALUES
        ('u1', 'h1', '138****8000', '王*', '上海'), ('u2', 'h2', '139****5678', '李*', NULL),
        ('u3', 'h3', '137****0001', '赵*', NULL))
        AS t(unified_id, mobile_hash, mobile_masked, name_masked, city)""")
    return con


def lines(path) -> list[str]:
    return path.read_text().splitlines()


def test_members_go_out_hashed_and_withdrawn_people_are_suppressed(tmp_path):
    con = warehouse()
    delivery = deliver(
        con, tmp_path, AUDIENCES, {"tencent_ads": ADS, "crm_sms": CRM}, PURPOSES, {"run_id": "r"}
    )
    folder = tmp_path / "lapsed" / "tencent_ads"
    assert lines(folder / "HASH_MOBILE_PHONE.txt") == [md5("13800138000")]  # u3's only mobile is guarded
    assert lines(folder / "HASH_IDFA.txt") == [md5("FF1999CD-7177-4937-A474-74937A102630")]
    assert lines(tmp_path / "_suppression" / "tencent_ads" / "HASH_MOBILE_PHONE.txt") == [md5("13912345678")]
    assert lines(tmp_path / "_suppression" / "crm_sms" / "members.txt") == ["h2"]
    assert lines(tmp_path / "sms" / "crm_sms" / "members.csv") == [
        "join_key,mobile_masked,name_masked,city",
        "h1,138****8000,王*,上海",
    ]
    assert delivery.suppressed == {
        "tencent_ads": {"HASH_MOBILE_PHONE": 1, "HASH_IDFA": 0},
        "crm_sms": {"members": 1},
    }


def test_each_destination_suppresses_only_those_who_withdrew_a_purpose_it_serves(tmp_path):
    """u4 withdrew SMS marketing only: the SMS tool drops them, the ad platform, which serves ads
    personalisation, does not (both lists are cut from the same identifiers, read once)."""
    con = warehouse()
    con.execute(
        "INSERT INTO staging.stg_identity_attributes VALUES "
        "('pos', 'r5', 'record', 'mobile', '', '13655556666', true)"
    )
    con.execute("INSERT INTO identity.resolved_records VALUES ('pos', 'r5', 'record', 'u4')")
    con.execute(
        "INSERT INTO marts.user_consent VALUES ('u4', 'marketing_sms', 'withdrawn'), "
        "('u4', 'ads_personalisation', 'granted')"
    )
    con.execute("INSERT INTO marts.dim_users VALUES ('u4', 'h4', '136****6666', '周*', NULL)")
    deliver(con, tmp_path, AUDIENCES, {"tencent_ads": ADS, "crm_sms": CRM}, PURPOSES, {"run_id": "r"})
    assert lines(tmp_path / "_suppression" / "crm_sms" / "members.txt") == ["h2", "h4"]
    assert lines(tmp_path / "_suppression" / "tencent_ads" / "HASH_MOBILE_PHONE.txt") == [md5("13912345678")]


def test_deleted_people_stay_suppressed_after_their_data_is_gone(tmp_path):
    con = warehouse()
    identifiers = pl.DataFrame(
        {"unified_id": ["gone"], "attribute_kind": ["mobile"], "namespace": [""], "value": ["13600000000"]}
    )
    values = destination_values(
        identifiers, {"tencent_ads": ADS, "crm_sms": CRM}, pl.DataFrame({"join_key": ["h9"]})
    )
    record_forgotten(con, values, "request-1")
    deliver(con, tmp_path, AUDIENCES, {"tencent_ads": ADS, "crm_sms": CRM}, PURPOSES, {})
    suppressed = lines(tmp_path / "_suppression" / "tencent_ads" / "HASH_MOBILE_PHONE.txt")
    assert suppressed == sorted([md5("13912345678"), md5("13600000000")])
    assert "h9" in lines(tmp_path / "_suppression" / "crm_sms" / "members.txt")


def test_no_clear_identifier_in_any_activation_file(tmp_path):
    deliver(warehouse(), tmp_path, AUDIENCES, {"tencent_ads": ADS, "crm_sms": CRM}, PURPOSES, {})
    clear = re.compile(r"(?<![0-9a-f])1[3-9]\d{9}(?![0-9a-f])|[0-9A-F]{8}-[0-9A-F]{4}-")
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert not clear.search(path.read_text()), path


def test_folders_of_audiences_and_destinations_no_longer_declared_go(tmp_path):
    con = warehouse()
    destinations = {"tencent_ads": ADS, "crm_sms": CRM}
    deliver(con, tmp_path, AUDIENCES, destinations, PURPOSES, {})
    assert (tmp_path / "sms" / "crm_sms").is_dir() and (tmp_path / "_suppression" / "crm_sms").is_dir()
    deliver(con, tmp_path, AUDIENCES[:1], {"tencent_ads": ADS}, PURPOSES, {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["_suppression", "lapsed"]
    assert sorted(p.name for p in (tmp_path / "_suppression").iterdir()) == ["tencent_ads"]
