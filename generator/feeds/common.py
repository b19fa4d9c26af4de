"""What every feed builder shares: the world it draws from and the per-row building blocks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from generator.lexicon import CATEGORIES
from generator.population import Population
from generator.primitives import choose, format_ids, rng_for, unique_ints
from generator.reference import CATEGORY_NAMES, Reference
from generator.timeline import Timeline, exposure, sample_days, to_timestamps

DAY = 86_400


@dataclass(frozen=True)
class World:
    """Everything fixed before the feeds are drawn."""

    seed: int
    timeline: Timeline
    reference: Reference
    population: Population
    names: pl.Series  # every written form of every name, see noise.name_forms
    chunk: int = 0  # the feeds are drawn for `chunks` slices of the people in turn; this is one
    chunks: int = 1

    def rng(self, stream: str) -> np.random.Generator:
        """The stream's generator; each later slice of people draws from a stream of its own."""
        return rng_for(self.seed, stream if self.chunk == 0 else f"{stream}/chunk-{self.chunk}")

    def serial_ids(self, prefix: str, numbers: np.ndarray, width: int) -> pl.Series:
        """`prefix` + numbers from 1, moved into this slice's own block of the `width`-digit ids,
        so two slices of people never issue the same id."""
        block = 10**width // self.chunks
        if len(numbers) and numbers.max() >= block:
            raise ValueError(f"{prefix}: {numbers.max():,} ids do not fit a block of {block:,}")
        return format_ids(prefix, numbers + self.chunk * block, width)

    def random_ids(self, rng: np.random.Generator, count: int, low: int, high: int) -> np.ndarray:
        """`count` distinct random integers from this slice's own share of [low, high)."""
        span = (high - low) // self.chunks
        return unique_ints(rng, count, low + self.chunk * span, low + (self.chunk + 1) * span)

    @property
    def horizon(self) -> int:
        """Seconds in the range; events at or after it are dropped."""
        return self.timeline.days * DAY


def activity_rows(
    rng: np.random.Generator,
    world: World,
    eligible: np.ndarray,
    total: float,
    cdf: np.ndarray,
    floor: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows for a feed, returned as (person, day) per row.

    Each eligible person gets a Poisson count proportional to their activity and the weighted
    length of their active window, on top of `floor` rows (1 for people who surely act at least
    once); counts add up to about `total`.
    """
    pop = world.population
    base = floor * eligible.astype(np.int64)
    weight = pop.activity * exposure(cdf, pop.arrive, pop.leave) * eligible
    extra = max(total - base.sum(), 0.0)
    counts = base + (rng.poisson(extra * weight / weight.sum()) if weight.sum() > 0 else 0)
    people = np.repeat(np.arange(pop.size), counts)
    return people, sample_days(rng, cdf, pop.arrive[people], pop.leave[people])


def products_for(rng: np.random.Generator, reference: Reference, category: np.ndarray) -> np.ndarray:
    """A product of each row's category, popular products more often."""
    pop = reference.product_popularity
    cat = reference.product_category
    # products come in category blocks whose shares each sum to 1, so block c spans (c, c + 1]
    cdf = np.cumsum(pop / np.bincount(cat, weights=pop)[cat])
    hit = np.searchsorted(cdf, category + rng.random(len(category)) * 0.999999, side="right")
    return np.clip(hit, 0, len(pop) - 1)


def categories_for(rng: np.random.Generator, favourite: np.ndarray, loyalty: float) -> np.ndarray:
    """The row's category: the person's favourite with probability `loyalty`, else by popularity."""
    popular = choose(rng, np.array([v[0] for v in CATEGORIES.values()]), len(favourite))
    return np.where(rng.random(len(favourite)) < loyalty, favourite, popular)


def product_columns(reference: Reference, product: np.ndarray) -> dict[str, pl.Series]:
    cat = reference.product_category[product]
    return {
        "product_id": reference.products.get_column("product_id").gather(product),
        "category": pl.Series(CATEGORY_NAMES).gather(cat),
    }


def money(values: np.ndarray) -> np.ndarray:
    return np.round(values, 2)


def coupons(rng: np.random.Generator, gross: np.ndarray, share: float) -> np.ndarray:
    """A stock coupon on a share of rows, never more than 30 % of the gross amount."""
    face = np.array([5.0, 10.0, 20.0, 30.0, 50.0])[rng.integers(0, 5, size=len(gross))]
    return np.where((rng.random(len(gross)) < share) & (face <= gross * 0.3), face, 0.0)


def day_strings(world: World, seconds: np.ndarray) -> pl.Series:
    """The ISO date of each timestamp: the landing folder a row goes to."""
    return pl.Series("_dir", world.timeline.date_strings()).gather(seconds // DAY)


def timestamps(world: World, seconds: np.ndarray) -> pl.Series:
    return to_timestamps(world.timeline.start, seconds)


def keep_in_range(world: World, seconds: np.ndarray) -> np.ndarray:
    return (seconds >= 0) & (seconds < world.horizon)


def campaign_ids(world: World, campaign: np.ndarray) -> pl.Series:
    """Campaign id per row from indices into `reference.campaigns` (-1: no campaign, null)."""
    ids = pl.Series([c.campaign_id for c in world.reference.campaigns] + [None], dtype=pl.String)
    return ids.gather(np.where(campaign < 0, len(world.reference.campaigns), campaign))
