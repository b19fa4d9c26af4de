"""Guarded values are neutral evidence: dropping them from a frame of keys."""

import polars as pl

from assets.identity.steps import without_shared


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
