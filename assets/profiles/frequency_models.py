"""The purchase-frequency models side by side (BG/NBD, Pareto/NBD, MBG/NBD): one interface to fit each
by maximum likelihood, with standard errors, and to predict from it.

Customers with the same (x, t_x, T) have the same likelihood, so fits run on the distinct rows with
counts as weights: with daily data and a weekly period most of a base collapses (every one-time buyer
of a given first day is one row), which keeps Pareto/NBD's quadrature affordable at 200 k buyers.

Standard errors come from the observed information: the Hessian of the total log-likelihood at the
estimate, by central differences of the analytic gradient, inverted. The penalizer is left out of it
(it only keeps tiny samples finite).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from assets.profiles.clv import (
    BgNbdParams,
    Objective,
    _bgnbd_objective,
    _bgnbd_start,
    _customer_arrays,
    _maximise_likelihood,
    expected_purchases,
    probability_alive,
)
from assets.profiles.mbgnbd import (
    MbgNbdParams,
    _mbgnbd_objective,
    mbgnbd_expected_purchases,
    mbgnbd_probability_alive,
    mbgnbd_start,
)
from assets.profiles.pareto_nbd import (
    ParetoNbdParams,
    _pareto_nbd_objective,
    pareto_nbd_expected_purchases,
    pareto_nbd_probability_alive,
    pareto_nbd_start,
)

FloatArray = NDArray[np.float64]
# Relative step of the central differences of the gradient that make the Hessian.
HESSIAN_STEP = 1e-5


@dataclass(frozen=True)
class FrequencyModel:
    name: str
    params: type
    objective: Callable[..., Objective]
    start: Callable[[FloatArray, FloatArray, FloatArray], dict[str, float]]
    probability_alive: Callable[..., FloatArray]
    expected_purchases: Callable[..., FloatArray]


MODELS: dict[str, FrequencyModel] = {
    "bgnbd": FrequencyModel(
        "bgnbd",
        BgNbdParams,
        _bgnbd_objective,
        lambda x, t_x, T: _bgnbd_start(x, T),
        probability_alive,
        expected_purchases,
    ),
    "pareto_nbd": FrequencyModel(
        "pareto_nbd",
        ParetoNbdParams,
        _pareto_nbd_objective,
        pareto_nbd_start,
        pareto_nbd_probability_alive,
        pareto_nbd_expected_purchases,
    ),
    "mbgnbd": FrequencyModel(
        "mbgnbd",
        MbgNbdParams,
        _mbgnbd_objective,
        mbgnbd_start,
        mbgnbd_probability_alive,
        mbgnbd_expected_purchases,
    ),
}


@dataclass(frozen=True)
class Fit:
    """A fitted model: parameters, their standard errors (NaN where the information matrix is singular),
    the total log-likelihood and the number of customers it was fitted on."""

    model: str
    params: Any
    std_errors: dict[str, float]
    log_likelihood: float
    customers: int

    def probability_alive(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
        return MODELS[self.model].probability_alive(self.params, x, t_x, T)

    def expected_purchases(self, t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
        return MODELS[self.model].expected_purchases(self.params, t, x, t_x, T)


def distinct_customers(*columns: ArrayLike) -> tuple[tuple[FloatArray, ...], FloatArray, NDArray[np.int64]]:
    """The distinct rows of ``columns`` in lexicographic order (``np.unique(axis=0)``'s answer), how
    many customers each stands for, and each customer's row. By a lexsort of the columns: numpy's
    row-wise unique sorts a structured view, 0.44 s for 200 k customers against 0.06 s, and a run
    calls this once per model fitted."""
    stacked = np.column_stack([np.asarray(c, dtype=np.float64) for c in columns])
    order = np.lexsort(stacked.T[::-1])
    ordered = stacked[order]
    starts = np.ones(len(ordered), dtype=bool)
    starts[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    group = np.cumsum(starts) - 1
    inverse = np.empty(len(ordered), dtype=np.int64)
    inverse[order] = group
    return tuple(ordered[starts].T), np.bincount(group).astype(np.float64), inverse


def standard_errors(objective: Objective, estimate: FloatArray, customers: float) -> FloatArray:
    """sqrt(diag(H⁻¹)) with H the Hessian of the total negative log-likelihood (``customers`` × the
    mean that ``objective`` returns), by central differences of its gradient."""
    steps = HESSIAN_STEP * np.abs(estimate)
    columns = [
        (objective(estimate + h * e)[1] - objective(estimate - h * e)[1]) / (2 * h)
        for h, e in zip(steps, np.eye(len(estimate)), strict=True)
    ]
    hessian = customers * np.array(columns)
    hessian = (hessian + hessian.T) / 2
    try:
        covariance = np.linalg.inv(hessian)
    except np.linalg.LinAlgError:
        return np.full(len(estimate), np.nan)
    variance = np.diag(covariance)
    return np.sqrt(np.where(variance > 0, variance, np.nan))


def fit_frequency_model(
    name: str, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, penalizer: float = 0.0
) -> Fit:
    """Maximum likelihood for model ``name`` (a key of MODELS) on the customers' (x, t_x, T)."""
    model = MODELS[name]
    x, t_x, T = _customer_arrays(frequency, recency, T)
    (dx, dt_x, dT), weights, _ = distinct_customers(x, t_x, T)
    objective = model.objective(dx, dt_x, dT, weights)
    fitted = _maximise_likelihood(objective, model.start(x, t_x, T), penalizer)
    estimate = np.array(list(fitted.values()))
    errors = standard_errors(objective, estimate, float(len(x)))
    return Fit(
        name,
        model.params(**fitted),
        dict(zip(fitted, errors.tolist(), strict=True)),
        -objective(estimate)[0] * len(x),
        len(x),
    )
