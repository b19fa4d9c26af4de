"""Deterministic stitching, guards and conflict splitting."""

import polars as pl

from assets.identity.engine import number_nodes, resolve
from assets.identity.settings import identity_config
from assets.identity.stable_ids import new_unified_id
from tests.identity.helpers import frames, ids, run


def test_records_sharing_a_strong_identifier_merge_under_the_earliest_records_id():
    result = run(
        [
            ("pos", "t1", "record", "mobile", "", "+86 139-1234-5678", 5),
            ("shop", "o1", "record", "mobile", "", "13912345678", 1),
            ("shop", "o1", "record", "platform_account", "tmall", "tb_amy", 1),
            ("shop", "o2", "record", "platform_account", "tmall", "TB_AMY", 9),
        ]
    )
    found = ids(result)
    assert found["pos/t1"] == found["shop/o1"] == found["shop/o2"] == new_unified_id("shop", "o1")
    rules = dict(zip(result.resolved["record_id"], result.resolved["rule"], strict=False))
    assert rules == {"t1": "mobile", "o1": "platform_account", "o2": "platform_account"}
    assert set(result.resolved["method"]) == {"deterministic"}
    assert (
        result.links.filter(pl.col("method") == "deterministic").height == 2
    )  # a spanning tree of 3 records


def test_a_placeholder_phone_never_merges_strangers():
    result = run(
        [
            ("pos", "t1", "record", "mobile", "", "138 0000 0000", 1),
            ("pos", "t2", "record", "mobile", "", "13800000000", 2),
            ("pos", "t1", "record", "person_name", "", "李雷", 1),
            ("pos", "t2", "record", "person_name", "", "韩梅梅", 2),
        ]
    )
    found = ids(result)
    assert found["pos/t1"] != found["pos/t2"]
    assert set(result.resolved["method"]) == {"singleton"}
    assert ("mobile", "", "13800000000", "blocked_value") in result.guarded.rows()


def test_a_number_seen_with_many_member_cards_is_not_a_merge_key():
    rows = [("pos", f"t{i}", "record", "member_id", "", f"M{i:04d}", i) for i in range(5)]
    rows += [("pos", f"t{i}", "record", "mobile", "", "13700001111", i) for i in range(5)]
    result = run(rows)
    assert result.resolved["unified_id"].n_unique() == 5
    assert ("mobile", "", "13700001111", "shared_identifier") in result.guarded.rows()


def test_a_family_phone_is_split_at_the_conflicting_names_and_cards():
    """Mother and son share her number; their cards and names differ, so the component splits and
    the son's card records stay together."""
    result = run(
        [
            ("pos", "m1", "record", "member_id", "", "M1", 1),
            ("pos", "m1", "record", "mobile", "", "13911112222", 1),
            ("pos", "m1", "record", "person_name", "", "王芳", 1),
            ("pos", "m2", "record", "member_id", "", "M1", 2),
            ("pos", "s1", "record", "member_id", "", "M2", 3),
            ("pos", "s1", "record", "mobile", "", "13911112222", 3),
            ("pos", "s1", "record", "person_name", "", "李强", 3),
            ("pos", "s2", "record", "member_id", "", "M2", 4),
        ]
    )
    found = ids(result)
    assert found["pos/m1"] == found["pos/m2"]
    assert found["pos/s1"] == found["pos/s2"]
    assert found["pos/m1"] != found["pos/s1"]
    assert result.stats["conflicted_components"] == 1


def test_two_national_ids_never_merge_even_through_an_email():
    result = run(
        [
            ("crm", "a", "record", "national_id", "", "11010519491231002X", 1),
            ("crm", "a", "record", "email", "", "x@example.com", 1),
            ("crm", "b", "record", "national_id", "", "110105198001010016", 2),
            ("crm", "b", "record", "email", "", "X@Example.com", 2),
        ]
    )
    found = ids(result)
    assert found["crm/a"] != found["crm/b"]


def test_namespaced_accounts_only_match_within_their_platform():
    found = ids(
        run(
            [
                ("shop", "o1", "record", "platform_account", "tmall", "lucky", 1),
                ("shop", "o2", "record", "platform_account", "jd", "lucky", 2),
                ("shop", "o3", "record", "platform_account", "jd", "lucky", 3),
            ]
        )
    )
    assert found["shop/o2"] == found["shop/o3"] != found["shop/o1"]


def test_actors_join_people_and_unusable_actors_stay_anonymous():
    found = ids(
        run(
            [
                ("shop", "o1", "record", "mobile", "", "13912345678", 1),
                ("devices", "k1", "actor", "mobile", "", "13912345678", 2),
                ("devices", "k1", "actor", "device_id", "", "abc-123", 2),
                ("ads", "k2", "actor", "device_id", "", "ABC123", 3),
                ("ads", "k3", "actor", "device_id", "", "00000000-0000-0000-0000-000000000000", 4),
            ]
        )
    )
    assert found["shop/o1"] == found["devices/k1"] == found["ads/k2"]
    assert "ads/k3" not in found


def test_records_without_a_usable_identifier_are_anonymous_not_fake_customers():
    records = pl.DataFrame(
        {"source": ["pos", "pos"], "record_id": ["t9", "t8"], "observed_at": [None, None]},
        schema_overrides={"observed_at": pl.Datetime("us")},
    )
    result = run([("pos", "t8", "record", "store", "", "S001", 1)], records=records)
    rows = {r["record_id"]: (r["method"], r["unified_id"]) for r in result.resolved.iter_rows(named=True)}
    assert rows == {"t9": ("anonymous", None), "t8": ("anonymous", None)}


def test_clusters_do_not_depend_on_input_order():
    rows = [("shop", f"o{i}", "record", "mobile", "", f"1391234{i % 7:04d}", i) for i in range(40)]
    records, attributes = frames(rows)
    config = identity_config()
    first_nodes, first_attrs = number_nodes(records, attributes)
    first = ids(resolve(first_nodes, first_attrs, config, salt="s"))
    nodes, attrs = number_nodes(records.reverse(), attributes.sample(fraction=1.0, shuffle=True, seed=3))
    second = ids(resolve(nodes, attrs.sample(fraction=1.0, shuffle=True, seed=4), config, salt="s"))
    assert first == second


def test_member_and_national_ids_are_hashed_in_the_identity_layer():
    result = run(
        [
            ("crm", "a", "record", "member_id", "", "M0001", 1),
            ("crm", "b", "record", "member_id", "", "m-0001", 2),
            ("crm", "c", "record", "member_id", "", "0", 3),
        ]
    )
    found = ids(result)
    assert found["crm/a"] == found["crm/b"]
    assert "M0001" not in str(result.guarded.rows()) and "M0001" not in str(result.links.rows())
