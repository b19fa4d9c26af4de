"""The calendar: which days and hours are busy, and how to draw event times from that.

Every feed draws its days through a cumulative day-weight curve, so weekends, 618 and golden
week lift all feeds consistently, and a person's activity window (arrival to churn) is honoured
by drawing uniformly between two points of that curve.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

# Relative activity per hour of day.
ONLINE_HOURS = np.array(
    [3, 2, 1, 0.5, 0.3, 0.3, 0.8, 2, 3, 4, 5, 5, 6, 5, 4, 4, 4, 4, 5, 6, 8, 9, 8, 5], float
)
STORE_HOURS = np.array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 5, 6, 5, 6, 7, 7, 6, 6, 8, 8, 6, 3, 0], float)
EXPO_HOURS = np.array([0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 8, 8, 5, 6, 8, 7, 5, 2, 0, 0, 0, 0, 0, 0], float)


def _online_factor(d: date) -> float:
    md = (d.month, d.day)
    factor = 1.15 if d.weekday() >= 5 else 1.0
    if md == (5, 20):
        factor *= 1.3
    if (6, 1) <= md <= (6, 15):
        factor *= 1.4
    elif (6, 16) <= md <= (6, 18):
        factor *= 3.2
    if (10, 1) <= md <= (10, 7):
        factor *= 0.9
    if (10, 20) <= md <= (10, 31):
        factor *= 1.2  # Double 11 presale
    return factor


def _offline_factor(d: date) -> float:
    md = (d.month, d.day)
    factor = 1.5 if d.weekday() >= 5 else 1.0
    if (6, 16) <= md <= (6, 18):
        factor *= 1.2
    if (10, 1) <= md <= (10, 7):
        factor *= 1.6
    return factor


@dataclass(frozen=True)
class Timeline:
    """Days of the range with cumulative online and offline weights (length days + 1)."""

    start: date
    days: int
    online: np.ndarray
    offline: np.ndarray

    def date_strings(self) -> list[str]:
        return [(self.start + timedelta(days=i)).isoformat() for i in range(self.days)]

    def day_of(self, d: date) -> int:
        return (d - self.start).days


def build_timeline(start: date, end: date) -> Timeline:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    days = (end - start).days + 1
    dates = [start + timedelta(days=i) for i in range(days)]
    growth = np.linspace(1.0, 1.1, days)  # the brand grows a little over the range

    def cumulative(factor) -> np.ndarray:
        w = np.array([factor(d) for d in dates]) * growth
        return np.concatenate([[0.0], np.cumsum(w)])

    return Timeline(start, days, cumulative(_online_factor), cumulative(_offline_factor))


def exposure(cdf: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Weighted length of the day windows [lo, hi), as a share of the whole range."""
    lo = np.clip(lo, 0, len(cdf) - 1)
    hi = np.clip(hi, lo, len(cdf) - 1)
    return (cdf[hi] - cdf[lo]) / cdf[-1]


def sample_days(rng: np.random.Generator, cdf: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """One day per row, drawn by day weight inside the row's window [lo, hi) (hi > lo)."""
    u = cdf[lo] + rng.random(len(lo)) * (cdf[hi] - cdf[lo])
    day = np.searchsorted(cdf, u, side="right") - 1
    return np.clip(day, lo, hi - 1)


def sample_seconds(rng: np.random.Generator, n: int, hours: np.ndarray) -> np.ndarray:
    """Seconds after midnight, drawn from an hourly profile."""
    cdf = np.cumsum(hours)
    hour = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right")
    return hour * 3600 + rng.integers(0, 3600, size=n)


def to_timestamps(start: date, seconds: np.ndarray) -> pl.Series:
    """Seconds since the start day's midnight as a naive local datetime column."""
    epoch = int((datetime(start.year, start.month, start.day) - datetime(1970, 1, 1)).total_seconds())
    return pl.Series((seconds.astype(np.int64) + epoch) * 1_000_000).cast(pl.Datetime("us"))
