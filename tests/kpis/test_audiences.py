"""Audiences from config: members as of the profile date, new audiences without code, exports."""

from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from assets.activation.settings import Audience, load_activation_config
from assets.common.configuration import ConfigError
from assets.exports.publish import export_audiences
from assets.kpis.audiences import AudienceError, audience_members, audience_summary


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA intermediate; CREATE SCHEMA marts")
    con.execute("CREATE TABLE intermediate.int_profile_date AS SELECT DATE '2026-10-31' AS as_of")
    # a: big spender gone 120 days; b: big spender, recent; c: one order 20 days ago;
    # d: one order 200 days ago
    con.execute("""CREATE TABLE marts.user_rfm AS SELECT * FROM (VALUES
        ('a', 120, 5, 5), ('b', 10, 6, 5), ('c', 20, 1, 2), ('d', 200, 1, 4)
    ) AS t(unified_id, recency_days, frequency, m_score)""")
    # near a store and browsed lately: e (in), f (bought 3 days ago), h (browsed 20 days ago);
    # g lives 5 km away
    con.execute("""CREATE TABLE marts.user_store_proximity AS SELECT * FROM (VALUES
        ('e', 2.0), ('f', 2.0), ('g', 5.0), ('h', 1.0)) AS t(unified_id, nearest_store_km)""")
    # coupons (as of 2026-10-31): k's expires 2026-11-05 unused (in); l's expires 2026-11-05 but was
    # redeemed; m's expires 2026-11-20 (too far); n's expired on 2026-10-31
    con.execute("""CREATE TABLE marts.fct_events AS SELECT * FROM (VALUES
        ('e', 'ecommerce_browse', 'page_view', DATE '2026-10-26', NULL, NULL),
        ('f', 'ecommerce_browse', 'add_to_cart', DATE '2026-10-25', NULL, NULL),
        ('g', 'ecommerce_browse', 'page_view', DATE '2026-10-30', NULL, NULL),
        ('h', 'ecommerce_browse', 'page_view', DATE '2026-10-11', NULL, NULL),
        ('h', 'social_interactions', 'view', DATE '2026-10-30', NULL, NULL),
        ('k', 'member_coupons', 'coupon_issued', DATE '2026-10-06', 'CP1', TIMESTAMP '2026-11-05 23:59:59'),
        ('l', 'member_coupons', 'coupon_issued', DATE '2026-10-06', 'CP2', TIMESTAMP '2026-11-05 23:59:59'),
        ('l', 'member_coupons', 'coupon_redeemed', DATE '2026-10-20', 'CP2', NULL),
        ('m', 'member_coupons', 'coupon_issued', DATE '2026-10-21', 'CP3', TIMESTAMP '2026-11-20 23:59:59'),
        ('n', 'member_coupons', 'coupon_issued', DATE '2026-10-01', 'CP4', TIMESTAMP '2026-10-31 23:59:59')
    ) AS t(unified_id, source, event_type, event_date, coupon_id, expires_at)""")
    con.execute("""CREATE TABLE marts.fct_orders AS SELECT * FROM (VALUES
        ('f', 'sale', false, DATE '2026-10-28'), ('e', 'sale', true, DATE '2026-10-28'),
        (NULL, 'sale', false, DATE '2026-10-28')
    ) AS t(unified_id, order_type, is_cancelled, order_date)""")
    return con


def members(frame: pl.DataFrame) -> dict[str, list[str]]:
    return {k: sorted(v) for k, v in frame.group_by("audience").agg("unified_id").iter_rows()}


def test_shipped_audiences_select_by_their_rules(con):
    frame = audience_members(con, load_activation_config().audiences)
    assert members(frame)["lapsed_high_value"] == ["a", "d"]
    assert members(frame)["new_without_second_order"] == ["c"]
    assert members(frame)["browsed_not_bought_near_store"] == ["e"]
    assert members(frame)["coupons_expiring"] == ["k"]
    assert frame["as_of"].unique().to_list() == [date(2026, 10, 31)]


def test_adding_an_audience_is_a_config_entry(con, tmp_path: Path):
    config = tmp_path / "audiences.yaml"
    config.write_text(
        """audiences:
  - name: recent_buyers
    description: Bought within 30 days of the profile date.
    sql: select unified_id from marts.user_rfm where getvariable('as_of') - recency_days > DATE '2026-10-01'
""",
        encoding="utf-8",
    )
    assert members(audience_members(con, load_activation_config(config).audiences)) == {
        "recent_buyers": ["b", "c"]
    }


