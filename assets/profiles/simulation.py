"""Customers simulated from BG/NBD and Gamma-Gamma with known parameters, exactly and loop-free: what
the tests and benchmarks recover the parameters from and check the predictions against."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from assets.profiles.clv import BgNbdParams, FloatArray
from assets.profiles.gamma_gamma import GammaGammaParams


def simulate_bgnbd(
    n: int, params: BgNbdParams, T: ArrayLike, seed: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Draw (frequency, recency, T) for ``n`` customers observed over [0, T] (scalar or per customer).

    Exact and loop-free: without dropout the purchases in [0, T] are N ~ Poisson(λT) uniform points;
    the customer makes at most J ~ Geometric(p) repeat purchases, so x = min(N, J), and the x-th of N
    uniform order statistics is T · Beta(x, N - x + 1)."""
    rng = np.random.default_rng(seed)
    T = np.broadcast_to(np.asarray(T, dtype=np.float64), (n,)).copy()
    rate = rng.gamma(params.r, 1.0 / params.alpha, n)
    # Beta draws can underflow to 0 for small a; the tiniest positive p means "never drops out".
    dropout = np.maximum(rng.beta(params.a, params.b, n), np.finfo(np.float64).tiny)
    in_window = rng.poisson(rate * T)
    x = np.minimum(in_window, rng.geometric(dropout))
    repeat = x > 0
    last = rng.beta(np.where(repeat, x, 1), np.where(repeat, in_window - x + 1, 1))
    return x.astype(np.float64), np.where(repeat, T * last, 0.0), T


def simulate_gamma_gamma(frequency: ArrayLike, params: GammaGammaParams, seed: int) -> FloatArray:
    """Mean spend over each customer's ``frequency`` repeat purchases (0 without any): the sum of x
    Gamma(p, ν) values is Gamma(px, ν), so one draw per customer is exact."""
    rng = np.random.default_rng(seed)
    x = np.asarray(frequency, dtype=np.float64)
    customer_rate = rng.gamma(params.q, 1.0 / params.v, x.shape)
    repeat = x > 0
    total = rng.gamma(np.where(repeat, params.p * x, 1.0), 1.0 / customer_rate)
    return np.where(repeat, total / np.where(repeat, x, 1.0), 0.0)
