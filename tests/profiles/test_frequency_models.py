"""Pareto/NBD and MBG/NBD: likelihoods against numerical integration (and Pareto/NBD against its
hypergeometric closed form), analytic gradients, recovery within the reported standard errors."""

import numpy as np
import pytest
from scipy import integrate
from scipy.special import betaln, gammaln, hyp2f1

from assets.profiles.clv import BgNbdParams
from assets.profiles.frequency_models import MODELS, distinct_customers, fit_frequency_model
from assets.profiles.mbgnbd import (
    MbgNbdParams,
    _mbgnbd_objective,
    mbgnbd_expected_purchases,
    mbgnbd_log_likelihood,
    mbgnbd_probability_alive,
    simulate_mbgnbd,
)
from assets.profiles.pareto_nbd import (
    ParetoNbdParams,
    _pareto_nbd_objective,
    pareto_nbd_expected_purchases,
    pareto_nbd_log_likelihood,
    pareto_nbd_probability_alive,
    simulate_pareto_nbd,
)
from assets.profiles.simulation import simulate_bgnbd

CDNOW_PARETO = ParetoNbdParams(r=0.55, alpha=10.58, s=0.61, beta=11.67)
SKEWED_PARETO = ParetoNbdParams(
    r=1.5, alpha=2.0, s=0.4, beta=40.0
)  # beta ≫ alpha: the other closed-form branch
MBG = MbgNbdParams(r=0.525, alpha=6.18, a=0.891, b=1.614)
QUAD = {"epsabs": 0.0, "epsrel": 1e-11, "limit": 500}
CUSTOMERS = [
    (0, 0.0, 30.0),
    (1, 5.0, 40.0),
    (4, 10.5, 60.0),
    (25, 70.0, 78.0),
    (12, 3.0, 78.0),
    (2, 40.0, 40.0),
]


def gamma_expectation(shape, rate, function, centre):
    """E[function(v)] for v ~ Gamma(shape, rate), split at ``centre`` so quadrature sees the mass."""

    def integrand(v):
        return np.exp(shape * np.log(rate) + (shape - 1) * np.log(v) - rate * v - gammaln(shape)) * function(
            v
        )

    return sum(integrate.quad(integrand, *limits, **QUAD)[0] for limits in [(0, centre), (centre, np.inf)])


def integrated_pareto_likelihood(params, x, t_x, T):
    """L(λ, μ) = λ^x e^{−(λ+μ)T} + λ^x μ/(λ+μ) (e^{−(λ+μ)t_x} − e^{−(λ+μ)T}), averaged over the
    Gamma densities of λ and μ by nested quadrature."""

    def given_mu(mu):
        def individual(lam):
            total = lam + mu
            return lam**x * (np.exp(-total * T) + mu / total * (np.exp(-total * t_x) - np.exp(-total * T)))

        return gamma_expectation(params.r, params.alpha, individual, (params.r + x) / (params.alpha + t_x))

    return gamma_expectation(params.s, params.beta, np.vectorize(given_mu), params.s / (params.beta + t_x))


def closed_form_pareto(params, x, t_x, T):
    """Fader & Hardie (2005) eq. 22 with its two hypergeometric branches."""
    r, alpha, s, beta = params.r, params.alpha, params.s, params.beta
    m = r + s + x
    if alpha >= beta:
        f = lambda t: hyp2f1(m, s + 1, m + 1, (alpha - beta) / (alpha + t)) / (alpha + t) ** m  # noqa: E731
    else:
        f = lambda t: hyp2f1(m, r + x, m + 1, (beta - alpha) / (beta + t)) / (beta + t) ** m  # noqa: E731
    return (
        gammaln(r + x)
        - gammaln(r)
        + r * np.log(alpha)
        + s * np.log(beta)
        + np.log((alpha + T) ** -(r + x) * (beta + T) ** -s + s / m * (f(t_x) - f(T)))
    )


@pytest.mark.parametrize("params", [CDNOW_PARETO, SKEWED_PARETO])
def test_pareto_nbd_log_likelihood_matches_the_closed_form_and_integration(params):
    x, t_x, T = map(np.array, zip(*CUSTOMERS, strict=True))
    got = pareto_nbd_log_likelihood(params, x, t_x, T)
    np.testing.assert_allclose(got, [closed_form_pareto(params, *c) for c in CUSTOMERS], rtol=0, atol=1e-10)
    integrated = [np.log(integrated_pareto_likelihood(params, *c)) for c in CUSTOMERS[:4]]
    np.testing.assert_allclose(got[:4], integrated, rtol=0, atol=1e-6)


def beta_expectation(a, b, function):
    density = lambda p: np.exp((a - 1) * np.log(p) + (b - 1) * np.log1p(-p) - betaln(a, b))  # noqa: E731
    return integrate.quad(lambda p: function(p) * density(p), 0, 1, **QUAD)[0]