def test_a_query_without_unified_id_names_the_audience(con):
    with pytest.raises(AudienceError, match="'broken'.*unified_id"):
        audience_members(con, (Audience("broken", "x", "select recency_days from marts.user_rfm"),))


def test_config_mistakes_say_where(tmp_path: Path):
    config = tmp_path / "audiences.yaml"
    config.write_text(
        "audiences:\n  - {name: a, description: x, sql: select 1}\n"
        "  - {name: a, description: y, sql: select 2}\n"
    )
    with pytest.raises(ConfigError, match=r"audiences\[1\].*declared twice"):
        _ = load_activation_config(config).audiences
    config.write_text("audiences:\n  - {name: Bad-Name, description: x, sql: select 1}\n")
    with pytest.raises(ConfigError, match=r"audiences\[0\].*lower-case"):
        _ = load_activation_config(config).audiences


def test_each_audience_gets_its_own_parquet_folder_and_stale_ones_go(con, tmp_path: Path):
    con.register("members_frame", audience_members(con, load_activation_config().audiences))
    con.execute("CREATE TABLE marts.audience_members AS SELECT * FROM members_frame")
    (tmp_path / "dropped_audience").mkdir()
    exported = export_audiences(con, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "browsed_not_bought_near_store",
        "coupons_expiring",
        "lapsed_high_value",
        "new_without_second_order",
    ]
    assert {e.name: e.rows for e in exported} == {
        "browsed_not_bought_near_store": 1,
        "coupons_expiring": 1,
        "lapsed_high_value": 2,
        "new_without_second_order": 1,
    }
    assert pl.read_parquet(tmp_path / "lapsed_high_value" / "lapsed_high_value.parquet")[
        "unified_id"
    ].to_list() == ["a", "d"]


def test_a_failing_query_names_the_audience(con):
    with pytest.raises(AudienceError, match="'typo'.*query failed"):
        audience_members(con, (Audience("typo", "x", "select unified_id from marts.no_such_table"),))


def test_an_audience_with_a_purpose_keeps_only_people_whose_consent_covers_it(con, tmp_path: Path):
    config = tmp_path / "audiences.yaml"
    (tmp_path / "consent.yaml").write_text("purposes:\n  ads: {basis: opt_in}\n  news: {basis: opt_out}\n")
    config.write_text(
        """destinations:
  ads_platform: {format: id_list, files: [{name: m, id: mobile}]}
audiences:
  - {name: everyone_ads, description: x, purpose: ads, destinations: [ads_platform],
     sql: select unified_id from marts.user_rfm}
  - {name: everyone_news, description: x, purpose: news, sql: select unified_id from marts.user_rfm}
""",
        encoding="utf-8",
    )
    activation = load_activation_config(config)
    assert {p.name: p.default_granted for p in activation.purposes.values()} == {"ads": False, "news": True}
    before = audience_members(
        con, activation.audiences, activation.purposes
    )  # no consent computed yet: bases
    assert before.filter(pl.col("audience") == "everyone_ads")["consented"].to_list() == [False] * 4
    assert before.filter(pl.col("audience") == "everyone_news")["consented"].to_list() == [True] * 4
    con.execute("""CREATE TABLE marts.user_consent AS SELECT * FROM (VALUES
        ('a', 'ads', true), ('b', 'ads', false), ('b', 'news', false)) AS t(unified_id, purpose, granted)""")
    frame = audience_members(con, activation.audiences, activation.purposes)
    consented = {
        a: sorted(f.filter(pl.col("consented"))["unified_id"].to_list())
        for (a,), f in frame.partition_by("audience", as_dict=True).items()
    }
    assert consented == {"everyone_ads": ["a"], "everyone_news": ["a", "c", "d"]}  # no row: the basis decides
    summary = audience_summary(frame, activation.audiences)
    assert summary.select("audience", "members", "excluded_without_consent").rows() == [
        ("everyone_ads", 1, 3),
        ("everyone_news", 3, 1),
    ]


def test_destinations_need_a_declared_purpose(tmp_path: Path):
    config = tmp_path / "audiences.yaml"
    config.write_text(
        """destinations:
  ads_platform: {format: id_list, files: [{name: m, id: mobile}]}
audiences:
  - {name: a, description: x, destinations: [ads_platform], sql: select 1}
""",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"audiences\[0\]\.purpose: .*must declare its consent purpose"):
        load_activation_config(config)
    config.write_text(config.read_text().replace("destinations: [ads_platform]", "purpose: sms"))
    with pytest.raises(ConfigError, match=r"'sms' is not a purpose of consent.yaml"):
        load_activation_config(config)
