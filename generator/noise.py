"""How clean identifiers get dirty on their way into a feed.

Each function takes the true values for a batch of records and returns what a cashier, a
platform export or a hand-typed form would show: reformatted mobiles, typo'd or romanised
names, placeholders, mixed-case device ids, blanks. Rates are arguments so that each feed can
say how careless its source is.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from opencc import OpenCC

from generator import lexicon
from generator.population import (
    GIVEN_CHARS,
    GIVEN_PINYIN,
    PLACEHOLDER_MOBILES,
    SURNAME_CHARS,
    SURNAME_PINYIN,
    Population,
    compose_names,
)
from generator.primitives import choose, where

# The ways a mobile is written; weights of the non-canonical ones.
MOBILE_STYLE_WEIGHTS = np.array([3, 2, 2, 2, 1, 1], dtype=float)
FULL_WIDTH = [chr(0xFF10 + d) for d in range(10)]
# Name forms, in the order `name_forms` stacks them.
# pinyin_swapped: given name first (Wei Zhang); swapped: the given name typed into the surname field (伟 张)
NAME_FORMS = (
    "canonical",
    "homophone",
    "traditional",
    "spaced",
    "pinyin_title",
    "pinyin_lower",
    "pinyin_upper",
    "pinyin_swapped",
    "swapped",
)


def format_mobiles(rng: np.random.Generator, mobiles: pl.Series, noisy: float) -> pl.Series:
    """Rewrite a share `noisy` of 11-digit mobiles in one of the usual other notations."""
    n = len(mobiles)
    style = np.where(rng.random(n) < noisy, 1 + choose(rng, MOBILE_STYLE_WEIGHTS, n), 0)
    m = pl.col("m")
    a, b, c = m.str.slice(0, 3), m.str.slice(3, 4), m.str.slice(7, 4)
    s = pl.col("style")
    return (
        pl.DataFrame({"m": mobiles, "style": style})
        .select(
            pl.when(s == 1)
            .then(pl.concat_str(pl.lit("+86 "), a, pl.lit(" "), b, pl.lit(" "), c))
            .when(s == 2)
            .then(pl.concat_str(pl.lit("+86"), m))
            .when(s == 3)
            .then(pl.concat_str(a, pl.lit("-"), b, pl.lit("-"), c))
            .when(s == 4)
            .then(pl.concat_str(a, pl.lit(" "), b, pl.lit(" "), c))
            .when(s == 5)
            .then(pl.concat_str(pl.lit("86-"), m))
            .when(s == 6)
            .then(m.str.replace_many(list("0123456789"), FULL_WIDTH))
            .otherwise(m)
        )
        .to_series()
    )


def true_mobiles(
    rng: np.random.Generator,
    population: Population,
    people: np.ndarray,
    days: np.ndarray,
    shared_rate: float = 0.5,
) -> pl.Series:
    """The number a person would give on `day`: the new one after a change, sometimes the family's."""
    changed = days >= population.mobile_change_day[people]
    shared = population.column("shared_mobile", people)
    use_shared = shared.is_not_null().to_numpy() & (rng.random(len(people)) < shared_rate)
    return (
        pl.DataFrame(
            {
                "own": population.column("mobile", people),
                "new": population.column("mobile_new", people),
                "shared": shared,
                "use_shared": use_shared,
                "changed": changed,
            }
        )
        .select(pl.when("use_shared").then("shared").when("changed").then("new").otherwise("own"))
        .to_series()
    )


def with_placeholders(
    rng: np.random.Generator, mobiles: pl.Series, rate: float
) -> tuple[pl.Series, np.ndarray]:
    """Replace a share `rate` by the cashier's stock numbers; returns the values and where."""
    n = len(mobiles)
    hit = rng.random(n) < rate
    stock = pl.Series(PLACEHOLDER_MOBILES).gather(choose(rng, np.array([6.0, 2.0, 2.0]), n))
    return where(hit, stock, mobiles), hit


