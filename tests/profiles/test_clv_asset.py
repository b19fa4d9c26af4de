"""The CLV run's pure part: windowing, diagnostics, model choice, fitting and predicting from an order log."""

from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from assets.profiles.clv import BgNbdParams
from assets.profiles.clv_run import run_clv
from assets.profiles.settings import ClvConfig
from assets.profiles.simulation import simulate_bgnbd

CONFIG = ClvConfig(
    time_unit_days=7,
    calibration_days=730,
    prediction_horizons_days=(90, 365),
    clv_horizon_days=365,
    annual_discount_rate=0.0,
    penalizer=0.0001,
    holdout_days=91,
)


def predict_clv(orders: pl.DataFrame, as_of: date, config: ClvConfig) -> tuple[pl.DataFrame, dict]:
    run = run_clv(orders, as_of, config)
    return run.predictions, run.metadata


def order_log(customers: int, seed: int) -> pl.DataFrame:
    """Weekly purchase histories from a known BG/NBD process, turned into dated orders."""
    rng = np.random.default_rng(seed)
    start = datetime(2025, 1, 1)
    frequency, recency, T = simulate_bgnbd(
        customers, BgNbdParams(0.5, 4.0, 0.8, 2.5), np.full(customers, 52.0), seed
    )
    rows = []
    for i, (x, t_x) in enumerate(zip(frequency, recency, strict=True)):
        weeks = [0.0] if x == 0 else [0.0, *sorted(rng.uniform(0, t_x, int(x) - 1)), t_x]
        rows += [(f"u{i}", start + timedelta(days=7 * w), float(rng.gamma(5, 20))) for w in weeks]
    return pl.DataFrame(rows, schema=["unified_id", "ordered_at", "amount"], orient="row")


def test_predictions_are_per_buyer_and_consistent():
    orders = order_log(3000, seed=5)
    as_of = date(2025, 12, 31)
    predictions, params = predict_clv(orders, as_of, CONFIG)
    assert predictions.height == orders["unified_id"].n_unique()
    model = params["model"]
    assert predictions["model"].unique().to_list() == [model]
    assert {f"gamma_gamma_{p}" for p in "pqv"} <= set(params) and f"{model}_r" in set(params)
    assert (predictions["probability_alive"].is_between(0, 1)).all()
    assert (predictions["expected_purchases_365d"] >= predictions["expected_purchases_90d"]).all()
    assert (predictions["predicted_clv"] >= 0).all()
    # more repeat purchases, more recently, means more expected value
    by_frequency = (
        predictions.group_by(pl.col("frequency") > 3).agg(pl.col("predicted_clv").mean()).sort("frequency")
    )
    assert by_frequency["predicted_clv"][1] > by_frequency["predicted_clv"][0]


def test_one_row_per_buyer_and_day_gives_the_answers_of_the_orders_it_sums():
    """What the pipeline hands the CLV run (dbt's int_clv_purchase_days) is the orders reduced to days."""
    orders = order_log(1500, seed=11)
    second_basket = orders.sample(fraction=0.3, seed=3).with_columns(
        pl.col("ordered_at") + timedelta(hours=5), amount=pl.col("amount") / 3
    )
    orders = pl.concat([orders, second_basket])  # some buyers bought twice on one day
    days = orders.group_by("unified_id", pl.col("ordered_at").dt.date()).agg(pl.col("amount").sum())
    as_of = date(2025, 12, 31)
    from_orders, from_days = run_clv(orders, as_of, CONFIG), run_clv(days, as_of, CONFIG)
    assert from_days.metadata["model"] == from_orders.metadata["model"]
    by_buyer = from_orders.predictions.join(from_days.predictions, on="unified_id", suffix="_days")
    assert by_buyer.height == from_orders.predictions.height == from_days.predictions.height
    for column in ("frequency", "recency", "T", "monetary", "predicted_clv"):
        assert by_buyer.select((pl.col(column) - pl.col(f"{column}_days")).abs().max()).item() < 1e-6
    tracked = from_orders.tracking.join(from_days.tracking, on=["model", "week"], suffix="_days")
    assert tracked.height == from_orders.tracking.height > 0
    assert (tracked["actual"] == tracked["actual_days"]).all()
    assert tracked.select((pl.col("expected") - pl.col("expected_days")).abs().max()).item() < 1e-6


def test_orders_after_the_as_of_date_or_before_the_window_are_ignored():
    orders = order_log(800, seed=9)
    as_of = date(2025, 6, 30)
    late = pl.DataFrame({"unified_id": ["late"], "ordered_at": [datetime(2025, 7, 2)], "amount": [10.0]})
    early = pl.DataFrame({"unified_id": ["early"], "ordered_at": [datetime(2023, 1, 1)], "amount": [10.0]})
    predictions, _ = predict_clv(pl.concat([orders, late, early]), as_of, CONFIG)
    assert "late" not in predictions["unified_id"].to_list()
    assert "early" not in predictions["unified_id"].to_list()
    assert (predictions["as_of"] == as_of).all()


def test_too_little_history_gives_summaries_without_predictions():
    same_day = pl.DataFrame(
        {"unified_id": ["a", "b"], "ordered_at": [datetime(2025, 6, 1)] * 2, "amount": [5.0, 6.0]}
    )
    predictions, params = predict_clv(same_day, date(2025, 6, 1), CONFIG)
    assert predictions.height == 2 and predictions["predicted_clv"].null_count() == 2
    assert "not_fitted" in params


def test_clv_settings_are_validated_with_file_line_and_key(tmp_path):
    from assets.common.configuration import ConfigError
    from assets.profiles.settings import load_clv_config

    config = tmp_path / "clv.yaml"
    config.write_text("time_unit_days: 7\nmodel: pareto\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"clv.yaml:2: model: must be one of"):
        load_clv_config(config)
    config.write_text("calibration_end: soon\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"clv.yaml:1: calibration_end: must be a date"):
        load_clv_config(config)
    config.write_text("calibration_end: 2026-03-31\nholdout_days: 91\nmodel: mbgnbd\n", encoding="utf-8")
    loaded = load_clv_config(config)
    assert (loaded.calibration_end, loaded.holdout_days, loaded.model) == (date(2026, 3, 31), 91, "mbgnbd")


def test_no_orders_give_empty_typed_tables_that_say_why(tmp_path):
    import duckdb

    none = pl.DataFrame(
        schema={"unified_id": pl.String, "ordered_at": pl.Datetime("us"), "amount": pl.Float64}
    )
    run = run_clv(none, date(2025, 6, 1), CONFIG)
    predictions = run.predictions
    assert predictions.height == 0 and "not_fitted" in run.metadata
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:  # the asset writes it with DuckDB
        con.execute("CREATE TABLE user_clv AS SELECT * FROM predictions")
        types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns").fetchall())
    assert (
        types["unified_id"] == "VARCHAR" and types["as_of"] == "DATE" and types["predicted_clv"] == "DOUBLE"
    )
