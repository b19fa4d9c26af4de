"""The identity noise of real Chinese customer data that plain feeds under-represent (issue 14).

Each kind comes with its truth (the feeds keep the real person of every row), so the benchmark
measures what a deployment meets rather than what flatters the engine:

- common names in one big city: a share of the biggest city's people carry one of the commonest
  full names (张伟, 王芳, 张秀英…) — homonyms that only other evidence tells apart;
- relatives with related names on one phone: household members who share the head's surname (and,
  in the feeds, often the head's phone) get a sibling's name (刘洋明 / 刘洋辉) or a short form of
  the head's (陈桂兰 / 陈兰);
- one-digit mobile typos: one substituted digit or two adjacent digits swapped, where a person or
  a cashier types the number;
- a shared device: the expo staff's tablet scanning the QR code for visitors, leaving its own
  WeChat id on their sign-ups; a cashier typing their own number for customers who give none.

Swapped name order (``Wei Zhang``, ``伟 张``) is a written name form (``noise.name_forms``).
Every function draws from its own random stream, so adding the noise leaves the other draws alone.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl

from generator import lexicon
from generator.population import (
    GIVEN_CHARS,
    GIVEN_PINYIN,
    SURNAME_CHARS,
    SURNAME_PINYIN,
    Population,
    compose_names,
)
from generator.primitives import where

# (surname, given 1, given 2 or "", female)
COMMON_NAMES = (
    ("张", "伟", "", False),
    ("王", "伟", "", False),
    ("李", "伟", "", False),
    ("刘", "洋", "", False),
    ("王", "芳", "", True),
    ("李", "娜", "", True),
    ("张", "秀", "英", True),
    ("张", "敏", "", True),
)
HOMONYM_SHARE = 0.01  # of the biggest city's people
RELATED_SHARE = 0.6  # of household members sharing the head's surname
TRANSPOSITION_SHARE = 0.3  # of mobile typos: two adjacent digits swapped rather than one substituted


def _biggest_city() -> int:
    return int(np.argmax([c[5] for c in lexicon.CITIES]))


def common_names(
    rng: np.random.Generator, population: Population
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(surname, given1, given2) with a share of the biggest city's people renamed to a common
    name of their gender."""
    surname, given1, given2 = population.surname.copy(), population.given1.copy(), population.given2.copy()
    chosen = np.flatnonzero(
        (population.city == _biggest_city()) & (rng.random(population.size) < HOMONYM_SHARE)
    )
    for female in (False, True):
        names = [n for n in COMMON_NAMES if n[3] == female]
        who = chosen[population.female[chosen] == female]
        pick = rng.integers(0, len(names), size=len(who))
        surname[who] = [SURNAME_CHARS.index(names[p][0]) for p in pick]
        given1[who] = [GIVEN_CHARS.index(names[p][1]) for p in pick]
        given2[who] = [GIVEN_CHARS.index(names[p][2]) if names[p][2] else -1 for p in pick]
    return surname, given1, given2


def related_names(
    rng: np.random.Generator,
    population: Population,
    surname: np.ndarray,
    given1: np.ndarray,
    given2: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(given1, given2) where household members sharing the head's surname get a related name:
    the head's first given character and another one (a sibling's name), or the head's last given
    character alone (a short form)."""
    given1, given2 = given1.copy(), given2.copy()
    household = population.household
    members = np.flatnonzero(household >= 0)
    first = {}
    for person in members[np.argsort(household[members], kind="stable")]:
        first.setdefault(household[person], person)
    head = np.array([first[household[p]] for p in members], dtype=np.int64)
    related = (
        (head != members) & (surname[members] == surname[head]) & (rng.random(len(members)) < RELATED_SHARE)
    )
    who, head = members[related], head[related]
    short = (rng.random(len(who)) < 0.5) & (given2[head] >= 0)
    other = rng.integers(0, len(GIVEN_CHARS), size=len(who))
    other = np.where(other == given2[head], (other + 1) % len(GIVEN_CHARS), other)
    given1[who] = np.where(short, given2[head], given1[head])
    given2[who] = np.where(short, -1, other)
    return given1, given2


def with_identity_noise(rng: np.random.Generator, population: Population) -> Population:
    """The population with common names in the biggest city and related names in households."""
    surname, given1, given2 = common_names(rng, population)
    given1, given2 = related_names(rng, population, surname, given1, given2)
    frame = population.frame.with_columns(
        name=compose_names(surname, given1, given2, SURNAME_CHARS, GIVEN_CHARS),
        pinyin=compose_names(surname, given1, given2, SURNAME_PINYIN, GIVEN_PINYIN),
    )
    return dataclasses.replace(population, frame=frame, surname=surname, given1=given1, given2=given2)


def typo_mobiles(rng: np.random.Generator, mobiles: pl.Series, share: float | np.ndarray) -> pl.Series:
    """One typo in a share of the 11-digit mobiles (never in the 3-digit prefix): a substituted
    digit, or two adjacent digits swapped."""
    n = len(mobiles)
    hit = rng.random(n) < share
    at = rng.integers(3, 10, size=n)
    swap = rng.random(n) < TRANSPOSITION_SHARE
    digit = pl.Series(rng.integers(0, 10, size=n)).cast(pl.String)
    m, i = pl.col("m"), pl.col("at")
    substituted = pl.concat_str(m.str.slice(0, i), "d", m.str.slice(i + 1))
    swapped = pl.concat_str(m.str.slice(0, i), m.str.slice(i + 1, 1), m.str.slice(i, 1), m.str.slice(i + 2))
    return (
        pl.DataFrame({"m": mobiles, "at": at, "d": digit, "hit": hit, "swap": swap})
        .select(
            pl.when(pl.col("hit") & pl.col("swap")).then(swapped).when("hit").then(substituted).otherwise(m)
        )
        .to_series()
    )


def tablet_wxids(
    rng: np.random.Generator, wxids: pl.Series, venue: pl.Series, share: float | np.ndarray
) -> pl.Series:
    """A share of scanned WeChat ids replaced by the venue's staff tablet's own id."""
    tablet = "wxid_tablet_" + venue.cast(pl.String).str.to_lowercase()
    return where(wxids.is_not_null().to_numpy() & (rng.random(len(wxids)) < share), tablet, wxids)
