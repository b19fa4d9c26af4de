"""MBG/NBD (Batislam, Denizel & Filiztekin 2007): BG/NBD in which a customer can also drop out right
after the first purchase, so a one-time buyer is not certain to be alive (in BG/NBD P(alive) = 1
without repeats, which over-forecasts the many one-time buyers of a typical retail base).

With p ~ Beta(a, b) and λ ~ Gamma(r, rate alpha) (the BG/NBD conventions of ``clv.py``):
    L = Γ(r+x) α^r / Γ(r) · [ B(a, b+x+1)/B(a, b) · (α+T)^-(r+x) + B(a+1, b+x)/B(a, b) · (α+t_x)^-(r+x) ],
the first term 'alive at T' (survived x + 1 chances), the second 'dropped after the last purchase';
B(a+1, b+x) / B(a, b+x+1) = a / (b + x). Given alive, the future follows BG/NBD with b + 1, so the
conditional expectation reuses BG/NBD's with b + 1 and this model's P(alive).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import betaln, digamma, gammaln

from assets.profiles.clv import (
    BgNbdParams,
    Objective,
    PositiveParams,
    _bgnbd_start,
    _customer_arrays,
    bridged_at_a_one,
    customer_weights,
    expected_purchases_if_alive,
)

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class MbgNbdParams(PositiveParams):
    """λ ~ Gamma(shape r, rate alpha) per period; dropout probability p ~ Beta(a, b) at every purchase."""

    r: float
    alpha: float
    a: float
    b: float


def _log_terms(params: MbgNbdParams, x: FloatArray, t_x: FloatArray, T: FloatArray) -> tuple[FloatArray, ...]:
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    shared = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x + 1) - betaln(a, b)
    alive = -(r + x) * np.log(alpha + T)
    dropped = np.log(a) - np.log(b + x) - (r + x) * np.log(alpha + t_x)
    return shared, alive, dropped


def mbgnbd_log_likelihood(
    params: MbgNbdParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    """Per-customer MBG/NBD log-likelihood."""
    shared, alive, dropped = _log_terms(params, *_customer_arrays(frequency, recency, T))
    return shared + np.logaddexp(alive, dropped)


def _mbgnbd_objective(
    x: FloatArray, t_x: FloatArray, T: FloatArray, weights: ArrayLike | None = None
) -> Objective:
    w = customer_weights(weights, len(x))

    def mean_negative_log_likelihood(values: FloatArray) -> tuple[float, FloatArray]:
        r, alpha, a, b = values
        shared, alive, dropped = _log_terms(MbgNbdParams(*values), x, t_x, T)
        total = np.logaddexp(alive, dropped)
        w_dropped = np.exp(dropped - total)
        w_alive = 1.0 - w_dropped
        d_r = (
            digamma(r + x)
            - digamma(r)
            + np.log(alpha)
            - w_alive * np.log(alpha + T)
            - w_dropped * np.log(alpha + t_x)
        )
        d_alpha = r / alpha - (r + x) * (w_alive / (alpha + T) + w_dropped / (alpha + t_x))
        d_a = digamma(a + b) - digamma(a + b + x + 1) + w_dropped / a
        d_b = digamma(b + x + 1) - digamma(a + b + x + 1) - digamma(b) + digamma(a + b) - w_dropped / (b + x)
        gradient = np.array([np.mean(w * d) for d in (d_r, d_alpha, d_a, d_b)])
        return -float(np.mean(w * (shared + total))), -gradient

    return mean_negative_log_likelihood


def mbgnbd_start(x: FloatArray, t_x: FloatArray, T: FloatArray) -> dict[str, float]:
    """BG/NBD's start: NBD moments for (r, alpha), a uniform Beta for the dropout probability."""
    return _bgnbd_start(x, T)


def mbgnbd_probability_alive(
    params: MbgNbdParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    """P(alive at T | x, t_x, T) = 1 / (1 + a/(b+x) · ((α+T)/(α+t_x))^(r+x)); below 1 even for x = 0."""
    _, alive, dropped = _log_terms(params, *_customer_arrays(frequency, recency, T))
    return np.exp(alive - np.logaddexp(alive, dropped))


def mbgnbd_expected_purchases(
    params: MbgNbdParams, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    """E[purchases in (T, T + t] | x, t_x, T]: BG/NBD's expectation given alive with b + 1, times
    P(alive); bridged at a = 1 like BG/NBD's."""
    x, t_x, T = _customer_arrays(frequency, recency, T)
    t = np.asarray(t, dtype=np.float64)
    if np.any(t < 0):
        raise ValueError("t must be >= 0")
    shifted = BgNbdParams(params.r, params.alpha, params.a, params.b + 1)
    if_alive = bridged_at_a_one(shifted, lambda p: expected_purchases_if_alive(p, t, x, T))
    return if_alive * mbgnbd_probability_alive(params, x, t_x, T)


def simulate_mbgnbd(
    n: int, params: MbgNbdParams, T: ArrayLike, seed: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Draw (frequency, recency, T) as ``simulate_bgnbd`` does, with one more dropout chance at the first
    purchase: a customer leaving at chance G ~ Geometric(p) makes at most G − 1 repeat purchases."""
    rng = np.random.default_rng(seed)
    T = np.broadcast_to(np.asarray(T, dtype=np.float64), (n,)).copy()
    rate = rng.gamma(params.r, 1.0 / params.alpha, n)
    dropout = np.maximum(rng.beta(params.a, params.b, n), np.finfo(np.float64).tiny)
    in_window = rng.poisson(rate * T)
    x = np.minimum(in_window, rng.geometric(dropout) - 1)
    repeat = x > 0
    last = rng.beta(np.where(repeat, x, 1), np.where(repeat, in_window - x + 1, 1))
    return x.astype(np.float64), np.where(repeat, T * last, 0.0), T
