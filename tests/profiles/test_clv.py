"""CLV models: likelihoods against independent numerical integration, parameter recovery on simulated
customers, predictions calibrated against an independent event-by-event simulation, and summaries."""

from datetime import date, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate
from scipy.special import betaln, gammaln

from assets.profiles.clv import (
    BgNbdParams,
    _bgnbd_objective,
    bgnbd_log_likelihood,
    expected_purchases,
    fit_bgnbd,
    probability_alive,
    summarise_transactions,
)
from assets.profiles.gamma_gamma import (
    GammaGammaParams,
    _gamma_gamma_objective,
    customer_lifetime_value,
    expected_average_value,
    fit_gamma_gamma,
    gamma_gamma_log_likelihood,
)
from assets.profiles.simulation import simulate_bgnbd, simulate_gamma_gamma

CDNOW = BgNbdParams(r=0.24, alpha=4.41, a=0.79, b=2.43)
CDNOW_SPEND = GammaGammaParams(p=6.25, q=3.74, v=15.44)
OTHER = BgNbdParams(r=1.7, alpha=12.0, a=2.6, b=0.6)  # a > 1 and b < 1: the other side of the (a - 1) factor
A_IS_ONE = BgNbdParams(r=0.6, alpha=8.0, a=1.0, b=3.0)  # where expected purchases are 0/0
QUAD = {"epsabs": 0.0, "epsrel": 1e-12, "limit": 500}

# (x, t_x, T): no repeats, a single repeat, a lapsed customer, an active heavy buyer
CUSTOMERS = [(0, 0.0, 30.0), (1, 5.0, 40.0), (4, 10.5, 60.0), (25, 70.0, 78.0)]


def cdnow_sample(n: int, seed: int) -> tuple[np.ndarray, ...]:
    T = np.random.default_rng(seed).uniform(30, 78, n)
    x, t_x, T = simulate_bgnbd(n, CDNOW, T, seed)
    return x, t_x, T, simulate_gamma_gamma(x, CDNOW_SPEND, seed + 1)


# --- likelihoods -----------------------------------------------------------------------------------


def log_gamma_density(value: float, shape: float, rate: float) -> float:
    return shape * np.log(rate) + (shape - 1) * np.log(value) - rate * value - gammaln(shape)


def beta_expectation(params: BgNbdParams, function) -> float:
    a, b = params.a, params.b
    density = lambda p: np.exp((a - 1) * np.log(p) + (b - 1) * np.log1p(-p) - betaln(a, b))  # noqa: E731
    return integrate.quad(lambda p: function(p) * density(p), 0, 1, **QUAD)[0]


def rate_expectation(params: BgNbdParams, x: int, s: float) -> float:
    """E[λ^x e^{-λs}] over λ ~ Gamma(r, α), split where the integrand's mass sits so quadrature sees
    both the integrable spike at 0 (r < 1) and the tail."""

    def integrand(lam: float) -> float:
        return np.exp(x * np.log(lam) - lam * s + log_gamma_density(lam, params.r, params.alpha))

    middle = (params.r + x) / (params.alpha + s)
    return sum(integrate.quad(integrand, *limits, **QUAD)[0] for limits in [(0, middle), (middle, np.inf)])


def integrated_bgnbd_likelihood(params: BgNbdParams, x: int, t_x: float, T: float) -> float:
    """FHL 2005 eq. 3, L(λ, p) = (1-p)^x λ^x e^{-λT} + δ(x>0) p (1-p)^(x-1) λ^x e^{-λ t_x}, averaged over
    the Gamma and Beta mixing densities by quadrature; each term factorises into a λ- and a p-integral."""
    alive = beta_expectation(params, lambda p: (1 - p) ** x) * rate_expectation(params, x, T)
    if x == 0:
        return alive
    dropped = beta_expectation(params, lambda p: p * (1 - p) ** (x - 1)) * rate_expectation(params, x, t_x)
    return alive + dropped


