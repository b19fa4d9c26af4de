"""A feed declared only in YAML flows through ingestion into the canonical views: no code change."""

from datetime import date

import duckdb
import pytest

from assets.common.configuration import ConfigError
from assets.ingest.batch import ensure_raw_table
from assets.ingest.canonical import create_views
from assets.ingest.feeds import load_feeds_config
from assets.ingest.loader import load_feed_file
from tests.landing_builder import write_jsonl

CONFIG = """
feeds:
  mini_program_signups:
    description: A partner we just signed - only a name, a phone and a WeChat id.
    kind: events
    channel: online
    identity_bearing: true
    files: [{pattern: "*.jsonl", format: jsonl}]
    record_id: signup_id
    timestamp: signed_up
    columns:
      signup_id: {type: varchar, required: true}
      signed_up: {type: timestamp, required: true}
      who: varchar
      phone: varchar
      wx: varchar
    canonical:
      event_type: {const: signup}
    identity:
      who: person_name
      phone: mobile
      wx: wechat_id
  kiosk_taps:
    kind: events
    channel: offline
    identity_bearing: false
    files: [{pattern: "*.jsonl", format: jsonl}]
    record_id: tap_id
    timestamp: at
    columns: {tap_id: varchar, at: timestamp, card: varchar, kind: varchar}
    canonical: {event_type: kind}
    identity: {card: member_id}
"""


def test_a_new_feed_needs_only_configuration(tmp_path):
    config_path = tmp_path / "feeds.yaml"
    config_path.write_text(CONFIG, encoding="utf-8")
    config = load_feeds_config(config_path)
    landing = tmp_path / "landing"
    signups = write_jsonl(
        landing / "mini_program_signups" / "2026-05-02" / "s.jsonl",
        [
            {
                "signup_id": "S1",
                "signed_up": "2026-05-02 08:00:00",
                "who": "周杰",
                "phone": "13912345678",
                "wx": "wxid_a",
            },
            {
                "signup_id": "S2",
                "signed_up": "2026-05-02 09:00:00",
                "who": None,
                "phone": None,
                "wx": "wxid_b",
            },
        ],
    )
    taps = write_jsonl(
        landing / "kiosk_taps" / "2026-05-02" / "t.jsonl",
        [
            {"tap_id": "K1", "at": "2026-05-02 10:00:00", "card": "M1", "kind": "tap"},
            {"tap_id": "K2", "at": "2026-05-02 11:00:00", "card": "M1", "kind": "tap"},
            {"tap_id": "K3", "at": "2026-05-02 12:00:00", "card": None, "kind": "tap"},
        ],
    )
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        for feed, file in (
            (config.feeds["mini_program_signups"], signups),
            (config.feeds["kiosk_taps"], taps),
        ):
            ensure_raw_table(con, feed.name, feed.columns)
            assert load_feed_file(con, feed, file, landing, date(2026, 5, 2)).rows_loaded > 0
        create_views(con, config)
        events = con.execute(
            "SELECT source, record_id, event_type, identity_key FROM raw.events ORDER BY record_id"
        ).fetchall()
        records = con.execute(
            "SELECT source, record_id FROM raw.identity_records ORDER BY record_id"
        ).fetchall()
        attributes = con.execute(
            "SELECT record_id, record_type, attribute_kind, raw_value FROM raw.identity_attributes "
            "ORDER BY attribute_kind, record_id"
        ).fetchall()
        orders = con.execute("SELECT count(*) FROM raw.orders").fetchall()[0][0]
        deliveries = con.execute(
            "SELECT source, record_id, record_type, attribute_kind, _loaded_at IS NOT NULL "
            "FROM raw.identity_attribute_deliveries ORDER BY ALL"
        ).fetchall()
    assert [e[2] for e in events] == ["tap", "tap", "tap", "signup", "signup"]
    signup_keys = {e[1]: e[3] for e in events if e[0] == "mini_program_signups"}
    assert signup_keys == {"S1": "S1", "S2": "S2"}  # identity-bearing rows are keyed by their record id
    tap_keys = [e[3] for e in events if e[0] == "kiosk_taps"]
    assert tap_keys[0] == tap_keys[1] and tap_keys[2] is None  # one actor per card; no card, no actor
    assert records == [("mini_program_signups", "S1"), ("mini_program_signups", "S2")]
    assert ("S1", "record", "mobile", "13912345678") in attributes
    assert sum(1 for a in attributes if a[1] == "actor") == 1  # the two taps of card M1 are one actor
    assert orders == 0
    # the attributes as delivered: the card's two sightings stay two rows, each with its actor
    tap_actor = tap_keys[0]
    assert [d for d in deliveries if d[0] == "kiosk_taps"] == [
        ("kiosk_taps", tap_actor, "actor", "member_id", True),
        ("kiosk_taps", tap_actor, "actor", "member_id", True),
    ]
    assert {d[1:4] for d in deliveries if d[0] != "kiosk_taps"} == {
        (a[0], a[1], a[2]) for a in attributes if a[1] == "record"
    }


