"""Holdout diagnostics on customers simulated event by event from a known BG/NBD process: the tables'
actual counts equal the simulation's, their expected counts equal the model's expectation computed here
customer by customer, and the two agree within sampling error. Plus the run: model choice, zero-value
purchases, empty input, the fits table kept per as-of date."""

from dataclasses import replace
from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import polars as pl
import pytest

from assets.profiles.assets import write_clv
from assets.profiles.clv import BgNbdParams, expected_purchases
from assets.profiles.clv_diagnostics import (
    expected_in_holdout,
    frequency_table,
    split_holdout,
    tracking_table,
)
from assets.profiles.clv_run import choose_model, run_clv
from assets.profiles.frequency_models import Fit
from assets.profiles.settings import ClvConfig

TRUTH = BgNbdParams(r=0.8, alpha=30.0, a=0.8, b=3.0)  # per day: a purchase every ~5 weeks on average
START, CALIBRATION_END, HOLDOUT_END = date(2025, 1, 1), date(2025, 12, 31), date(2026, 3, 31)
CONFIG = ClvConfig(
    time_unit_days=1,
    calibration_days=365,
    prediction_horizons_days=(30,),
    clv_horizon_days=90,
    annual_discount_rate=0.0,
    penalizer=0.0,
    calibration_end=CALIBRATION_END,
    holdout_days=90,
)


def simulate_days(customers: int, seed: int) -> dict[str, list[int]]:
    """Each customer's purchase days (offsets from START): first purchase uniform over the calibration
    year, then a Poisson(λ) process per day stopped after each repeat purchase with probability p.
    Several purchases on one day are one purchase period."""
    rng = np.random.default_rng(seed)
    end = (HOLDOUT_END - START).days
    history = {}
    for i in range(customers):
        rate, dropout = rng.gamma(TRUTH.r, 1 / TRUTH.alpha), rng.beta(TRUTH.a, TRUTH.b)
        t, days = float(rng.integers(0, 365)), []
        days.append(int(t))
        while True:
            t += rng.exponential(1 / rate)
            if t > end + 1:
                break
            days.append(int(t))
            if rng.random() < dropout:
                break
        history[f"u{i:05d}"] = sorted(set(days))
    return history


def order_log(history: dict[str, list[int]], zero_every: int = 0) -> pl.DataFrame:
    """Orders on the purchase days, worth Gamma-Gamma amounts (each customer spends around a mean of
    their own; every ``zero_every``-th order is free)."""
    rng = np.random.default_rng(1)
    scale = {user: 1.0 / rng.gamma(4.0, 1 / 150.0) for user in history}
    rows = [
        (
            user,
            datetime.combine(START, datetime.min.time()) + timedelta(days=d, hours=10),
            0.0 if zero_every and k % zero_every == 1 else float(rng.gamma(3.0, scale[user])),
        )
        for user, days in history.items()
        for k, d in enumerate(days)
    ]
    return pl.DataFrame(rows, schema=["unified_id", "ordered_at", "amount"], orient="row")


@pytest.fixture(scope="module")
def simulated():
    history = simulate_days(20_000, seed=3)
    holdout = split_holdout(order_log(history), START, CALIBRATION_END, HOLDOUT_END, 1.0)
    return history, holdout


def test_holdout_split_counts_what_the_customers_did(simulated):
    history, holdout = simulated
    split = (CALIBRATION_END - START).days
    ids = holdout.calibration["unified_id"].to_list()
    assert sorted(ids) == sorted(history)  # everybody's first purchase is in the calibration year
    own = {
        u: ([d for d in days if d <= split], [d for d in days if d > split]) for u, days in history.items()
    }
    assert holdout.calibration["frequency"].to_list() == [len(own[u][0]) - 1 for u in ids]
    assert holdout.calibration["T"].to_list() == [split - own[u][0][0] for u in ids]
    assert holdout.actual.tolist() == [len(own[u][1]) for u in ids]
    per_day = np.bincount([d - split - 1 for _, later in own.values() for d in later], minlength=90)
    assert holdout.daily.tolist() == per_day.tolist()