@pytest.mark.parametrize("params", [CDNOW, OTHER])
def test_bgnbd_log_likelihood_matches_integration_over_rate_and_dropout(params):
    x, t_x, T = map(np.array, zip(*CUSTOMERS, strict=True))
    expected = [np.log(integrated_bgnbd_likelihood(params, *customer)) for customer in CUSTOMERS]
    np.testing.assert_allclose(bgnbd_log_likelihood(params, x, t_x, T), expected, rtol=0, atol=1e-6)


def test_gamma_gamma_log_likelihood_matches_integration_over_customer_rate():
    x, m = np.array([1, 2, 7, 30]), np.array([3.1, 12.0, 5.5, 4.2])
    p, q, v = CDNOW_SPEND.p, CDNOW_SPEND.q, CDNOW_SPEND.v

    # the mean of x Gamma(p, ν) values is Gamma(px, rate xν); ν ~ Gamma(q, rate v)
    def density(nu: float, k: int, mean: float) -> float:
        return np.exp(log_gamma_density(mean, p * k, k * nu) + log_gamma_density(nu, q, v))

    expected = [
        np.log(integrate.quad(density, 0, np.inf, args=(k, mean), **QUAD)[0])
        for k, mean in zip(x, m, strict=True)
    ]
    np.testing.assert_allclose(gamma_gamma_log_likelihood(CDNOW_SPEND, x, m), expected, rtol=0, atol=1e-6)


def central_differences(objective, point: np.ndarray, step: float = 1e-6) -> np.ndarray:
    return np.array(
        [
            (objective(point + step * e)[0] - objective(point - step * e)[0]) / (2 * step)
            for e in np.eye(point.size) * point
        ]
    )  # relative steps


def test_analytic_gradients_match_finite_differences():
    x, t_x, T, m = cdnow_sample(2_000, seed=3)
    for objective, point in [
        (_bgnbd_objective(x, t_x, T), np.array([0.3, 5.0, 0.7, 2.0])),
        (_gamma_gamma_objective(x[x > 0], m[x > 0]), np.array([5.0, 4.0, 12.0])),
    ]:
        numeric = central_differences(objective, point) / point
        np.testing.assert_allclose(objective(point)[1], numeric, rtol=1e-5, atol=1e-8)


# --- fitting ---------------------------------------------------------------------------------------


def test_both_models_recover_the_cdnow_parameters_within_ten_percent():
    # Sampling spread of the estimates is ≈ c / sqrt(n) with c up to 12 for b and 13 for v (30 seeds
    # at 20k customers), so 10 % on every parameter needs ~200k customers at 3.5 standard deviations;
    # 5k customers give ±16-18 % on b, p and v.
    x, t_x, T, m = cdnow_sample(250_000, seed=11)
    for truth, fitted in [(CDNOW, fit_bgnbd(x, t_x, T)), (CDNOW_SPEND, fit_gamma_gamma(x, m))]:
        for name, value in truth.as_dict().items():
            assert fitted.as_dict()[name] == pytest.approx(value, rel=0.10), name


def test_fit_follows_the_time_unit():
    x, t_x, T, _ = cdnow_sample(5_000, seed=5)
    weekly, daily = fit_bgnbd(x, t_x, T), fit_bgnbd(x, 7 * t_x, 7 * T)
    assert daily.alpha == pytest.approx(7 * weekly.alpha, rel=1e-5)
    for name in ("r", "a", "b"):
        assert getattr(daily, name) == pytest.approx(getattr(weekly, name), rel=1e-5)


def test_the_penalizer_shrinks_parameters():
    x, t_x, T, _ = cdnow_sample(2_000, seed=2)
    free, penalised = fit_bgnbd(x, t_x, T), fit_bgnbd(x, t_x, T, penalizer=0.1)
    assert sum(v**2 for v in penalised.as_dict().values()) < sum(v**2 for v in free.as_dict().values())


