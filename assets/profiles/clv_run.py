"""One CLV run, Dagster-free: holdout diagnostics of every frequency model, the model choice, the
predictions of the chosen model refitted up to the profile date, and the fits table.

The calibration end is its own date (config ``calibration_end``, by default ``holdout_days`` before
the profile date), so diagnostics and predictions are separate fits: the holdout judges each model on
data it did not see, then the chosen model is refitted on everything up to the profile date.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from assets.profiles.clv import summarise_transactions
from assets.profiles.clv_diagnostics import (
    FREQUENCY_SCHEMA,
    TRACKING_SCHEMA,
    expected_in_holdout,
    frequency_table,
    holdout_errors,
    split_holdout,
    tracking_table,
)
from assets.profiles.frequency_models import (
    MODELS,
    Fit,
    distinct_customers,
    fit_frequency_model,
    standard_errors,
)
from assets.profiles.gamma_gamma import (
    GammaGammaParams,
    _gamma_gamma_objective,
    expected_average_value,
    fit_gamma_gamma,
)

if TYPE_CHECKING:
    from assets.profiles.settings import ClvConfig

FITS_SCHEMA = pl.Schema(
    {
        "as_of": pl.Date(),
        "computed_at": pl.Datetime("us"),
        "fit": pl.String(),
        "model": pl.String(),
        "chosen": pl.Boolean(),
        "parameter": pl.String(),
        "estimate": pl.Float64(),
        "std_error": pl.Float64(),
        "log_likelihood": pl.Float64(),
        "customers": pl.Int64(),
        "calibration_end": pl.Date(),
        "holdout_end": pl.Date(),
        "holdout_mae": pl.Float64(),
        "holdout_rmse": pl.Float64(),
        "holdout_total_error": pl.Float64(),
        "spend_frequency_correlation": pl.Float64(),
        "zero_value_purchases": pl.Int64(),
        "customers_without_spend": pl.Int64(),
    }
)

ModelErrors = Mapping[str, float | str]
"""One model's holdout errors by metric (``mae``, ``rmse``, ``total_error``), or ``not_fitted``: why not."""


@dataclass(frozen=True)
class ClvRun:
    predictions: pl.DataFrame
    fits: pl.DataFrame
    frequency: pl.DataFrame
    tracking: pl.DataFrame
    metadata: dict[str, Any]


def holdout_window(as_of: date, config: ClvConfig) -> tuple[date, date]:
    """(calibration_end, holdout_end): the declared or default calibration end, the holdout capped at
    the profile date (the data's end)."""
    end = config.calibration_end or as_of - timedelta(days=config.holdout_days)
    return end, min(end + timedelta(days=config.holdout_days), as_of)


def diagnose(
    orders: pl.DataFrame, as_of: date, config: ClvConfig
) -> tuple[dict[str, Fit], dict[str, ModelErrors], list[pl.DataFrame], list[pl.DataFrame]]:
    """Every model fitted on the calibration period: fits, holdout errors, frequency and tracking tables.
    A model whose fit fails (too little data) is left out and named in the errors as not fitted."""
    calibration_end, holdout_end = holdout_window(as_of, config)
    if holdout_end <= calibration_end:
        return {}, {}, [], []
    start = calibration_end - timedelta(days=config.calibration_days - 1)
    holdout = split_holdout(orders, start, calibration_end, holdout_end, config.time_unit_days)
    fits: dict[str, Fit] = {}
    errors: dict[str, ModelErrors] = {}
    frequency: list[pl.DataFrame] = []
    tracking: list[pl.DataFrame] = []
    x = holdout.arrays()[0]
    for name in MODELS:
        try:
            fit = fit_frequency_model(name, *holdout.arrays(), penalizer=config.penalizer)
        except (ValueError, RuntimeError, FloatingPointError) as exc:
            errors[name] = {"not_fitted": str(exc)}
            continue
        expected = expected_in_holdout(fit, holdout)
        fits[name], errors[name] = fit, holdout_errors(holdout.actual, expected)
        frequency.append(frequency_table(name, x, holdout.actual, expected, config.frequency_buckets))
        tracking.append(tracking_table(name, fit, holdout))
    return fits, errors, frequency, tracking


def model_preference(errors: Mapping[str, ModelErrors], config: ClvConfig) -> list[str]:
    """The declared model alone, or with ``auto`` every model from the lowest |selection metric| up
    (the ones that could not be judged last, BG/NBD first among them)."""
    if config.model != "auto":
        return [config.model]
    metric = config.selection_metric

    def score(name: str) -> tuple[bool, float]:
        value = errors.get(name, {}).get(metric, math.nan)
        if isinstance(value, int | float) and math.isfinite(value):
            return False, abs(value)
        return True, float(name != "bgnbd")

    return sorted(MODELS, key=score)


def choose_model(errors: Mapping[str, ModelErrors], config: ClvConfig) -> str:
    """The declared model, or with ``auto`` the fitted one with the lowest |selection metric| (BG/NBD
    when nothing could be judged)."""
    return model_preference(errors, config)[0]


