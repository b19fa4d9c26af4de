"""Calibration / holdout diagnostics of the purchase-frequency models, the tables analysts know from
``lifetimes``: fit on the calibration period, forecast the holdout, compare with what customers did.

- per calibration frequency (0, 1, … and a top "k+" bucket): customers, actual and expected mean
  repeat purchases in the holdout — shows *which* customers a model gets wrong (typically the one- and
  two-time buyers);
- tracking: per holdout week, actual and expected purchases of the calibration customers, weekly and
  cumulative — shows whether errors build up over time;
- errors per model: mean absolute and root-mean-square error per customer, and the relative error of
  the holdout total (the bias).
Only customers seen in the calibration period are judged (a model forecasts the known base);
purchases are counted in periods (calendar days), as in the fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl
from numpy.typing import NDArray

from assets.profiles.clv import summarise_transactions
from assets.profiles.frequency_models import Fit, distinct_customers

FloatArray = NDArray[np.float64]
FREQUENCY_SCHEMA = pl.Schema(
    {
        "model": pl.String(),
        "bucket": pl.Int64(),
        "calibration_frequency": pl.String(),
        "customers": pl.Int64(),
        "actual_mean": pl.Float64(),
        "expected_mean": pl.Float64(),
        "actual_total": pl.Float64(),
        "expected_total": pl.Float64(),
    }
)
TRACKING_SCHEMA = pl.Schema(
    {
        "model": pl.String(),
        "week": pl.Int64(),
        "period_end": pl.Date(),
        "actual": pl.Float64(),
        "expected": pl.Float64(),
        "actual_cumulative": pl.Float64(),
        "expected_cumulative": pl.Float64(),
    }
)


@dataclass(frozen=True)
class Holdout:
    """The calibration customers' summaries at ``calibration_end``, each one's purchase periods in
    (calibration_end, holdout_end] (``actual``, aligned with ``calibration``) and the holdout's
    purchase periods per day (``daily[d - 1]`` on day calibration_end + d)."""

    calibration: pl.DataFrame
    actual: FloatArray
    daily: FloatArray
    calibration_end: date
    holdout_end: date
    time_unit_days: float

    @property
    def days(self) -> int:
        return (self.holdout_end - self.calibration_end).days

    def arrays(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        frequency, recency, T = (
            self.calibration[c].to_numpy().astype(np.float64) for c in ("frequency", "recency", "T")
        )
        return frequency, recency, T


def split_holdout(
    orders: pl.DataFrame,
    calibration_start: date,
    calibration_end: date,
    holdout_end: date,
    time_unit_days: float,
) -> Holdout:
    """``orders`` (unified_id, ordered_at, amount) split at ``calibration_end``: the calibration period
    is [calibration_start, calibration_end], the holdout (calibration_end, holdout_end]."""
    day = pl.col("ordered_at").cast(pl.Date)
    calibration_orders = orders.filter(day.is_between(calibration_start, calibration_end))
    calibration = summarise_transactions(
        calibration_orders["unified_id"],
        calibration_orders["ordered_at"].to_numpy(),
        calibration_orders["amount"].to_numpy(),
        calibration_end,
        time_unit_days,
    )
    later = (
        orders.filter((day > calibration_end) & (day <= holdout_end))
        .select("unified_id", offset=(day - pl.lit(calibration_end)).dt.total_days())
        .unique()
        .join(calibration.select("unified_id"), on="unified_id", how="semi")
    )
    per_customer = later.group_by("unified_id").agg(purchases=pl.len())
    actual = (
        calibration.select("unified_id")
        .join(per_customer, on="unified_id", how="left", maintain_order="left")["purchases"]
        .fill_null(0)
        .to_numpy()
        .astype(np.float64)
    )
    days = (holdout_end - calibration_end).days
    daily = np.bincount(later["offset"].to_numpy().astype(np.int64) - 1, minlength=max(days, 0)).astype(
        np.float64
    )
    return Holdout(calibration, actual, daily[: max(days, 0)], calibration_end, holdout_end, time_unit_days)


def expected_in_holdout(fit: Fit, holdout: Holdout, days: float | None = None) -> FloatArray:
    """Each calibration customer's expected purchases in the first ``days`` of the holdout (all of it
    by default), computed once per distinct (x, t_x, T)."""
    (x, t_x, T), _, row = distinct_customers(*holdout.arrays())
    t = (holdout.days if days is None else days) / holdout.time_unit_days
    return fit.expected_purchases(t, x, t_x, T)[row]


def frequency_table(
    model: str, frequency: FloatArray, actual: FloatArray, expected: FloatArray, buckets: int
) -> pl.DataFrame:
    """Actual vs expected holdout purchases per calibration frequency 0 … buckets − 2 and "buckets−1+"."""
    top = buckets - 1
    frame = pl.DataFrame(
        {"bucket": np.minimum(frequency, top).astype(np.int64), "actual": actual, "expected": expected}
    )
    table = (
        frame.group_by("bucket")
        .agg(
            customers=pl.len().cast(pl.Int64),
            actual_mean=pl.col("actual").mean(),
            expected_mean=pl.col("expected").mean(),
            actual_total=pl.col("actual").sum(),
            expected_total=pl.col("expected").sum(),
        )
        .sort("bucket")
    )
    label = (
        pl.when(pl.col("bucket") == top)
        .then(pl.format("{}+", pl.col("bucket")))
        .otherwise(pl.col("bucket").cast(pl.String))
    )
    return (
        table.with_columns(model=pl.lit(model), calibration_frequency=label)
        .select(list(FREQUENCY_SCHEMA))
        .cast(FREQUENCY_SCHEMA)
    )


def tracking_table(model: str, fit: Fit, holdout: Holdout) -> pl.DataFrame:
    """Per holdout week (the last one possibly shorter): actual and expected purchases of the
    calibration customers, weekly and cumulative."""
    weeks = math.ceil(holdout.days / 7)
    ends = [min(7 * w, holdout.days) for w in range(1, weeks + 1)]
    (x, t_x, T), weights, _ = distinct_customers(*holdout.arrays())
    expected_cumulative = np.array(
        [weights @ fit.expected_purchases(end / holdout.time_unit_days, x, t_x, T) for end in ends]
    )
    actual_cumulative = np.cumsum(holdout.daily)[np.array(ends, dtype=np.int64) - 1] if ends else np.zeros(0)
    return pl.DataFrame(
        {
            "model": model,
            "week": np.arange(1, weeks + 1),
            "period_end": [holdout.calibration_end + timedelta(days=end) for end in ends],
            "actual": np.diff(actual_cumulative, prepend=0.0),
            "expected": np.diff(expected_cumulative, prepend=0.0),
            "actual_cumulative": actual_cumulative,
            "expected_cumulative": expected_cumulative,
        },
        schema=TRACKING_SCHEMA,
    )


def holdout_errors(actual: FloatArray, expected: FloatArray) -> dict[str, float]:
    """mae and rmse per customer; total_error = (Σ expected − Σ actual) / Σ actual (NaN if nobody bought)."""
    if len(actual) == 0:
        return {"mae": math.nan, "rmse": math.nan, "total_error": math.nan}
    error = expected - actual
    total = float(actual.sum())
    return {
        "mae": float(np.abs(error).mean()),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "total_error": float(error.sum() / total) if total > 0 else math.nan,
    }
