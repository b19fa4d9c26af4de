"""Customer lifetime value by maximum likelihood: BG/NBD for how often a customer buys and whether they
are still a customer (Fader, Hardie & Lee 2005, "Counting your customers the easy way"), and the
likelihood machinery the other models share (Gamma-Gamma for how much they spend per purchase, and
the lifetime value combining both, are in ``gamma_gamma``).

Both models only need each customer's purchase summary (frequency, recency, T, monetary), so they fit
in a batch step on a few numpy arrays and need no per-customer history.

Conventions (rates, not scales, as in the papers):
- purchase rate λ ~ Gamma(shape r, rate alpha); after each repeat purchase the customer drops out with
  probability p ~ Beta(a, b).

Numerical choices:
- parameters are optimised as logarithms (positivity without bounds, better conditioning) with
  L-BFGS-B on the mean log-likelihood and its analytic gradient;
- the BG/NBD likelihood's two terms are combined with ``logaddexp``, and P(alive) goes through
  ``expit`` of a log-odds, so long-lapsed heavy buyers give 0 rather than inf/inf;
- the conditional expectation's hypergeometric term is evaluated after Euler's transformation, its
  removable singularity at a = 1 is bridged by interpolation (see ``expected_purchases``), and one
  scipy ``hyp2f1`` failure mode (exact integer c - a - b) is worked around (see ``_hyp2f1``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

FloatArray = NDArray[np.float64]
# Half-width of the band around a = 1 where expected purchases are interpolated (see expected_purchases).
A_NEAR_ONE = 1e-4
# Relative shift of hyp2f1's c where scipy fails on an exact integer c - a - b (see _hyp2f1).
HYP2F1_NUDGE = 1e-9
Objective = Callable[[FloatArray], tuple[float, FloatArray]]


@dataclass(frozen=True)
class PositiveParams:
    """Model parameters (a frozen dataclass's fields) that are all finite and positive, checked when
    made, so an optimiser's escape to a boundary fails loudly instead of predicting nonsense."""

    def __post_init__(self) -> None:
        _require_positive(self.as_dict())

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class BgNbdParams(PositiveParams):
    """BG/NBD: λ ~ Gamma(shape r, rate alpha) per period; dropout probability p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float


def _require_positive(values: dict[str, float]) -> None:
    bad = {name: value for name, value in values.items() if not (np.isfinite(value) and value > 0)}
    if bad:
        raise ValueError(f"parameters must be finite and positive: {bad}")


# --- summaries -------------------------------------------------------------------------------------


def summarise_transactions(
    customer_ids: ArrayLike,
    timestamps: ArrayLike | Sequence[datetime],
    amounts: ArrayLike,
    as_of: date,
    time_unit_days: float = 7.0,
) -> pl.DataFrame:
    """Per-customer ``unified_id, frequency, recency, T, monetary`` from a transaction log.

    A purchase period is a calendar day (the models count purchase occasions, not basket lines), so
    same-day transactions collapse into one period whose value is their sum. Only transactions on or
    before ``as_of`` count. recency and T are in units of ``time_unit_days`` days, measured from the
    first purchase. A period worth 0 (a free sample, a fully discounted order) is still a purchase: it
    counts in frequency, recency and T, so its customer is never dropped from the base. The spend
    model only sees value: ``spend_frequency`` counts the repeat periods worth more than 0 and
    ``monetary`` is their mean value (the first purchase is excluded because it is often atypical,
    e.g. a sign-up promotion), 0 without any; ``zero_value_periods`` counts the periods worth 0.
    Timestamps are taken as naive local times."""
    if time_unit_days <= 0:
        raise ValueError("time_unit_days must be positive")
    days = np.asarray(timestamps, dtype="datetime64[us]").astype("datetime64[D]").astype(np.int64)
    as_of_day = int(np.datetime64(as_of, "D").astype(np.int64))
    ids = customer_ids if isinstance(customer_ids, pl.Series) else np.asarray(customer_ids)
    log = pl.DataFrame(
        {"unified_id": ids, "day": days, "amount": np.asarray(amounts, dtype=np.float64)}
    ).filter(pl.col("day") <= as_of_day)
    periods = log.group_by("unified_id", "day").agg(pl.col("amount").sum()).sort("unified_id", "day")
    repeat = pl.col("amount").slice(1)
    per_customer = periods.group_by("unified_id", maintain_order=True).agg(
        frequency=pl.len() - 1,
        first=pl.col("day").first(),
        last=pl.col("day").last(),
        spend_frequency=(repeat > 0).sum(),
        repeat_total=repeat.filter(repeat > 0).sum(),
        zero_value_periods=(pl.col("amount") <= 0).sum(),
    )
    return per_customer.select(
        "unified_id",
        pl.col("frequency").cast(pl.Int64),
        recency=(pl.col("last") - pl.col("first")) / time_unit_days,
        T=(as_of_day - pl.col("first")) / time_unit_days,
        monetary=pl.when(pl.col("spend_frequency") > 0)
        .then(pl.col("repeat_total") / pl.col("spend_frequency"))
        .otherwise(0.0),
        spend_frequency=pl.col("spend_frequency").cast(pl.Int64),
        zero_value_periods=pl.col("zero_value_periods").cast(pl.Int64),
    )


def _customer_arrays(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> tuple[FloatArray, ...]:
    x, t_x, T = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (frequency, recency, T)))
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(t_x)) and np.all(np.isfinite(T))):
        raise ValueError("frequency, recency and T must be finite")
    if np.any(x < 0) or np.any(t_x < 0) or np.any(t_x > T):
        raise ValueError("need frequency >= 0 and 0 <= recency <= T")
    return x, t_x, T


# --- fitting ---------------------------------------------------------------------------------------


def _maximise_likelihood(objective: Objective, start: dict[str, float], penalizer: float) -> dict[str, float]:
    """Minimise the mean negative log-likelihood (+ penalizer · Σ params², the ``lifetimes`` convention)
    over log-parameters; ``objective`` returns the value and its gradient in the natural parameters."""
    if penalizer < 0:
        raise ValueError("penalizer must be >= 0")

    def on_log_scale(theta: FloatArray) -> tuple[float, FloatArray]:
        params = np.exp(theta)
        value, gradient = objective(params)
        value += penalizer * np.sum(params**2)
        gradient = gradient + 2 * penalizer * params
        return value, gradient * params

    result = minimize(
        on_log_scale,
        np.log(list(start.values())),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-9},
    )
    # L-BFGS-B can stop on "abnormal line search" once it is at machine precision; judge by the gradient.
    if not (np.all(np.isfinite(result.x)) and np.max(np.abs(result.jac)) < 1e-5):
        raise RuntimeError(f"maximum likelihood did not converge: {result.message}")
    return dict(zip(start, np.exp(result.x).tolist(), strict=True))


def _bgnbd_log_terms(
    params: BgNbdParams, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> tuple[FloatArray, ...]:
    """log L = shared + logaddexp(alive, dropped): 'alive' = still active at T, 'dropped' = left right
    after the last purchase (impossible, -inf, without repeat purchases)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    repeat = x > 0
    x_or_1 = np.where(repeat, x, 1.0)  # keeps betaln(a + 1, b + x - 1) finite where the term is absent
    shared = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b)
    alive = betaln(a, b + x) - (r + x) * np.log(alpha + T)
    dropped = np.where(repeat, betaln(a + 1, b + x_or_1 - 1) - (r + x) * np.log(alpha + t_x), -np.inf)
    return shared, alive, dropped


