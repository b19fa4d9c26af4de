"""`member_coupons`: the membership CRM's coupon ledger — coupons issued to card holders, each with
an expiry, and their redemptions. It is what "coupons about to expire" audiences are built from."""

from __future__ import annotations

import numpy as np
import polars as pl

from generator.feeds.common import DAY, World, day_strings, keep_in_range, timestamps
from generator.timeline import STORE_HOURS, sample_seconds

COUPONS_PER_MEMBER_MONTH = 0.4
VALID_DAYS = np.array([7, 14, 30])
VALUES = np.array([10.0, 20.0, 50.0])
REDEEMED = 0.35  # share of coupons used before they expire


def build(world: World) -> pl.DataFrame:
    rng = world.rng("coupons")
    pop = world.population
    members = np.flatnonzero(pop.member & (pop.leave > pop.arrive))
    months = (pop.leave[members] - pop.arrive[members]) / 30
    person = np.repeat(members, rng.poisson(COUPONS_PER_MEMBER_MONTH * months))
    n = len(person)
    issue_day = rng.integers(pop.arrive[person], pop.leave[person])
    issued = issue_day * DAY + sample_seconds(rng, n, STORE_HOURS)
    valid = VALID_DAYS[rng.integers(0, len(VALID_DAYS), n)]
    expires = (issue_day + valid) * DAY - 1  # the end of the last valid day
    redeemed = rng.random(n) < REDEEMED
    used = issued + (rng.random(n) * (expires - issued)).astype(np.int64)
    coupon = world.serial_ids("CP", np.arange(1, n + 1), 10)
    kinds = [(np.ones(n, bool), issued, "coupon_issued"), (redeemed, used, "coupon_redeemed")]
    rows = [
        pl.DataFrame(
            {
                "_second": second[mask],
                "coupon_id": coupon.filter(pl.Series(mask)),
                "_person": person[mask],
                "event_type": kind,
                "expires_at": timestamps(world, expires[mask]),
                "coupon_value": VALUES[rng.integers(0, len(VALUES), n)][mask],
            }
        )
        for mask, second, kind in kinds
    ]
    frame = pl.concat(rows).sort("_second")
    frame = frame.filter(pl.Series(keep_in_range(world, frame["_second"].to_numpy())))
    second = frame["_second"].to_numpy()
    who = frame["_person"].to_numpy()
    return pl.DataFrame(
        {
            "event_id": world.serial_ids("CE", np.arange(1, frame.height + 1), 12),
            "coupon_id": frame["coupon_id"],
            "member_card": pop.column("member_card", who),
            "event_type": frame["event_type"],
            "event_time": timestamps(world, second),
            "expires_at": frame["expires_at"],
            "coupon_value": frame["coupon_value"],
            "_dir": day_strings(world, second),
        }
    ).with_columns(_file=pl.concat_str(pl.lit("coupons_"), "_dir", pl.lit(".jsonl")))