def test_fits_refuse_data_without_information():
    with pytest.raises(ValueError):
        fit_bgnbd(np.zeros(10), np.zeros(10), np.full(10, 20.0))
    with pytest.raises(ValueError):
        fit_gamma_gamma(np.array([1, 2, 3]), np.array([5.0, 5.0, 5.0]))
    with pytest.raises(ValueError):
        fit_bgnbd(np.array([2.0]), np.array([30.0]), np.array([20.0]))  # recency after T


# --- predictions -----------------------------------------------------------------------------------


def test_probability_alive_is_one_without_repeat_purchases_and_falls_as_the_last_purchase_ages():
    assert probability_alive(CDNOW, 0, 0.0, 52.0) == 1.0
    alive = probability_alive(CDNOW, 3, np.array([50.0, 40.0, 20.0, 5.0]), 52.0)
    assert np.all((0 < alive) & (alive < 1)) and np.all(np.diff(alive) < 0)


def integrated_expected_purchases(params: BgNbdParams, t: float, x: int, t_x: float, T: float) -> float:
    """E[Y(t) | data] = E[(1-p)^x λ^x e^{-λT} · (1 - e^{-λpt}) / p] / L: being alive at T times the
    expected purchases of an alive customer (FHL 2005 eq. 7), over the mixing densities; the λ-integral is
    the textbook Gamma integral, the p-integral is quadrature. No hypergeometric function involved."""
    r, alpha = params.r, params.alpha

    def rate_integral(p: float) -> float:  # ∫ λ^x e^{-λT} (1 - e^{-λpt}) Gamma(λ; r, α) dλ
        at_T = np.exp(gammaln(r + x) - gammaln(r) + r * np.log(alpha) - (r + x) * np.log(alpha + T))
        return at_T * -np.expm1(-(r + x) * np.log1p(p * t / (alpha + T)))

    future = beta_expectation(params, lambda p: (1 - p) ** x * rate_integral(p) / p)
    return future / integrated_bgnbd_likelihood(params, x, t_x, T)


@pytest.mark.parametrize("params", [CDNOW, OTHER, A_IS_ONE])
def test_expected_purchases_match_integration_of_the_model(params):
    for t in (4.0, 39.0):
        x, t_x, T = map(np.array, zip(*CUSTOMERS, strict=True))
        expected = [integrated_expected_purchases(params, t, *customer) for customer in CUSTOMERS]
        np.testing.assert_allclose(expected_purchases(params, t, x, t_x, T), expected, rtol=1e-7)


def test_expected_purchases_where_scipys_hyp2f1_returns_inf():
    # r - a = -1 makes c - a - b = x + r - a + 1 = 99 an exact integer, and z = 520 / 522 > 0.9
    params, customer = BgNbdParams(r=1.0, alpha=1.0, a=2.0, b=1.0), (99, 0.5, 1.0)
    assert expected_purchases(params, 520.0, *customer) == pytest.approx(
        integrated_expected_purchases(params, 520.0, *customer), rel=1e-7
    )


def test_expected_purchases_start_at_zero_and_grow_with_the_horizon():
    t = np.array([0.0, 1.0, 4.0, 13.0, 52.0, 520.0])
    for x, t_x, T in CUSTOMERS:
        purchases = expected_purchases(CDNOW, t, x, t_x, T)
        assert purchases[0] == 0.0 and np.all(np.diff(purchases) > 0)


@settings(max_examples=200, deadline=None)
@given(
    r=st.floats(0.02, 20),
    alpha=st.floats(0.05, 500),
    a=st.floats(0.05, 20),
    b=st.floats(0.05, 20),
    x=st.integers(0, 300),
    T=st.floats(0, 300),
    recency_share=st.floats(0, 1),
)
def test_expected_purchases_stay_finite_and_monotone_across_parameters(r, alpha, a, b, x, T, recency_share):
    params = BgNbdParams(r, alpha, a, b)
    t_x = recency_share * T if x else 0.0
    purchases = expected_purchases(params, np.array([0.0, 1.0, 52.0, 520.0]), x, t_x, T)
    assert np.all(np.isfinite(purchases)) and purchases[0] == 0.0
    assert np.all(np.diff(purchases) >= -1e-9 * purchases.max())