def test_mbgnbd_log_likelihood_matches_integration_over_rate_and_dropout():
    # L(λ, p) = (1−p)^{x+1} λ^x e^{−λT} + p (1−p)^x λ^x e^{−λ t_x}: a dropout chance at every purchase,
    # the first included
    def integrated(x, t_x, T):
        def rate(s):
            return gamma_expectation(
                MBG.r, MBG.alpha, lambda lam: lam**x * np.exp(-lam * s), (MBG.r + x) / (MBG.alpha + s)
            )

        return beta_expectation(MBG.a, MBG.b, lambda p: (1 - p) ** (x + 1)) * rate(T) + beta_expectation(
            MBG.a, MBG.b, lambda p: p * (1 - p) ** x
        ) * rate(t_x)

    x, t_x, T = map(np.array, zip(*CUSTOMERS, strict=True))
    np.testing.assert_allclose(
        mbgnbd_log_likelihood(MBG, x, t_x, T), [np.log(integrated(*c)) for c in CUSTOMERS], rtol=0, atol=1e-6
    )


def central_differences(objective, point, step=1e-6):
    return np.array(
        [
            (objective(point + step * e)[0] - objective(point - step * e)[0]) / (2 * step)
            for e in np.eye(point.size) * point
        ]
    )


def test_analytic_gradients_match_finite_differences():
    T = np.random.default_rng(2).uniform(30, 78, 3000)
    x, t_x, T = simulate_pareto_nbd(3000, CDNOW_PARETO, T, 2)
    weights = np.random.default_rng(3).integers(1, 5, len(x))
    for objective, point in [
        (_pareto_nbd_objective(x, t_x, T, weights), np.array([0.5, 9.0, 0.7, 14.0])),
        (_pareto_nbd_objective(x, t_x, T), np.array([1.4, 2.5, 0.5, 30.0])),
        (_mbgnbd_objective(x, t_x, T, weights), np.array([0.4, 5.0, 0.8, 2.0])),
    ]:
        numeric = central_differences(objective, point) / point
        np.testing.assert_allclose(objective(point)[1], numeric, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize(
    "name, truth, simulate",
    [
        ("pareto_nbd", CDNOW_PARETO, simulate_pareto_nbd),
        ("mbgnbd", MBG, simulate_mbgnbd),
        ("bgnbd", BgNbdParams(0.24, 4.41, 0.79, 2.43), simulate_bgnbd),
    ],
)
def test_fits_recover_the_parameters_within_their_standard_errors(name, truth, simulate):
    # 30 k customers here (the 250 k runs within 5 % are in benchmarks/bench_clv_recovery.py); a
    # longer window (1-3 years of weeks) than CDNOW's identifies dropout well enough for every model
    T = np.random.default_rng(7).uniform(52, 156, 30_000)
    fit = fit_frequency_model(name, *simulate(30_000, truth, T, 7))
    for parameter, value in truth.as_dict().items():
        error = fit.std_errors[parameter]
        assert 0 < error < 0.2 * value, parameter
        assert abs(fit.params.as_dict()[parameter] - value) < 4 * error, parameter
    assert fit.customers == 30_000 and fit.log_likelihood < 0


@pytest.mark.parametrize(
    "name, params, simulate",
    [("pareto_nbd", CDNOW_PARETO, simulate_pareto_nbd), ("mbgnbd", MBG, simulate_mbgnbd)],
)
def test_expected_purchases_of_new_customers_match_simulation(name, params, simulate):
    # a customer just acquired (x = t_x = T = 0) is the population: E[X(t)] against 400 k simulated
    x, _, _ = simulate(400_000, params, 39.0, 5)
    expected = MODELS[name].expected_purchases(params, 39.0, 0.0, 0.0, 0.0)
    assert expected == pytest.approx(x.mean(), abs=4 * x.std() / np.sqrt(len(x)))


def test_probability_alive_differs_where_the_models_do():
    # MBG/NBD can lose a one-time buyer, BG/NBD cannot; Pareto/NBD loses anyone over a long silence
    assert mbgnbd_probability_alive(MBG, 0, 0.0, 40.0)[()] < 1
    assert pareto_nbd_probability_alive(CDNOW_PARETO, [3, 3], [39.0, 5.0], [40.0, 40.0]).tolist() == sorted(
        pareto_nbd_probability_alive(CDNOW_PARETO, [3, 3], [39.0, 5.0], [40.0, 40.0]).tolist(), reverse=True
    )
    assert pareto_nbd_expected_purchases(ParetoNbdParams(0.5, 10.0, 1.0, 12.0), 10.0, 2, 20.0, 30.0)[()] > 0
    assert np.all(np.diff(mbgnbd_expected_purchases(MBG, [1.0, 5.0, 20.0], 2, 10.0, 30.0)) > 0)


@pytest.mark.parametrize("customers", [0, 1, 5000])
def test_distinct_customers_are_numpys_unique_rows_with_their_counts(customers: int) -> None:
    rng = np.random.default_rng(customers)
    x = rng.integers(0, 4, customers).astype(float)
    t_x = np.where(x > 0, rng.integers(0, 6, customers), 0).astype(float)
    T = rng.integers(1, 6, customers) + 0.5
    rows, weights, row_of = distinct_customers(x, t_x, T)
    expected, inverse, counts = np.unique(
        np.column_stack([x, t_x, T]), axis=0, return_inverse=True, return_counts=True
    )
    assert np.array_equal(np.column_stack(rows), expected.reshape(-1, 3))
    assert np.array_equal(weights, counts) and np.array_equal(row_of, inverse.ravel())
