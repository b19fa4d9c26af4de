"""`expo_registrations`: hand-typed trade-show sign-ups, before the show online or on site.

On-site forms are typed in a hurry: more homophones, more romanised names, now and then a
mistyped mobile digit, and the same visitor registering twice. A QR scan on site captures the
visitor's `wxid_`.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from generator import identity_noise, lexicon, noise
from generator.feeds.common import DAY, World, day_strings, keep_in_range, timestamps
from generator.primitives import choose, choose_per_row, format_ids, where
from generator.reference import CATEGORY_NAMES
from generator.timeline import EXPO_HOURS, ONLINE_HOURS, sample_seconds

ATTEND_SHARE = 0.15
SECOND_EXPO_SHARE = 0.2
DUPLICATE_SHARE = 0.06
ONSITE_SHARE = 0.35
PRE_NAMES = {
    "canonical": 85,
    "homophone": 4,
    "traditional": 2,
    "spaced": 3,
    "pinyin_title": 4,
    "pinyin_lower": 1,
    "pinyin_upper": 1,
    "pinyin_swapped": 2,
    "swapped": 0.5,
}
ONSITE_NAMES = {
    "canonical": 68,
    "homophone": 12,
    "traditional": 3,
    "spaced": 5,
    "pinyin_title": 6,
    "pinyin_lower": 3,
    "pinyin_upper": 3,
    "pinyin_swapped": 3,
    "swapped": 1,
}
TABLET_SCAN_SHARE = 0.05  # on-site QR scans done on the staff's tablet, leaving its WeChat id
# the category each expo draws its crowd from, in lexicon.EXPOS order
EXPO_THEMES = ("美妆", "健身", "母婴", None, None)


def _mistype_digit(rng: np.random.Generator, mobiles: pl.Series, share: np.ndarray) -> pl.Series:
    """Replace one digit (not of the prefix) in a per-row share of the 11-digit mobiles."""
    n = len(mobiles)
    hit = rng.random(n) < share
    at = rng.integers(3, 11, size=n)
    digit = pl.Series(rng.integers(0, 10, size=n)).cast(pl.String)
    m = pl.col("m")
    return (
        pl.DataFrame({"m": mobiles, "at": at, "d": digit, "hit": hit})
        .select(
            pl.when("hit")
            .then(pl.concat_str(m.str.slice(0, pl.col("at")), "d", m.str.slice(pl.col("at") + 1)))
            .otherwise(m)
        )
        .to_series()
    )


def build(world: World) -> pl.DataFrame:
    rng = world.rng("expo")
    pop, ref, timeline = world.population, world.reference, world.timeline
    expos = [(i, e) for i, e in enumerate(ref.expos) if e.last_day >= 0 and e.first_day < timeline.days]
    if not expos or pop.size == 0:
        none = np.empty(0, dtype=np.int64)
        return _frame(rng, world, none, none, none.astype(bool), np.empty(0, dtype=str))
    city_names = [c[0] for c in lexicon.CITIES]
    provinces = np.array([c[1] for c in lexicon.CITIES])
    weights = np.ones((pop.size, len(expos)))
    for j, (i, expo) in enumerate(expos):
        home = city_names.index(expo.city)
        weights[:, j] += 2 * (provinces[pop.city] == provinces[home]) + 4 * (pop.city == home)
        theme = EXPO_THEMES[i]
        if theme is not None:
            weights[:, j] *= np.where(pop.favourite == CATEGORY_NAMES.index(theme), 2.5, 1.0)
    attendee = np.flatnonzero(rng.random(pop.size) < ATTEND_SHARE)
    first = choose_per_row(rng, weights[attendee])
    again = rng.random(len(attendee)) < SECOND_EXPO_SHARE
    second_pick = choose_per_row(rng, weights[attendee[again]])
    distinct = second_pick != first[again]
    person = np.concatenate([attendee, attendee[again][distinct]])
    expo = np.concatenate([first, second_pick[distinct]])
    twice = rng.random(len(person)) < DUPLICATE_SHARE
    person = np.concatenate([person, person[twice]])
    expo = np.concatenate([expo, expo[twice]])

    n = len(person)
    expo_first = np.array([e.first_day for _, e in expos])[expo]
    expo_last = np.array([e.last_day for _, e in expos])[expo]
    ahead = np.clip(expo_first, 0, 30)  # registration opens 30 days ahead, or when the range starts
    onsite = (rng.random(n) < ONSITE_SHARE) | (ahead == 0)
    pre_day = expo_first - 1 - (rng.random(n) * ahead).astype(np.int64)
    site_day = expo_first + (rng.random(n) * (expo_last - expo_first + 1)).astype(np.int64)
    day = np.where(onsite, site_day, pre_day)
    second = day * DAY + np.where(
        onsite, sample_seconds(rng, n, EXPO_HOURS), sample_seconds(rng, n, ONLINE_HOURS)
    )
    keep = keep_in_range(world, second)
    order = np.argsort(second[keep], kind="stable")
    person, second, onsite = person[keep][order], second[keep][order], onsite[keep][order]
    expo_ids = np.array([e.expo_id for _, e in expos])[expo[keep][order]]
    return _frame(rng, world, person, second, onsite, expo_ids)


def _frame(
    rng: np.random.Generator,
    world: World,
    person: np.ndarray,
    second: np.ndarray,
    onsite: np.ndarray,
    expo_ids: np.ndarray,
) -> pl.DataFrame:
    pop = world.population
    n = len(person)
    pre = noise.noisy_names(rng, world.names, person, PRE_NAMES, missing=0.06)
    site = noise.noisy_names(rng, world.names, person, ONSITE_NAMES, missing=0.12)
    mobiles = noise.true_mobiles(rng, pop, person, second // DAY, 0.2)
    mobiles = _mistype_digit(rng, mobiles, 0.03 * onsite)
    mobiles = noise.blank(rng, noise.format_mobiles(rng, mobiles, 0.5), 0.05)
    favourite = pop.favourite[person]
    other = choose(rng, np.ones(len(CATEGORY_NAMES)), n)
    third = choose(rng, np.ones(len(CATEGORY_NAMES)), n)
    cats = pl.Series(CATEGORY_NAMES)
    interests = (
        pl.DataFrame(
            {
                "a": cats.gather(favourite),
                "b": where((other != favourite) & (rng.random(n) < 0.6), cats.gather(other)),
                "c": where(
                    (third != favourite) & (third != other) & (rng.random(n) < 0.3), cats.gather(third)
                ),
            }
        )
        .select(pl.concat_str("a", "b", "c", separator=";", ignore_nulls=True))
        .to_series()
    )
    gender = pl.Series(np.where(pop.female[person], "女", "男"))
    return pl.DataFrame(
        {
            "registration_id": format_ids("RG", world.random_ids(rng, n, 10**9, 10**10), 10),
            "expo_id": pl.Series(expo_ids, dtype=pl.String),
            "name": where(onsite, site, pre),
            "mobile": mobiles,
            "email": noise.blank(rng, pop.column("email", person), 0.4),
            "company": noise.blank(rng, pop.column("company", person), 0.1),
            "title": noise.blank(rng, pop.column("title", person), 0.2),
            "city": noise.city_names(rng, pop.city[person], (0.5, 0.35, 0.15)),
            "gender": noise.blank(rng, gender, 0.25),
            "birth_date": noise.blank(rng, pl.Series(pop.birth[person].astype(str)), 0.7),
            "interests": noise.blank(rng, interests, 0.1),
            "wxid": identity_noise.tablet_wxids(
                world.rng("expo-tablet"),
                where(rng.random(n) < np.where(onsite, 0.6, 0.25), pop.column("wxid", person)),
                pl.Series(expo_ids, dtype=pl.String),
                TABLET_SCAN_SHARE * onsite,
            ),
            "registered_at": timestamps(world, second),
            "_dir": day_strings(world, second),
            "_person": person,
        }
    ).with_columns(_file=pl.concat_str(pl.lit("expo_"), "expo_id", pl.lit("_"), "_dir", pl.lit(".csv")))