def _first_fit(preference: list[str], summary: pl.DataFrame, penalizer: float) -> tuple[Fit, dict[str, str]]:
    """The first model of ``preference`` that fits the data up to the profile date (a model judged best
    on the holdout can still fail on the whole period, e.g. run to a boundary); the failures by model."""
    failures: dict[str, str] = {}
    x, t_x, T = (summary[c].to_numpy() for c in ("frequency", "recency", "T"))
    for name in preference:
        try:
            return fit_frequency_model(name, x, t_x, T, penalizer=penalizer), failures
        except (ValueError, RuntimeError, FloatingPointError) as exc:
            failures[name] = str(exc)
    raise ValueError(f"no frequency model could be fitted: {failures}")


def discounted_purchases(fit: Fit, x, t_x, T, horizon_periods: int, rate: float) -> np.ndarray:
    """Expected purchases over the horizon, period k's increment discounted by (1 + rate)^-k."""
    checkpoints = range(1, horizon_periods + 1) if rate > 0 else [horizon_periods]
    value, previous = np.zeros_like(x), np.zeros_like(x)
    for k in checkpoints:
        expected = fit.expected_purchases(k, x, t_x, T)
        value += (expected - previous) / (1.0 + rate) ** k
        previous = expected
    return value


def _spend_fit(
    summary: pl.DataFrame, penalizer: float
) -> tuple[GammaGammaParams, dict[str, float], float, float]:
    """Gamma-Gamma on the customers with repeat spend; its standard errors, log-likelihood and the
    spend-frequency correlation (the model assumes none: a strong one means biased spend forecasts)."""
    spenders = summary.filter(pl.col("spend_frequency") > 0)
    k, m = (spenders[c].to_numpy().astype(np.float64) for c in ("spend_frequency", "monetary"))
    params = fit_gamma_gamma(k, m, penalizer=penalizer)
    (dk, dm), weights, _ = distinct_customers(k, m)
    objective = _gamma_gamma_objective(dk, dm, weights)
    estimate = np.array(list(params.as_dict().values()))
    errors = dict(
        zip(params.as_dict(), standard_errors(objective, estimate, float(len(k))).tolist(), strict=True)
    )
    correlation = float(np.corrcoef(k, m)[0, 1]) if len(k) > 2 and k.std() > 0 and m.std() > 0 else math.nan
    return params, errors, -objective(estimate)[0] * len(k), correlation


def _fit_rows(fit: Fit, stage: str, chosen: bool, errors: ModelErrors) -> list[dict[str, Any]]:
    return [
        {
            "fit": stage,
            "model": fit.model,
            "chosen": chosen,
            "parameter": name,
            "estimate": value,
            "std_error": fit.std_errors[name],
            "log_likelihood": fit.log_likelihood,
            "customers": fit.customers,
            "holdout_mae": errors.get("mae"),
            "holdout_rmse": errors.get("rmse"),
            "holdout_total_error": errors.get("total_error"),
        }
        for name, value in fit.params.as_dict().items()
    ]


def _predict(
    summary: pl.DataFrame, fit: Fit, spend: GammaGammaParams | None, as_of: date, config: ClvConfig
) -> pl.DataFrame:
    """Per buyer: P(alive), expected purchases per horizon and, with a spend model, value and CLV."""
    x, t_x, T = (summary[c].to_numpy().astype(np.float64) for c in ("frequency", "recency", "T"))
    k, m = (summary[c].to_numpy().astype(np.float64) for c in ("spend_frequency", "monetary"))
    period_rate = (1 + config.annual_discount_rate) ** (config.time_unit_days / 365.0) - 1
    horizon = round(config.clv_horizon_days / config.time_unit_days)
    average = expected_average_value(spend, k, m) if spend else np.full(len(x), np.nan)
    return summary.with_columns(
        as_of=pl.lit(as_of),
        model=pl.lit(fit.model),
        probability_alive=fit.probability_alive(x, t_x, T),
        **{
            f"expected_purchases_{h}d": fit.expected_purchases(h / config.time_unit_days, x, t_x, T)
            for h in config.prediction_horizons_days
        },
        expected_average_value=average,
        predicted_clv=discounted_purchases(fit, x, t_x, T, horizon, period_rate) * average,
    ).with_columns(pl.col("expected_average_value", "predicted_clv").fill_nan(None))


def _unfitted(summary: pl.DataFrame, as_of: date, config: ClvConfig) -> pl.DataFrame:
    """The summaries without predictions, when there is too little history to fit."""
    empty = {
        c: pl.lit(None, dtype=pl.Float64)
        for c in (
            "probability_alive",
            *(f"expected_purchases_{h}d" for h in config.prediction_horizons_days),
            "expected_average_value",
            "predicted_clv",
        )
    }
    return summary.with_columns(as_of=pl.lit(as_of), model=pl.lit(None, dtype=pl.String), **empty)