def test_tables_reproduce_the_models_expectation_and_the_simulation(simulated):
    history, holdout = simulated
    fit = Fit("bgnbd", TRUTH, {}, 0.0, len(history))
    x, t_x, T = (holdout.calibration[c].to_numpy().astype(float) for c in ("frequency", "recency", "T"))
    by_customer = expected_purchases(TRUTH, 90.0, x, t_x, T)  # the expectation, customer by customer
    assert expected_in_holdout(fit, holdout) == pytest.approx(by_customer, rel=1e-12)
    table = frequency_table("bgnbd", x, holdout.actual, by_customer, buckets=5)
    assert table["calibration_frequency"].to_list() == ["0", "1", "2", "3", "4+"]
    for row in table.iter_rows(named=True):
        members = np.minimum(x, 4) == row["bucket"]
        assert row["customers"] == members.sum()
        assert row["actual_total"] == holdout.actual[members].sum()
        assert row["expected_mean"] == pytest.approx(by_customer[members].mean(), rel=1e-12)
        spread = holdout.actual[members].std() / np.sqrt(members.sum())
        assert abs(row["actual_mean"] - row["expected_mean"]) < 4 * spread + 1e-3, row  # known parameters
    tracking = tracking_table("bgnbd", fit, holdout)
    assert tracking.height == 13 and tracking["period_end"][-1] == HOLDOUT_END
    assert tracking["expected_cumulative"][-1] == pytest.approx(by_customer.sum(), rel=1e-9)
    week_4 = expected_purchases(TRUTH, 28.0, x, t_x, T).sum()
    assert tracking["expected_cumulative"][3] == pytest.approx(week_4, rel=1e-9)
    assert tracking["actual_cumulative"].to_list() == np.cumsum(tracking["actual"].to_list()).tolist()
    assert tracking["actual_cumulative"][-1] == holdout.actual.sum()
    assert tracking["actual_cumulative"][-1] == pytest.approx(by_customer.sum(), rel=0.05)


def test_the_run_judges_every_model_and_predicts_with_the_chosen_one(simulated):
    history, _ = simulated
    run = run_clv(order_log(dict(list(history.items())[:6000]), zero_every=3), HOLDOUT_END, CONFIG)
    errors = run.metadata["holdout_errors"]
    assert set(errors) == {"bgnbd", "pareto_nbd", "mbgnbd"}
    assert run.metadata["model"] == min(errors, key=lambda m: errors[m]["mae"])
    assert run.predictions["model"].unique().to_list() == [run.metadata["model"]]
    assert set(run.frequency["model"]) == set(errors) and set(run.tracking["model"]) == set(errors)
    fits = run.fits
    assert set(fits.filter(pl.col("fit") == "calibration")["model"]) == set(errors)
    prediction = fits.filter(pl.col("fit") == "prediction")
    assert set(prediction["model"]) == {run.metadata["model"], "gamma_gamma"}
    assert (fits["std_error"] > 0).all() and fits["calibration_end"].unique().to_list() == [CALIBRATION_END]
    # every second purchase of three is free: counted as a purchase, kept out of the spend model
    zero = run.metadata["zero_value_purchases"]
    assert zero > 0 and prediction.filter(pl.col("model") == "gamma_gamma")["zero_value_purchases"][0] == zero
    window_start = (HOLDOUT_END - START).days - 364  # calibration_days up to the profile date
    buyers = sum(any(d >= window_start for d in days) for days in list(history.values())[:6000])
    assert run.predictions.height == buyers and run.predictions["predicted_clv"].null_count() == 0
    declared = run_clv(
        order_log(dict(list(history.items())[:3000])), HOLDOUT_END, replace(CONFIG, model="pareto_nbd")
    )
    assert declared.metadata["model"] == "pareto_nbd"


