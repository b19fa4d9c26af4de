"""Guarded values are neutral evidence: dropping them from a frame of keys."""

import polars as pl

from assets.identity.steps import split_shared, without_shared


def test_without_shared_drops_exactly_the_shared_identifiers_and_keeps_the_order():
    frame = pl.DataFrame(
        {
            "node": [1, 2, 3, 4, 5],
            "kind_ns": ["mobile", "platform_account:tmall", "platform_account:jd", "mobile", "store"],
            "key": ["13900000001", "a:b", "a:b", "13900000002", "a:b"],
        }
    )
    shared = pl.DataFrame({"identifier": ["platform_account:tmall:a:b", "mobile:13900000002"]})
    assert without_shared(frame, shared).get_column("node").to_list() == [1, 3, 5]
    assert without_shared(frame, shared.clear()).equals(frame)


def test_split_shared_keeps_the_refused_rows_beside_the_usable_ones():
    """A full run stores every key (node_keys) but links on the usable ones: the two parts together
    are the frame, with no second copy of it."""
    frame = pl.DataFrame(
        {
            "node": [1, 2, 3, 4],
            "kind_ns": ["mobile", "mobile", "email", "mobile"],
            "key": ["13900000001", "13900000002", "a@x.cn", "13900000002"],
        }
    )
    usable, refused = split_shared(frame, pl.DataFrame({"identifier": ["mobile:13900000002"]}))
    assert usable.get_column("node").to_list() == [1, 3]
    assert refused.get_column("node").to_list() == [2, 4]
    nothing_shared = split_shared(frame, pl.DataFrame({"identifier": ["email:b@x.cn"]}))
    assert nothing_shared[0].equals(frame) and nothing_shared[1].is_empty()
    assert nothing_shared[1].schema == frame.schema
