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
from generator.identity_noise import with_identity_noise
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
TRUTH_COLUMNS = ("source", "record_id", "person_id")


@dataclass(frozen=True)
class GenerationSummary:
    """What a run wrote: `files` counts every file, `identity_records` the rows in the truth."""

    people: int
    files: int
    rows_per_feed: dict[str, int]
    identity_records: int
    seconds: float


CHUNK_PEOPLE = 250_000
"""People whose feeds are drawn and written at a time. A feed's frames for 200 k people take about
2.8 GB; drawn whole for 2 M they passed 22 GB. Populations up to this size are drawn in one piece
(their files are those of earlier versions); larger ones by slices, each slice's files named
`<file>-<slice>` and its ids in blocks of their own."""


def generate(
    people: int,
    seed: int,
    out: Path,
    start: date = date(2026, 5, 1),
    end: date = date(2026, 10, 31),
    chunk_people: int = CHUNK_PEOPLE,
) -> GenerationSummary:
    """Write the landing zone for `people` people over [start, end] into `out`.

    The same arguments always give byte-identical files. Only the folders the generator owns
    (the seven feed folders, `reference/`, `_truth/`) are replaced inside `out`.
    """
    began = time.perf_counter()
    out = Path(out)
    timeline = build_timeline(start, end)
    reference = build_reference(rng_for(seed, "reference"), timeline)
    population = with_identity_noise(
        rng_for(seed, "identity-noise"),
        build_population(rng_for(seed, "population"), people, timeline, reference),
    )
    writers.prepare(out)
    landing = _Landing(out)
    chunks = max(1, -(-population.size // chunk_people))
    groups = []
    for chunk in range(chunks):
        part = population.rows(chunk * chunk_people, (chunk + 1) * chunk_people) if chunks > 1 else population
        world = World(seed, timeline, reference, part, name_forms(part), chunk, chunks)
        groups.append(_land_feeds(world, landing))
        del world, part

    tables = {
        "reference/stores.csv": (reference.stores, 6),
        "reference/products.csv": (reference.products, 2),
        "reference/campaigns.csv": (campaigns_frame(reference, timeline), 2),
        "reference/kols.csv": (reference.kols, None),
        "_truth/people.csv": (people_frame(population, timeline), None),
        "_truth/campaign_groups.csv": (pl.concat(groups), None),
    }
    for path, (frame, precision) in tables.items():
        writers.write_table(out / path, frame, precision)
    return GenerationSummary(
        people=people,
        files=landing.files + len(tables) + 1,
        rows_per_feed={feed: landing.rows.get(feed, 0) for feed in writers.FEEDS},
        identity_records=sum(landing.rows.get(feed, 0) for feed in RECORD_IDS),
        seconds=round(time.perf_counter() - began, 2),
    )


class _Landing:
    """Writes each slice's feeds as they are drawn and appends their records to the truth."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.rows: dict[str, int] = {}
        self.files = 0
        self.truth = out / "_truth" / "records.csv"
        writers.write_table(self.truth, pl.DataFrame(schema=dict.fromkeys(TRUTH_COLUMNS, pl.String)))

    def land(self, world: World, feed: str, frame: pl.DataFrame) -> None:
        self.rows[feed] = self.rows.get(feed, 0) + frame.height
        if world.chunk:
            frame = frame.with_columns(pl.col("_file").str.replace(r"(\.[a-z]+)$", f"-{world.chunk}$1"))
        self.files += writers.write_feed(self.out, feed, frame)
        if feed in RECORD_IDS:
            people = world.population.frame.get_column("person_id")
            records = frame.select(
                pl.lit(feed).alias("source"),
                pl.col(RECORD_IDS[feed]).alias("record_id"),
                people.gather(frame.get_column("_person")).alias("person_id"),
            )
            writers.append_rows(self.truth, records)


def _land_feeds(world: World, landing: _Landing) -> pl.DataFrame:
    """Draw and write every feed for the world's people; returns their tested-campaign groups."""
    ad_frame, responses, groups = ads.build(world)
    landing.land(world, "ad_events", ad_frame)
    del ad_frame  # frames are large: keep one at a time
    order_frame, buying = orders.build(world, responses)
    landing.land(world, "ecommerce_orders", order_frame)
    landing.land(world, "ecommerce_browse", browse.build(world, buying, responses))
    del order_frame, buying
    pos_frame, visits = pos.build(world, responses)
    landing.land(world, "pos_transactions", pos_frame)
    landing.land(world, "device_events", devices.build(world, visits))
    del pos_frame, visits
    landing.land(world, "social_interactions", social.build(world))
    landing.land(world, "expo_registrations", expo.build(world))
    landing.land(world, "member_coupons", coupons.build(world))
    landing.land(world, "consent_events", consents.build(world))
    return groups