def test_auto_choice_follows_the_declared_metric_and_falls_back_without_a_holdout():
    errors = {"bgnbd": {"mae": 0.3, "total_error": -0.2}, "mbgnbd": {"mae": 0.4, "total_error": 0.05}}
    assert choose_model(errors, replace(CONFIG, model="auto")) == "bgnbd"
    assert choose_model(errors, replace(CONFIG, model="auto", selection_metric="total_error")) == "mbgnbd"
    assert choose_model({}, replace(CONFIG, model="auto")) == "bgnbd"


def test_no_orders_give_empty_outputs():
    empty = pl.DataFrame(
        schema={"unified_id": pl.String, "ordered_at": pl.Datetime("us"), "amount": pl.Float64}
    )
    run = run_clv(empty, HOLDOUT_END, CONFIG)
    assert run.predictions.height == 0 and run.frequency.height == 0 and run.tracking.height == 0
    assert run.fits.height == 0 and "not_fitted" in run.metadata


def test_the_fits_table_keeps_each_as_of_once(simulated):
    history, _ = simulated
    con = duckdb.connect()
    con.register("orders", order_log(dict(list(history.items())[:3000])))
    con.execute("CREATE SCHEMA marts; CREATE SCHEMA intermediate")
    con.execute("""CREATE TABLE intermediate.int_clv_purchase_days AS SELECT unified_id,
                   CAST(ordered_at AS DATE) AS purchase_date, sum(amount) AS amount
                   FROM orders GROUP BY 1, 2""")
    for as_of in (date(2026, 3, 1), date(2026, 3, 31), date(2026, 3, 31)):
        con.execute(
            "CREATE OR REPLACE TABLE intermediate.int_profile_date AS SELECT ?::DATE AS as_of", [as_of]
        )
        write_clv(con)
    per_date = dict(con.execute("SELECT as_of, count(*) FROM marts.clv_model_fits GROUP BY 1").fetchall())
    assert set(per_date) == {date(2026, 3, 1), date(2026, 3, 31)} and len(set(per_date.values())) == 1
    assert con.execute("SELECT count(*) FROM marts.user_clv").fetchall()[0][0] == 3000


def test_a_model_that_fails_on_the_whole_period_gives_way_to_the_next_best(simulated, monkeypatch):
    from assets.profiles import clv_run

    history, _ = simulated
    orders = order_log(dict(list(history.items())[:3000]))
    judged = run_clv(orders, HOLDOUT_END, CONFIG)
    assert "not_fitted" not in judged.metadata
    preferred = judged.metadata["model"]
    real_fit = clv_run.fit_frequency_model
    calls = []

    def failing_on_the_whole_period(name, *args, **kwargs):
        calls.append(name)
        if name == preferred and len(calls) > 3:  # the three calibration fits come first
            raise RuntimeError("maximum likelihood did not converge")
        return real_fit(name, *args, **kwargs)

    monkeypatch.setattr(clv_run, "fit_frequency_model", failing_on_the_whole_period)
    run = run_clv(orders, HOLDOUT_END, CONFIG)
    assert run.metadata["model"] != preferred and preferred in run.metadata["models_not_fitted"], run.metadata
    assert run.predictions["model"].unique().to_list() == [run.metadata["model"]]
    chosen = run.fits.filter((pl.col("fit") == "calibration") & pl.col("chosen"))
    assert set(chosen["model"]) == {run.metadata["model"]}


def test_without_a_spend_model_purchases_are_still_predicted(simulated):
    # every order worth the same: Gamma-Gamma has no interior maximum (no spread between customers)
    history, _ = simulated
    orders = order_log(dict(list(history.items())[:3000])).with_columns(amount=pl.lit(25.0))
    run = run_clv(orders, HOLDOUT_END, CONFIG)
    assert "spend_not_fitted" in run.metadata and "not_fitted" not in run.metadata
    assert run.predictions["probability_alive"].null_count() == 0
    assert run.predictions["predicted_clv"].null_count() == run.predictions.height
    assert "gamma_gamma" not in run.fits["model"].to_list()
