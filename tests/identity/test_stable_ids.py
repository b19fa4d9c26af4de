"""Unified ids survive runs; merges keep the oldest id, splits keep it on the larger part."""

from datetime import datetime

import polars as pl

from assets.identity.stable_ids import assign_ids, new_unified_id
from tests.identity.helpers import ids, run

BASE = [
    ("shop", "a1", "record", "email", "", "a@x.cn", 1),
    ("shop", "a2", "record", "email", "", "a@x.cn", 2),
    ("shop", "b1", "record", "email", "", "b@x.cn", 3),
    ("shop", "b2", "record", "email", "", "b@x.cn", 4),
    ("shop", "c1", "record", "email", "", "c@x.cn", 5),
]


def test_unchanged_people_keep_their_ids_when_new_records_arrive():
    first = run(BASE)
    second = run(
        BASE
        + [
            ("shop", "a3", "record", "email", "", "A@x.cn", 9),
            ("shop", "d1", "record", "email", "", "d@x.cn", 9),
        ],
        previous=first,
    )
    before, after = ids(first), ids(second)
    assert all(after[k] == v for k, v in before.items())
    assert after["shop/a3"] == before["shop/a1"]
    assert second.history.is_empty()
    first_runs = dict(zip(second.resolved["record_id"], second.resolved["first_linked_run"], strict=False))
    assert first_runs["a1"] == "run-1" and first_runs["d1"] == "run-2"


def test_a_merge_keeps_the_oldest_id_and_is_logged():
    first = run(BASE)
    bridge = [
        ("shop", "x1", "record", "email", "", "b@x.cn", 9),
        ("shop", "x1", "record", "device_id", "", "DEV9", 9),
        ("shop", "x2", "record", "email", "", "c@x.cn", 9),
        ("shop", "x2", "record", "device_id", "", "DEV9", 9),
    ]
    second = run(BASE + bridge, previous=first)
    before, after = ids(first), ids(second)
    assert after["shop/b1"] == after["shop/c1"] == before["shop/b1"]
    event = second.history.row(0, named=True)
    assert (event["event"], event["unified_id"], event["other_unified_id"], event["records"]) == (
        "merge",
        before["shop/b1"],
        before["shop/c1"],
        1,
    )
    assert event["record_keys"] == ["shop:c1"]


def test_a_split_keeps_the_id_on_the_larger_part_and_is_logged():
    shared = [("shop", k, "record", "device_id", "", "DEV1", h) for k, h in (("a1", 1), ("b1", 3))]
    first = run(BASE + shared)
    before = ids(first)
    assert before["shop/a1"] == before["shop/b1"]
    # the device is now seen with many member cards: a store's shared tablet, no longer a merge key
    desk = [("pos", f"z{i}", "record", "member_id", "", f"MZ{i}", 10) for i in range(4)]
    desk += [("pos", f"z{i}", "record", "device_id", "", "DEV1", 10) for i in range(4)]
    second = run(BASE + shared + desk, previous=first)
    after = ids(second)
    assert after["shop/a1"] != after["shop/b1"]
    assert before["shop/a1"] in (after["shop/a1"], after["shop/b1"])
    splits = second.history.filter(pl.col("event") == "split")
    assert splits.height == 1 and splits.row(0, named=True)["other_unified_id"] == before["shop/a1"]


def test_a_rebuild_from_scratch_gives_the_same_ids():
    assert ids(run(BASE)) == ids(run(list(reversed(BASE))))


def test_a_new_id_comes_from_the_earliest_dated_record_then_the_smallest_name():
    day = [datetime(2026, 5, d) for d in (1, 2, 3)]
    current = pl.DataFrame(
        {
            "node": [1, 2, 3, 4, 5, 6, 7],
            "cluster": [10, 10, 10, 20, 20, 30, 30],
            "observed_at": [day[1], day[0], day[0], None, None, None, day[2]],
        }
    )
    names = pl.DataFrame(
        {
            "node": [1, 2, 3, 4, 5, 6, 7, 8],
            "source": ["shop", "pos", "pos", "shop", "crm", "aaa", "zzz", "aaa"],
            "record_id": ["z", "b", "a", "q", "r", "x", "y", "0"],
        }
    )
    got = dict(assign_ids(current, names, None, "run-1", day[2]).ids.select("cluster", "unified_id").rows())
    assert got == {
        10: new_unified_id("pos", "a"),  # two records on the earliest day: the smaller name
        20: new_unified_id("crm", "r"),  # none dated: the smallest name
        30: new_unified_id("zzz", "y"),  # a dated record before any undated one
    }
