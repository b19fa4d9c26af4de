"""Realistic, deterministic sample data for o2o-cdp, with ground truth.

Draws a population of people with all their identifiers, lets them act through nine feeds
(orders, browsing, social, ads, POS, expos, in-store devices, member coupons, consent decisions),
degrades the identifiers the way
real sources do, and writes the landing zone plus `_truth/` so identity resolution can be
scored exactly:

- `_truth/records.csv`: source, record_id, person_id for every order, POS row and expo sign-up;
- `_truth/people.csv`: each person's true name, identifiers, channel and household;
- `_truth/campaign_groups.csv`: treatment and control members of the tested campaigns.

>>> from pathlib import Path
>>> summary = generate(people=200, seed=7, out=Path("/tmp/o2o-sample"))  # doctest: +SKIP
>>> summary.rows_per_feed["pos_transactions"] > 0  # doctest: +SKIP
True
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from generator import writers
from generator.feeds import ads, browse, consents, coupons, devices, expo, orders, pos, social
from generator.feeds.common import World
from generator.noise import name_forms
from generator.population import build_population, people_frame
from generator.primitives import rng_for
from generator.reference import build_reference, campaigns_frame
from generator.timeline import build_timeline

__all__ = ["GenerationSummary", "generate"]

# identity-bearing feeds and the column that is their record id in `_truth/records.csv`
RECORD_IDS = {
    "ecommerce_orders": "order_id",
    "pos_transactions": "txn_id",
    "expo_registrations": "registration_id",
}


@dataclass(frozen=True)
class GenerationSummary:
    """What a run wrote: `files` counts every file, `identity_records` the rows in the truth."""

    people: int
    files: int
    rows_per_feed: dict[str, int]
    identity_records: int
    seconds: float


def generate(
    people: int, seed: int, out: Path, start: date = date(2026, 5, 1), end: date = date(2026, 10, 31)
) -> GenerationSummary:
    """Write the landing zone for `people` people over [start, end] into `out`.

    The same arguments always give byte-identical files. Only the folders the generator owns
    (the seven feed folders, `reference/`, `_truth/`) are replaced inside `out`.
    """
    began = time.perf_counter()
    out = Path(out)
    timeline = build_timeline(start, end)
    reference = build_reference(rng_for(seed, "reference"), timeline)
    population = build_population(rng_for(seed, "population"), people, timeline, reference)
    world = World(seed, timeline, reference, population, name_forms(population))
    writers.prepare(out)

    rows: dict[str, int] = {}
    files = 0
    truth: list[pl.DataFrame] = []

    def land(feed: str, frame: pl.DataFrame) -> None:
        nonlocal files
        rows[feed] = frame.height
        files += writers.write_feed(out, feed, frame)
        if feed in RECORD_IDS:
            truth.append(
                frame.select(
                    pl.lit(feed).alias("source"),
                    pl.col(RECORD_IDS[feed]).alias("record_id"),
                    population.frame.get_column("person_id")
                    .gather(frame.get_column("_person"))
                    .alias("person_id"),
                )
            )

    ad_frame, responses, groups = ads.build(world)
    land("ad_events", ad_frame)
    del ad_frame  # frames are large: keep one at a time
    order_frame, buying = orders.build(world, responses)
    land("ecommerce_orders", order_frame)
    land("ecommerce_browse", browse.build(world, buying, responses))
    del order_frame, buying
    pos_frame, visits = pos.build(world, responses)
    land("pos_transactions", pos_frame)
    land("device_events", devices.build(world, visits))
    del pos_frame, visits
    land("social_interactions", social.build(world))
    land("expo_registrations", expo.build(world))
    land("member_coupons", coupons.build(world))
    land("consent_events", consents.build(world))

    tables = {
        "reference/stores.csv": (reference.stores, 6),
        "reference/products.csv": (reference.products, 2),
        "reference/campaigns.csv": (campaigns_frame(reference, timeline), 2),
        "reference/kols.csv": (reference.kols, None),
        "_truth/records.csv": (pl.concat(truth), None),
        "_truth/people.csv": (people_frame(population, timeline), None),
        "_truth/campaign_groups.csv": (groups, None),
    }
    for path, (frame, precision) in tables.items():
        writers.write_table(out / path, frame, precision)
    return GenerationSummary(
        people=people,
        files=files + len(tables),
        rows_per_feed={feed: rows[feed] for feed in writers.FEEDS},
        identity_records=sum(rows[feed] for feed in RECORD_IDS),
        seconds=round(time.perf_counter() - began, 2),
    )