def _fit_and_predict(
    summary: pl.DataFrame, preference: list[str], as_of: date, config: ClvConfig, counts: dict[str, int]
) -> tuple[pl.DataFrame, list[dict[str, Any]], dict[str, Any]]:
    """The frequency model (the first of ``preference`` that fits) and Gamma-Gamma up to the profile
    date: predictions, fits-table rows, metadata. Without a frequency fit the summaries only; without a
    spend fit (e.g. everybody spends alike) purchases and P(alive) but no value."""
    try:
        final, failures = _first_fit(preference, summary, config.penalizer)
    except ValueError as exc:
        return _unfitted(summary, as_of, config), [], {"not_fitted": str(exc)}
    meta = {
        "model": final.model,
        **({"models_not_fitted": failures} if failures else {}),
        **{f"{final.model}_{k}": v for k, v in final.params.as_dict().items()},
    }
    rows = _fit_rows(final, "prediction", True, {})
    try:
        spend, spend_errors, spend_log_likelihood, correlation = _spend_fit(summary, config.penalizer)
    except (ValueError, RuntimeError, FloatingPointError) as exc:
        return _predict(summary, final, None, as_of, config), rows, meta | {"spend_not_fitted": str(exc)}
    spending = int((summary["spend_frequency"] > 0).sum())
    rows += [
        {
            "fit": "prediction",
            "model": "gamma_gamma",
            "chosen": True,
            "parameter": name,
            "estimate": value,
            "std_error": spend_errors[name],
            "log_likelihood": spend_log_likelihood,
            "customers": spending,
            "spend_frequency_correlation": correlation,
            **counts,
        }
        for name, value in spend.as_dict().items()
    ]
    meta |= {
        "spend_frequency_correlation": correlation,
        **{f"gamma_gamma_{k}": v for k, v in spend.as_dict().items()},
    }
    return _predict(summary, final, spend, as_of, config), rows, meta


def _fits_table(
    rows: list[dict[str, Any]], as_of: date, computed_at: datetime, calibration_end: date, holdout_end: date
) -> pl.DataFrame:
    per_run = ("as_of", "computed_at", "calibration_end", "holdout_end")
    return (
        pl.DataFrame(rows, schema={k: v for k, v in FITS_SCHEMA.items() if k not in per_run})
        .with_columns(
            as_of=pl.lit(as_of),
            computed_at=pl.lit(computed_at),
            calibration_end=pl.lit(calibration_end),
            holdout_end=pl.lit(holdout_end),
        )
        .select(list(FITS_SCHEMA))
        .cast(FITS_SCHEMA)
    )


def run_clv(
    orders: pl.DataFrame, as_of: date, config: ClvConfig, computed_at: datetime | None = None
) -> ClvRun:
    """Diagnostics, model choice, predictions and fits from ``orders`` (unified_id, ordered_at, amount;
    amounts of 0 are purchases without spend). A purchase occasion is a calendar day, so a log of one
    row per buyer and day (``ordered_at`` a date, ``amount`` the day's spend: what the pipeline's
    engine hands over) gives the same answers as the orders it sums."""
    fits, errors, frequency, tracking = diagnose(orders, as_of, config)
    preference = model_preference(errors, config)
    chosen = preference[0]
    start = as_of - timedelta(days=config.calibration_days - 1)
    window = orders.filter(pl.col("ordered_at").cast(pl.Date).is_between(start, as_of))
    summary = summarise_transactions(
        window["unified_id"],
        window["ordered_at"].to_numpy(),
        window["amount"].to_numpy(),
        as_of,
        config.time_unit_days,
    )
    calibration_end, holdout_end = holdout_window(as_of, config)
    counts = {
        "zero_value_purchases": int(summary["zero_value_periods"].sum() or 0),
        "customers_without_spend": int(
            ((summary["frequency"] > 0) & (summary["spend_frequency"] == 0)).sum()
        ),
    }
    metadata: dict[str, Any] = {
        "model": chosen,
        "calibration_end": str(calibration_end),
        "holdout_end": str(holdout_end),
        "holdout_errors": errors,
        **counts,
    }
    predictions, rows, fitted = _fit_and_predict(summary, preference, as_of, config, counts)
    metadata |= fitted
    used = metadata["model"] if "not_fitted" not in metadata else None
    rows = [
        row for name, fit in fits.items() for row in _fit_rows(fit, "calibration", name == used, errors[name])
    ] + rows
    fits_table = _fits_table(rows, as_of, computed_at or datetime.now(), calibration_end, holdout_end)
    return ClvRun(
        predictions.drop("spend_frequency", "zero_value_periods"),
        fits_table,
        pl.concat(frequency) if frequency else pl.DataFrame(schema=FREQUENCY_SCHEMA),
        pl.concat(tracking) if tracking else pl.DataFrame(schema=TRACKING_SCHEMA),
        metadata,
    )
