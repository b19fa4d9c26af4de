from datetime import datetime, timedelta

import polars as pl

from assets.identity.stitching import stitch, unified_id
from pipelines.config import identity_config

T0 = datetime(2026, 5, 1)


def frames(rows: list[tuple]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """rows: (source, record_id, record_type, kind, namespace, value, hours after T0)."""
    attributes = pl.DataFrame(
        [dict(zip(("source", "record_id", "record_type", "attribute_kind", "namespace", "value"), r[:6]),
              observed_at=T0 + timedelta(hours=r[6])) for r in rows])
    records = (attributes.filter(pl.col("record_type") == "record")
               .group_by("source", "record_id").agg(pl.col("observed_at").min()))
    return records, attributes


def clusters(result) -> dict[str, str]:
    return {f"{r['source']}/{r['record_id']}": r["unified_id"] for r in result.resolved.iter_rows(named=True)}


def test_records_sharing_a_strong_identifier_merge_and_keep_the_oldest_records_id():
    records, attributes = frames([
        ("pos", "t1", "record", "mobile", "", "13912345678", 5),
        ("shop", "o1", "record", "mobile", "", "13912345678", 1),
        ("shop", "o1", "record", "platform_account", "tmall", "tb_amy", 1),
        ("shop", "o2", "record", "platform_account", "tmall", "tb_amy", 9),
    ])
    result = stitch(records, attributes, identity_config())
    ids = clusters(result)
    assert ids["pos/t1"] == ids["shop/o1"] == ids["shop/o2"] == unified_id("shop", "o1")
    rules = dict(zip(result.resolved["record_id"], result.resolved["rule"]))
    assert rules == {"t1": "mobile", "o1": "platform_account", "o2": "platform_account"}


def test_a_placeholder_phone_never_merges_strangers():
    records, attributes = frames([
        ("pos", "t1", "record", "mobile", "", "13800000000", 1),
        ("pos", "t2", "record", "mobile", "", "13800000000", 2),
    ])
    result = stitch(records, attributes, identity_config())
    ids = clusters(result)
    assert ids["pos/t1"] != ids["pos/t2"]
    assert set(result.resolved["method"]) == {"singleton"}
    assert result.guarded.rows() == [("mobile", "13800000000", "blocked_value")]


def test_a_number_shared_by_many_accounts_is_not_a_merge_key():
    rows = [("shop", f"o{i}", "record", "platform_account", "tmall", f"tb_{i}", i) for i in range(4)]
    rows += [("shop", f"o{i}", "record", "mobile", "", "13700001111", i) for i in range(4)]
    records, attributes = frames(rows)
    result = stitch(records, attributes, identity_config())
    assert result.resolved["unified_id"].n_unique() == 4
    assert ("mobile", "13700001111", "shared_identifier") in result.guarded.rows()


def test_namespaced_accounts_only_match_within_their_platform():
    records, attributes = frames([
        ("shop", "o1", "record", "platform_account", "tmall", "lucky", 1),
        ("shop", "o2", "record", "platform_account", "jd", "lucky", 2),
        ("shop", "o3", "record", "platform_account", "jd", "lucky", 3),
    ])
    ids = clusters(stitch(records, attributes, identity_config()))
    assert ids["shop/o2"] == ids["shop/o3"] != ids["shop/o1"]


def test_actors_join_people_through_identifiers_and_unusable_actors_stay_anonymous():
    records, attributes = frames([
        ("shop", "o1", "record", "mobile", "", "13912345678", 1),
        ("devices", "k1", "actor", "mobile", "", "13912345678", 2),
        ("devices", "k1", "actor", "device_id", "", "ABC123", 2),
        ("ads", "k2", "actor", "device_id", "", "ABC123", 3),
        ("ads", "k3", "actor", "device_id", "", "UNKNOWN", 4),
    ])
    result = stitch(records, attributes, identity_config())
    ids = clusters(result)
    assert ids["shop/o1"] == ids["devices/k1"] == ids["ads/k2"]
    assert "ads/k3" not in ids


def test_records_without_any_identifier_still_get_their_own_id():
    records = pl.DataFrame({"source": ["pos"], "record_id": ["t9"], "observed_at": [T0]})
    attributes = pl.DataFrame(schema={"source": pl.String, "record_id": pl.String, "record_type": pl.String,
                                      "attribute_kind": pl.String, "namespace": pl.String, "value": pl.String,
                                      "observed_at": pl.Datetime("us")})
    result = stitch(records, attributes, identity_config())
    assert result.resolved.select("record_id", "method").rows() == [("t9", "singleton")]


def test_ids_do_not_depend_on_input_order():
    _, attributes = frames([
        ("shop", f"o{i}", "record", "mobile", "", f"1391234{i % 7:04d}", i) for i in range(40)
    ])
    records = attributes.group_by("source", "record_id").agg(pl.col("observed_at").min())
    first = clusters(stitch(records, attributes, identity_config()))
    second = clusters(stitch(records.reverse(), attributes.sample(fraction=1.0, shuffle=True, seed=3),
                             identity_config()))
    assert first == second