def simulate_with_future(n: int, params: BgNbdParams, T: float, horizon: float, seed: int):
    """Event by event, independently of ``simulate_bgnbd``: exponential gaps, a dropout coin after each
    repeat purchase; returns the calibration summary and what happened next."""
    rng = np.random.default_rng(seed)
    rate, dropout = rng.gamma(params.r, 1 / params.alpha, n), rng.beta(params.a, params.b, n)
    clock, x, t_x, future = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    alive_at_T, running = np.ones(n, dtype=bool), np.ones(n, dtype=bool)
    while running.any():
        ids = np.flatnonzero(running)
        with np.errstate(divide="ignore"):
            clock[ids] += rng.standard_exponential(ids.size) / rate[ids]
        now = clock[ids]
        before, after = ids[now <= T], ids[(now > T) & (now <= T + horizon)]
        x[before] += 1
        t_x[before] = clock[before]
        future[after] += 1
        drops = rng.random(ids.size) < dropout[ids]
        alive_at_T[ids[drops & (now <= T)]] = False
        running[ids[drops | (now > T + horizon)]] = False
    return x, t_x, np.full(n, T), alive_at_T, future


def assert_calibrated(predicted: np.ndarray, observed: np.ndarray) -> None:
    difference = observed - predicted
    assert abs(difference.mean()) <= 4 * difference.std() / np.sqrt(difference.size)


def test_predictions_are_calibrated_against_what_simulated_customers_did_next():
    x, t_x, T, alive, future = simulate_with_future(40_000, CDNOW, T=52.0, horizon=26.0, seed=8)
    p_alive = probability_alive(CDNOW, x, t_x, T)
    purchases = expected_purchases(CDNOW, 26.0, x, t_x, T)
    for group in (x == 0, (x > 0) & (x <= 2), x > 2):
        assert_calibrated(p_alive[group], alive[group])
        assert_calibrated(purchases[group], future[group])


def test_simulated_counts_match_the_unconditional_model():
    # A brand-new customer (x = t_x = T = 0) has no information: their conditional expectation is the
    # population's E[X(t)], and P(X(t) = 0) = (α / (α + t))^r.
    x, _, _ = simulate_bgnbd(100_000, CDNOW, 39.0, seed=4)
    assert_calibrated(np.full(x.size, expected_purchases(CDNOW, 39.0, 0, 0.0, 0.0)), x)
    assert_calibrated(np.full(x.size, (CDNOW.alpha / (CDNOW.alpha + 39.0)) ** CDNOW.r), x == 0)


def test_simulated_spend_has_the_model_mean():
    frequency = np.random.default_rng(0).integers(1, 10, 100_000)
    monetary = simulate_gamma_gamma(frequency, CDNOW_SPEND, seed=1)
    population_mean = CDNOW_SPEND.p * CDNOW_SPEND.v / (CDNOW_SPEND.q - 1)
    assert monetary.mean() == pytest.approx(population_mean, rel=0.03)  # heavy tail: q = 3.74
    assert simulate_gamma_gamma(np.array([0]), CDNOW_SPEND, seed=1)[0] == 0.0


def test_expected_average_value_shrinks_own_mean_towards_the_population():
    population = CDNOW_SPEND.p * CDNOW_SPEND.v / (CDNOW_SPEND.q - 1)
    values = expected_average_value(CDNOW_SPEND, np.array([0, 1, 10, 10_000]), 100.0)
    assert values[0] == pytest.approx(population)
    assert population < values[1] < values[2] < values[3] < 100.0
    assert values[3] == pytest.approx(100.0, rel=1e-3)