def bgnbd_log_likelihood(
    params: BgNbdParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    """Per-customer BG/NBD log-likelihood (FHL 2005, eq. 6)."""
    shared, alive, dropped = _bgnbd_log_terms(params, *_customer_arrays(frequency, recency, T))
    return shared + np.logaddexp(alive, dropped)


def customer_weights(weights: ArrayLike | None, n: int) -> FloatArray:
    """Per-customer weights normalised to mean 1 (None: all 1), so a weighted mean log-likelihood over
    distinct (x, t_x, T) rows equals the plain mean over the customers they stand for."""
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    return w * (n / w.sum()) if n else w


def _bgnbd_objective(
    x: FloatArray, t_x: FloatArray, T: FloatArray, weights: ArrayLike | None = None
) -> Objective:
    w = customer_weights(weights, len(x))

    def mean_negative_log_likelihood(values: FloatArray) -> tuple[float, FloatArray]:
        params = BgNbdParams(*values)
        r, alpha, a, b = values
        shared, alive, dropped = _bgnbd_log_terms(params, x, t_x, T)
        total = np.logaddexp(alive, dropped)
        w_dropped = np.exp(dropped - total)  # posterior weight of the 'dropped' term
        w_alive = 1.0 - w_dropped
        x_or_1 = np.where(x > 0, x, 1.0)
        d_r = (
            digamma(r + x)
            - digamma(r)
            + np.log(alpha)
            - w_alive * np.log(alpha + T)
            - w_dropped * np.log(alpha + t_x)
        )
        d_alpha = r / alpha - (r + x) * (w_alive / (alpha + T) + w_dropped / (alpha + t_x))
        d_a = (
            digamma(a + b)
            - digamma(a)
            + w_alive * digamma(a)
            + w_dropped * digamma(a + 1)
            - digamma(a + b + x)
        )
        d_b = (
            digamma(a + b)
            - digamma(b)
            + w_alive * digamma(b + x)
            + w_dropped * digamma(b + x_or_1 - 1)
            - digamma(a + b + x)
        )
        gradient = np.array([np.mean(w * d) for d in (d_r, d_alpha, d_a, d_b)])
        return -float(np.mean(w * (shared + total))), -gradient

    return mean_negative_log_likelihood


def _bgnbd_start(x: FloatArray, T: FloatArray) -> dict[str, float]:
    """Method-of-moments NBD start for (r, alpha) from the per-customer rates x / T, ignoring dropout:
    E[x/T] = r/alpha and Var[x/T] = E[λ/T] + r/alpha², so the start follows the data's time unit.
    The dimensionless Beta starts uniform (a = b = 1): the moments carry no closed-form signal on p."""
    observed = T > 0
    rates = x[observed] / T[observed]
    if rates.size == 0 or rates.var() == 0:
        raise ValueError("BG/NBD needs customers with observed time and varied repeat purchases")
    mean, variance = rates.mean(), rates.var()
    heterogeneity = variance - mean * np.mean(1.0 / T[observed])  # Var λ after removing Poisson noise
    if heterogeneity <= 0:  # no over-dispersion left: use the raw variance (a flatter Gamma start)
        heterogeneity = variance
    return {"r": mean**2 / heterogeneity, "alpha": mean / heterogeneity, "a": 1.0, "b": 1.0}


def fit_bgnbd(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    penalizer: float = 0.0,
    weights: ArrayLike | None = None,
) -> BgNbdParams:
    """Maximum-likelihood BG/NBD parameters. When the likelihood has no interior maximum (tiny samples,
    or nobody ever lapses) the estimates run towards the boundary (a → 0, b → ∞, ...); ``penalizer``
    adds penalizer · Σ params² to the mean negative log-likelihood to keep them finite. ``weights``:
    how many customers each row stands for (see ``customer_weights``)."""
    x, t_x, T = _customer_arrays(frequency, recency, T)
    fitted = _maximise_likelihood(_bgnbd_objective(x, t_x, T, weights), _bgnbd_start(x, T), penalizer)
    return BgNbdParams(**fitted)


# --- predictions -----------------------------------------------------------------------------------


def probability_alive(
    params: BgNbdParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    """P(still a customer at T | x, t_x, T) (FHL 2005, eq. 11). Exactly 1 without repeat purchases:
    in BG/NBD dropout can only happen right after a repeat purchase."""
    x, t_x, T = _customer_arrays(frequency, recency, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    repeat = x > 0
    log_odds_dropped = (
        np.log(a) - np.log(b + np.where(repeat, x, 1.0) - 1) + (r + x) * np.log1p((T - t_x) / (alpha + t_x))
    )
    return np.where(repeat, expit(-log_odds_dropped), 1.0)


def expected_purchases(
    params: BgNbdParams, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    """E[purchases in (T, T + t] | x, t_x, T] (FHL 2005, eq. 10).

    The paper's term ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x-1; z), z = t/(α+T+t), is computed
    through Euler's transformation as (1-z)^(a-1) · 2F1(a+b-1-r, a-1; a+b+x-1; z): the upper
    parameters no longer grow with x, so heavy buyers do not push ``hyp2f1`` into overflow or slow
    convergence (``_hyp2f1`` covers one scipy failure mode).

    The formula is 0/0 at a = 1 (a removable singularity, with cancellation growing as a nears 1), so
    within A_NEAR_ONE of 1 the result is interpolated linearly between a = 1 ± A_NEAR_ONE; the
    expectation is smooth in a, so this costs ~1e-8 relative error instead of ~1e-16 / |a - 1|."""
    x, t_x, T = _customer_arrays(frequency, recency, T)
    t = np.asarray(t, dtype=np.float64)
    if np.any(t < 0):
        raise ValueError("t must be >= 0")
    return bridged_at_a_one(params, lambda p: _expected_purchases(p, t, x, t_x, T))


def bridged_at_a_one(params: Any, evaluate: Callable[[Any], FloatArray]) -> FloatArray:
    """``evaluate(params)``, or within A_NEAR_ONE of a = 1 (where the expectation formulas are 0/0) the
    linear interpolation between a = 1 ± A_NEAR_ONE (see ``expected_purchases``)."""
    if abs(params.a - 1) >= A_NEAR_ONE:
        return evaluate(params)
    below, above = (replace(params, a=1 + side * A_NEAR_ONE) for side in (-1, 1))
    weight = (params.a - below.a) / (above.a - below.a)
    return (1 - weight) * evaluate(below) + weight * evaluate(above)


def _expected_purchases(
    params: BgNbdParams, t: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> FloatArray:
    return expected_purchases_if_alive(params, t, x, T) * probability_alive(params, x, t_x, T)


def expected_purchases_if_alive(
    params: BgNbdParams, t: FloatArray, x: FloatArray, T: FloatArray
) -> FloatArray:
    """E[purchases in (T, T + t] | alive at T, x]: the factor of FHL 2005 eq. 10 before P(alive)
    (MBG/NBD shares it with b + 1). Not interpolated at a = 1; callers go through ``expected_purchases``."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = t / (alpha + T + t)
    hypergeometric = _hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
    return (a + b + x - 1) / (a - 1) * (1.0 - np.exp((a - 1) * np.log1p(-z)) * hypergeometric)


def _hyp2f1(a: ArrayLike, b: ArrayLike, c: ArrayLike, z: ArrayLike) -> FloatArray:
    """``scipy.special.hyp2f1`` (1.17) returns inf for z > 0.9 when c - a - b is a large exact integer
    (here: r - a an integer, x large), from its integer-difference branch. 2F1 is smooth in c, so such
    entries are re-evaluated at c · (1 + HYP2F1_NUDGE), ~1e-9 relative error; anything still
    non-finite raises rather than propagating."""
    values = hyp2f1(a, b, c, z)
    broken = ~np.isfinite(values)
    if np.any(broken):
        values = np.where(broken, hyp2f1(a, b, np.multiply(c, 1 + HYP2F1_NUDGE), z), values)
    if not np.all(np.isfinite(values)):
        raise FloatingPointError("hyp2f1 returned non-finite values for these parameters")
    return values
