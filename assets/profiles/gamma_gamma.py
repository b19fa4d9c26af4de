"""Gamma-Gamma spend model (Fader & Hardie 2013, "The Gamma-Gamma model of monetary value") and the
customer lifetime value that combines it with a purchase-count model: how much a customer spends
per purchase, fitted on the customers with repeat purchases. The shared likelihood machinery and
BG/NBD are in ``clv``.

Conventions (rates, not scales, as in the paper): transaction value z ~ Gamma(shape p, rate ν) with
ν ~ Gamma(shape q, rate v) (the paper's γ)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import digamma, gammaln

from assets.profiles.clv import (
    BgNbdParams,
    FloatArray,
    Objective,
    PositiveParams,
    _customer_arrays,
    _maximise_likelihood,
    customer_weights,
    expected_purchases,
)


@dataclass(frozen=True)
class GammaGammaParams(PositiveParams):
    """Gamma-Gamma: transaction value ~ Gamma(shape p, rate ν); ν ~ Gamma(shape q, rate v)."""

    p: float
    q: float
    v: float


def _repeat_customers(frequency: ArrayLike, monetary: ArrayLike) -> tuple[FloatArray, FloatArray]:
    x, m = np.broadcast_arrays(
        np.asarray(frequency, dtype=np.float64), np.asarray(monetary, dtype=np.float64)
    )
    repeat = x > 0
    x, m = x[repeat], m[repeat]
    if not (np.all(np.isfinite(m)) and np.all(m > 0)):
        raise ValueError("monetary must be finite and positive for customers with frequency > 0")
    return x, m


def gamma_gamma_log_likelihood(
    params: GammaGammaParams, frequency: ArrayLike, monetary: ArrayLike
) -> FloatArray:
    """Log-density of each repeat customer's mean spend m given x purchases (Fader & Hardie 2013, eq. 4):
    the sum of x Gamma(p, ν) values is Gamma(px, ν), and ν is integrated out against Gamma(q, v)."""
    x, m = _repeat_customers(frequency, monetary)
    p, q, v = params.p, params.q, params.v
    return (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(v)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(v + m * x)
    )


def _gamma_gamma_objective(x: FloatArray, m: FloatArray, weights: ArrayLike | None = None) -> Objective:
    w = customer_weights(weights, len(x))

    def mean_negative_log_likelihood(values: FloatArray) -> tuple[float, FloatArray]:
        p, q, v = values
        log_likelihood = gamma_gamma_log_likelihood(GammaGammaParams(*values), x, m)
        log_ratio = np.log(m * x) - np.log(v + m * x)
        d_p = x * (digamma(p * x + q) - digamma(p * x) + log_ratio)
        d_q = digamma(p * x + q) - digamma(q) + np.log(v) - np.log(v + m * x)
        d_v = q / v - (p * x + q) / (v + m * x)
        gradient = np.array([np.mean(w * d) for d in (d_p, d_q, d_v)])
        return -float(np.mean(w * log_likelihood)), -gradient

    return mean_negative_log_likelihood


def _gamma_gamma_start(m: FloatArray) -> dict[str, float]:
    """p starts at 1 (exponential spend); q and v match the mean and spread of the customer means, read
    as each customer's true average p/ν: CV² = 1/(q - 2) and E[m] = p·v/(q - 1). Within-customer
    noise is ignored, so the start is a little too dispersed, on the safe side."""
    mean, variance = m.mean(), m.var()
    if variance == 0:
        raise ValueError("Gamma-Gamma needs varied monetary values")
    q = 2.0 + mean**2 / variance
    return {"p": 1.0, "q": q, "v": mean * (q - 1.0)}


def fit_gamma_gamma(frequency: ArrayLike, monetary: ArrayLike, penalizer: float = 0.0) -> GammaGammaParams:
    """Maximum-likelihood Gamma-Gamma parameters on the customers with frequency > 0 (the only ones
    with repeat spend). Assumes spend is independent of purchase frequency, as the model does."""
    x, m = _repeat_customers(frequency, monetary)
    fitted = _maximise_likelihood(_gamma_gamma_objective(x, m), _gamma_gamma_start(m), penalizer)
    return GammaGammaParams(**fitted)


def expected_average_value(params: GammaGammaParams, frequency: ArrayLike, monetary: ArrayLike) -> FloatArray:
    """E[value of a future purchase | x, m] (Fader & Hardie 2013, eq. 5): a credibility-weighted mix of
    the population mean p·v/(q-1) and the customer's own mean, the latter weighted more with more
    purchases. Customers without repeats get the population mean."""
    if params.q <= 1:
        raise ValueError("expected spend is infinite for q <= 1")
    x, m = np.broadcast_arrays(
        np.asarray(frequency, dtype=np.float64), np.asarray(monetary, dtype=np.float64)
    )
    return params.p * (params.v + m * x) / (params.p * x + params.q - 1)


def customer_lifetime_value(
    bg: BgNbdParams,
    gg: GammaGammaParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    monetary: ArrayLike,
    horizon_periods: int,
    discount_rate_per_period: float = 0.0,
) -> FloatArray:
    """Expected value of each customer's purchases over the next ``horizon_periods`` periods.

    Purchases expected in period k (the increment of ``expected_purchases``) are discounted by
    (1 + rate)^-k; without discounting that telescopes to one evaluation at the horizon."""
    if horizon_periods < 0 or int(horizon_periods) != horizon_periods:
        raise ValueError("horizon_periods must be a non-negative integer")
    if discount_rate_per_period < 0:
        raise ValueError("discount_rate_per_period must be >= 0")
    x, t_x, T = _customer_arrays(frequency, recency, T)
    checkpoints = range(1, horizon_periods + 1) if discount_rate_per_period > 0 else [horizon_periods]
    value, previous = np.zeros_like(x), np.zeros_like(x)
    for k in checkpoints:
        expected = expected_purchases(bg, k, x, t_x, T)
        value += (expected - previous) / (1.0 + discount_rate_per_period) ** k
        previous = expected
    return value * expected_average_value(gg, x, monetary)