PRESENCE = """
feeds:
  till:
    kind: orders
    channel: offline
    files: [{pattern: "*.jsonl", format: jsonl}]
    record_id: txn
    timestamp: at
    columns: {txn: varchar, at: timestamp, shop: varchar, who: varchar, amount: double}
    canonical: {store_id: shop, amount: amount}
    identity: {who: person_name}
    presence: {place: shop}
  beacons:
    kind: events
    channel: offline
    files: [{pattern: "*.jsonl", format: jsonl}]
    record_id: ping
    timestamp: seen
    columns: {ping: varchar, seen: timestamp, shop: varchar, phone_id: varchar, dwell: double}
    canonical: {event_type: {const: beacon}}
    identity: {phone_id: device_id}
    presence: {place: shop, stay: dwell}
"""


def test_presence_puts_a_receipt_and_a_phone_in_the_same_store_slot(tmp_path):
    config_path = tmp_path / "feeds.yaml"
    config_path.write_text(PRESENCE, encoding="utf-8")
    config = load_feeds_config(config_path)
    landing, day = tmp_path / "landing", date(2026, 5, 2)
    till = write_jsonl(
        landing / "till" / "2026-05-02" / "t.jsonl",
        [
            {"txn": "T1", "at": "2026-05-02 14:05:00", "shop": "S01", "who": "周杰", "amount": 9.5},
            {"txn": "T2", "at": "2026-05-02 15:00:00", "shop": None, "who": "周杰", "amount": 1.0},
        ],
    )
    beacons = write_jsonl(
        landing / "beacons" / "2026-05-02" / "b.jsonl",
        [  # 13:58 for 15 minutes: the 13:45 and 14:00 slots; seen twice, one actor
            {"ping": "B1", "seen": "2026-05-02 13:58:00", "shop": "S01", "phone_id": "IDFA-1", "dwell": 900},
            {"ping": "B2", "seen": "2026-05-02 14:10:00", "shop": "S01", "phone_id": "IDFA-1", "dwell": -5},
            {"ping": "B3", "seen": "2026-05-02 09:00:00", "shop": "S01", "phone_id": None, "dwell": 60},
        ],
    )
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        for feed, file in ((config.feeds["till"], till), (config.feeds["beacons"], beacons)):
            ensure_raw_table(con, feed.name, feed.columns)
            assert load_feed_file(con, feed, file, landing, day).rows_loaded > 0
        create_views(con, config)
        visits = con.execute(
            "SELECT source, record_id, record_type, raw_value FROM raw.identity_attributes "
            "WHERE attribute_kind = 'visit' ORDER BY source, raw_value"
        ).fetchall()
    actor = {v[1] for v in visits if v[0] == "beacons"}
    assert len(actor) == 1  # the phone's actor; the ping without a phone puts nobody anywhere
    assert [(v[0], v[2], v[3]) for v in visits] == [
        ("beacons", "actor", "S01@2026-05-02 13:45"),
        ("beacons", "actor", "S01@2026-05-02 14:00"),  # both pings; a negative dwell is a moment
        ("till", "record", "S01@2026-05-02 14:00"),  # T2 names no store: no presence
    ]


def test_presence_names_declared_columns_and_a_declared_kind(tmp_path):
    config_path = tmp_path / "feeds.yaml"
    config_path.write_text(PRESENCE.replace("stay: dwell", "stay: dwel"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"feeds\.yaml:\d+: .*presence\.stay.*'dwel' is not declared"):
        load_feeds_config(config_path)
    config_path.write_text(PRESENCE.replace("{place: shop}", "{place: shop, kind: vist}"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"presence\.kind.*must be one of"):
        load_feeds_config(config_path)
