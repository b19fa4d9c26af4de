"""`device_events`: what the store's hardware saw around each visit.

A visit (a purchase, or a look around without buying) can leave a beacon sighting of the phone,
a Wi-Fi portal login with the mobile number, a member-code scan, and try-ons on the AR mirror or
smart shelf — the latter all on the store's one shared tablet, a classic over-linking trap.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from generator import noise
from generator.feeds.common import (
    DAY,
    World,
    activity_rows,
    categories_for,
    day_strings,
    keep_in_range,
    products_for,
    timestamps,
)
from generator.feeds.pos import StoreVisits
from generator.primitives import where
from generator.reference import CATEGORY_NAMES
from generator.timeline import STORE_HOURS, sample_seconds

BROWSE_ONLY_VISITS = 0.5  # visits without a purchase, per purchase
DEVICE_TYPES = ("wifi_portal", "beacon", "ar_mirror", "smart_shelf", "member_scan")
WIFI, BEACON, AR_MIRROR, SMART_SHELF, MEMBER_SCAN = range(5)


def build(world: World, visits: StoreVisits) -> pl.DataFrame:
    rng = world.rng("devices")
    pop, ref = world.population, world.reference
    extra, day = activity_rows(
        rng, world, pop.offline, BROWSE_ONLY_VISITS * len(visits.person), world.timeline.offline
    )
    person = np.concatenate([visits.person, extra])
    store = np.concatenate([visits.store, pop.home_store[extra]])
    duration = np.clip(rng.lognormal(7.0, 0.6, size=len(person)), 120, 3 * 3600).astype(np.int64)
    start = (
        np.concatenate([visits.second, day * DAY + sample_seconds(rng, len(extra), STORE_HOURS)])
        - duration // 2
    )
    v = len(person)
    has_app = rng.random(pop.size) < 0.45

    # one sub-array per signal: (visit, type, offset into the visit)
    beacon = np.flatnonzero(has_app[person])
    wifi = np.flatnonzero(rng.random(v) < 0.22)
    scan = np.flatnonzero(pop.member[person] & (rng.random(v) < 0.3))
    tries = rng.poisson(0.5, size=v) * (rng.random(v) < 0.45)
    trial = np.repeat(np.arange(v), tries)
    trial_type = np.where(rng.random(len(trial)) < 0.5, AR_MIRROR, SMART_SHELF)
    visit = np.concatenate([beacon, wifi, scan, trial])
    kind = np.concatenate(
        [np.full(len(beacon), BEACON), np.full(len(wifi), WIFI), np.full(len(scan), MEMBER_SCAN), trial_type]
    )
    offset = np.where(kind == BEACON, 0, (rng.random(len(visit)) * duration[visit]).astype(np.int64))
    second = start[visit] + offset
    keep = keep_in_range(world, second)
    order = np.lexsort((kind, visit, second))
    order = order[keep[order]]
    visit, kind, second = visit[order], kind[order], second[order]
    n = len(visit)
    who = person[visit]

    tried = (kind == AR_MIRROR) | (kind == SMART_SHELF)
    category = np.where(
        kind == AR_MIRROR, CATEGORY_NAMES.index("美妆"), categories_for(rng, pop.favourite[who], 0.5)
    )
    product = products_for(rng, ref, category)
    phone = pop.phones(rng, who)
    device = pl.select(
        pl.when(pl.Series(tried))
        .then(ref.store_tablet.gather(store[visit]))
        .when(pl.Series((kind == BEACON) | (kind == WIFI)))
        .then(noise.mixed_case(rng, phone, 0.1))
    ).to_series()
    mobile = noise.format_mobiles(rng, noise.true_mobiles(rng, pop, who, second // DAY, 0.2), 0.1)
    dwell = np.where(kind == BEACON, duration[visit], rng.integers(15, 240, size=n))
    return pl.DataFrame(
        {
            "event_id": world.serial_ids("DV", np.arange(1, n + 1), 12),
            "store_id": ref.stores.get_column("store_id").gather(store[visit]),
            "device_type": pl.Series(DEVICE_TYPES).gather(kind),
            "event_time": timestamps(world, second),
            "device_id": device,
            "mobile": where(kind == WIFI, mobile),
            "member_card": where(kind == MEMBER_SCAN, pop.column("member_card", who)),
            "dwell_seconds": where((kind == BEACON) | tried, pl.Series(dwell)),
            "product_id": where(tried, ref.products.get_column("product_id").gather(product)),
            "_dir": day_strings(world, second),
        }
    ).with_columns(_file=pl.concat_str(pl.lit("devices_"), "_dir", pl.lit(".csv")))