def test_customer_lifetime_value():
    x, t_x, T, m = (
        np.array(column, dtype=float) for column in ([0, 3, 300], [0, 40, 1], [52, 52, 78], [0, 30, 20])
    )
    undiscounted = customer_lifetime_value(CDNOW, CDNOW_SPEND, x, t_x, T, m, horizon_periods=52)
    np.testing.assert_allclose(
        undiscounted, expected_purchases(CDNOW, 52, x, t_x, T) * expected_average_value(CDNOW_SPEND, x, m)
    )
    # 300 purchases, the last 77 weeks ago: P(alive) underflows, no expected purchases, no value
    assert expected_purchases(CDNOW, 52, 300, 1.0, 78.0) == 0.0 and undiscounted[2] == 0.0
    assert np.all(customer_lifetime_value(CDNOW, CDNOW_SPEND, x, t_x, T, m, horizon_periods=0) == 0.0)
    discounted = customer_lifetime_value(CDNOW, CDNOW_SPEND, x, t_x, T, m, 52, discount_rate_per_period=0.01)
    barely = customer_lifetime_value(CDNOW, CDNOW_SPEND, x, t_x, T, m, 52, discount_rate_per_period=1e-9)
    assert np.all(discounted[:2] < undiscounted[:2])
    np.testing.assert_allclose(barely, undiscounted, rtol=1e-7)


# --- summaries -------------------------------------------------------------------------------------


def test_summarise_transactions_collapses_days_ignores_the_future_and_excludes_the_first_purchase():
    log = [
        ("ann", datetime(2026, 1, 5, 9, 0), 50.0),  # first purchase: not in monetary
        ("ann", datetime(2026, 1, 12, 10, 0), 20.0),
        ("ann", datetime(2026, 1, 12, 18, 30), 10.0),  # same day: one period worth 30
        ("ann", datetime(2026, 1, 26, 12, 0), 60.0),
        ("ann", datetime(2026, 3, 1, 12, 0), 999.0),  # after as_of
        ("bob", datetime(2026, 2, 2, 8, 0), 15.0),
        ("bob", datetime(2026, 2, 2, 20, 0), 5.0),  # same day as his first: still no repeat
        ("cid", datetime(2026, 3, 5, 8, 0), 40.0),  # only after as_of: absent
        ("dee", datetime(2026, 1, 5, 8, 0), 30.0),
        ("dee", datetime(2026, 1, 19, 8, 0), 0.0),  # a free repeat purchase: a purchase, not spend
        ("dee", datetime(2026, 1, 26, 8, 0), 12.0),
        ("eve", datetime(2026, 1, 5, 8, 0), 0.0),  # only zero-value purchases: still a customer
        ("eve", datetime(2026, 1, 12, 8, 0), 0.0),
    ]
    ids, timestamps, amounts = zip(*log, strict=True)
    summary = summarise_transactions(ids, timestamps, amounts, as_of=date(2026, 2, 9))
    assert summary.to_dicts() == [
        {
            "unified_id": "ann",
            "frequency": 2,
            "recency": 3.0,
            "T": 5.0,
            "monetary": 45.0,
            "spend_frequency": 2,
            "zero_value_periods": 0,
        },
        {
            "unified_id": "bob",
            "frequency": 0,
            "recency": 0.0,
            "T": 1.0,
            "monetary": 0.0,
            "spend_frequency": 0,
            "zero_value_periods": 0,
        },
        {
            "unified_id": "dee",
            "frequency": 2,
            "recency": 3.0,
            "T": 5.0,
            "monetary": 12.0,
            "spend_frequency": 1,
            "zero_value_periods": 1,
        },
        {
            "unified_id": "eve",
            "frequency": 1,
            "recency": 1.0,
            "T": 5.0,
            "monetary": 0.0,
            "spend_frequency": 0,
            "zero_value_periods": 2,
        },
    ]
    as_numpy = summarise_transactions(
        np.array(ids),
        np.array(timestamps, dtype="datetime64[s]"),
        amounts,
        as_of=date(2026, 2, 9),
        time_unit_days=1.0,
    )
    assert as_numpy["T"].to_list() == [35.0, 7.0, 35.0, 35.0]