def name_forms(population: Population) -> pl.Series:
    """All written forms of every name, stacked form by form (index form * people + person)."""
    n = population.size
    s, g1, g2 = population.surname, population.given1, population.given2
    homophone_sur = [lexicon.HOMOPHONES.get(c, c) for c in SURNAME_CHARS]
    homophone_given = [lexicon.HOMOPHONES.get(c, c) for c in GIVEN_CHARS]
    can_change = np.stack(
        [
            np.array([h != c for h, c in zip(homophone_sur, SURNAME_CHARS, strict=False)])[s],
            np.array([h != c for h, c in zip(homophone_given, GIVEN_CHARS, strict=False)])[g1],
            np.where(
                g2 >= 0,
                np.array([h != c for h, c in zip(homophone_given, GIVEN_CHARS, strict=False)])[
                    np.maximum(g2, 0)
                ],
                False,
            ),
        ],
        axis=1,
    )
    # the typo hits one changeable character, chosen by a hash of the person so it is stable
    score = can_change * (1 + (np.arange(n)[:, None] * np.array([7, 13, 29])) % 5)
    target = np.where(can_change.any(axis=1), score.argmax(axis=1), -1)
    nsur, ngiv = len(SURNAME_CHARS), len(GIVEN_CHARS)
    homophone = compose_names(
        np.where(target == 0, s + nsur, s),
        np.where(target == 1, g1 + ngiv, g1),
        np.where((target == 2) & (g2 >= 0), g2 + ngiv, g2),
        SURNAME_CHARS + homophone_sur,
        GIVEN_CHARS + homophone_given,
    )
    to_traditional = OpenCC("s2t").convert
    traditional = compose_names(
        s, g1, g2, [to_traditional(c) for c in SURNAME_CHARS], [to_traditional(c) for c in GIVEN_CHARS]
    )
    sur_py = pl.Series(SURNAME_PINYIN).gather(s)
    given_py = compose_names(np.zeros(n, dtype=np.int64), g1, g2, [""], GIVEN_PINYIN)
    canonical = population.frame.get_column("name")
    forms = pl.DataFrame({"sur": sur_py, "giv": given_py, "can": canonical}).select(
        pl.col("can").alias("canonical"),
        homophone.alias("homophone"),
        traditional.alias("traditional"),
        pl.concat_str(pl.col("can").str.slice(0, 1), pl.lit(" "), pl.col("can").str.slice(1)).alias("spaced"),
        pl.concat_str(pl.col("sur").str.to_titlecase(), pl.lit(" "), pl.col("giv").str.to_titlecase()).alias(
            "t"
        ),
        pl.concat_str("sur", "giv").alias("l"),
        pl.concat_str(pl.col("sur").str.to_uppercase(), pl.lit(" "), pl.col("giv").str.to_titlecase()).alias(
            "u"
        ),
        pl.concat_str(pl.col("giv").str.to_titlecase(), pl.lit(" "), pl.col("sur").str.to_titlecase()).alias(
            "gs"
        ),
        pl.concat_str(pl.col("can").str.slice(1), pl.lit(" "), pl.col("can").str.slice(0, 1)).alias(
            "swapped"
        ),
    )
    return pl.concat([forms.get_column(c) for c in forms.columns])


def noisy_names(
    rng: np.random.Generator, forms: pl.Series, people: np.ndarray, weights: dict[str, float], missing: float
) -> pl.Series:
    """Pick a written form per record (weights by NAME_FORMS entry) and blank a share `missing`."""
    n_people = len(forms) // len(NAME_FORMS)
    form = choose(rng, np.array([weights.get(f, 0.0) for f in NAME_FORMS]), len(people))
    names = forms.gather(form * n_people + people)
    return blank(rng, names, missing)


def blank(rng: np.random.Generator, values: pl.Series, share: float) -> pl.Series:
    """Null out a random share of the values."""
    return where(rng.random(len(values)) >= share, values)


def mixed_case(rng: np.random.Generator, ids: pl.Series, share: float) -> pl.Series:
    """Upper- or lower-case a share of the ids, as different SDKs report the same device."""
    flip = np.where(rng.random(len(ids)) < share, 1 + (rng.random(len(ids)) < 0.5), 0)
    return (
        pl.DataFrame({"v": ids, "f": flip})
        .select(
            pl.when(pl.col("f") == 1)
            .then(pl.col("v").str.to_uppercase())
            .when(pl.col("f") == 2)
            .then(pl.col("v").str.to_lowercase())
            .otherwise("v")
        )
        .to_series()
    )


def city_names(
    rng: np.random.Generator, cities: np.ndarray, weights: tuple[float, float, float]
) -> pl.Series:
    """A city as written: `上海`, `上海市` or `Shanghai`, with the given weights."""
    forms = pl.Series(
        [c[0] for c in lexicon.CITIES]
        + [c[0] + "市" for c in lexicon.CITIES]
        + [c[6] for c in lexicon.CITIES]
    )
    return forms.gather(choose(rng, np.array(weights), len(cities)) * len(lexicon.CITIES) + cities)
