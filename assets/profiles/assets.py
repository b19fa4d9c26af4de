"""Profile assets computed in Python: customer lifetime value (model fitting is not SQL's job)."""

from datetime import date

import dagster as dg
import numpy as np
import polars as pl

from assets.ingest.assets import OWNERS
from assets.profiles.clv import (customer_lifetime_value, expected_average_value, expected_purchases, fit_bgnbd,
                                 fit_gamma_gamma, probability_alive, summarise_transactions)
from pipelines.config import ClvConfig, load_clv_config
from pipelines.resources import Warehouse


SUMMARY_SCHEMA = {"unified_id": pl.String, "frequency": pl.Int64, "recency": pl.Float64, "T": pl.Float64,
                  "monetary": pl.Float64}


def _unfitted(summary: pl.DataFrame, as_of: date, config: ClvConfig, reason: str) -> tuple[pl.DataFrame, dict[str, str]]:
    """The per-buyer summaries with empty predictions, and why nothing was fitted."""
    empty = {c: pl.lit(None, dtype=pl.Float64) for c in (
        "probability_alive", *(f"expected_purchases_{h}d" for h in config.prediction_horizons_days),
        "expected_average_value", "predicted_clv")}
    return summary.with_columns(as_of=pl.lit(as_of, dtype=pl.Date), **empty), {"not_fitted": reason}


def predict_clv(orders: pl.DataFrame, as_of: date, config: ClvConfig) -> tuple[pl.DataFrame, dict[str, float | str]]:
    """Fit BG/NBD and Gamma-Gamma on ``orders`` (unified_id, ordered_at, amount) and predict per buyer."""
    window_start = np.datetime64(as_of) - np.timedelta64(config.calibration_days - 1, "D")
    orders = orders.filter(pl.col("ordered_at") >= window_start.astype("datetime64[us]").item())
    if orders.is_empty():  # a deployment without orders (events or people only): an empty table, said why
        return _unfitted(pl.DataFrame(schema=SUMMARY_SCHEMA), as_of, config,
                         "no sales of identified buyers in the calibration window")
    summary = summarise_transactions(orders["unified_id"].to_numpy(), orders["ordered_at"].to_numpy(),
                                     orders["amount"].to_numpy(), as_of, config.time_unit_days)
    x, t_x, T, m = (summary[c].to_numpy().astype(float) for c in ("frequency", "recency", "T", "monetary"))
    try:
        bg = fit_bgnbd(x, t_x, T, penalizer=config.penalizer)
        gg = fit_gamma_gamma(x, m, penalizer=config.penalizer)
    except ValueError as exc:
        # Too little history to fit (a new deployment, a tiny test): publish the summaries without
        # predictions rather than failing every downstream asset.
        return _unfitted(summary, as_of, config, str(exc))
    period_rate = (1 + config.annual_discount_rate) ** (config.time_unit_days / 365.0) - 1
    horizon = round(config.clv_horizon_days / config.time_unit_days)
    predictions = summary.with_columns(
        as_of=pl.lit(as_of),
        probability_alive=probability_alive(bg, x, t_x, T),
        **{f"expected_purchases_{h}d": expected_purchases(bg, h / config.time_unit_days, x, t_x, T)
           for h in config.prediction_horizons_days},
        expected_average_value=expected_average_value(gg, x, m),
        predicted_clv=customer_lifetime_value(bg, gg, x, t_x, T, m, horizon, period_rate),
    )
    params = {**{f"bgnbd_{k}": v for k, v in bg.as_dict().items()},
              **{f"gamma_gamma_{k}": v for k, v in gg.as_dict().items()}}
    return predictions, params


@dg.asset(
    key=["marts", "user_clv"],
    group_name="profiles",
    deps=[["marts", "fct_orders"], ["intermediate", "int_profile_date"]],
    kinds={"python", "duckdb"},
    owners=OWNERS,
    description="Customer lifetime value per buyer as of the profile date: BG/NBD (purchase frequency, "
                "probability alive) and Gamma-Gamma (spend per purchase) fitted by maximum likelihood on "
                "every run; settings in config/clv.yaml. Fitted parameters are in the metadata.",
)
def user_clv(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    config = load_clv_config()
    with warehouse.connect() as con:
        as_of = con.execute("SELECT as_of FROM intermediate.int_profile_date").fetchall()[0][0]
        orders = con.sql("""SELECT unified_id, ordered_at, net_amount AS amount FROM marts.fct_orders
                            WHERE unified_id IS NOT NULL AND order_type = 'sale' AND NOT is_cancelled
                              AND net_amount > 0""").pl()
        predictions, params = predict_clv(orders, as_of, config)
        con.execute("CREATE OR REPLACE TABLE marts.user_clv AS SELECT * FROM predictions")
    context.log.info(f"CLV parameters: {params}")
    return dg.MaterializeResult(metadata={
        **{k: round(v, 6) if isinstance(v, float) else v for k, v in params.items()},
        "as_of": str(as_of),
        "buyers": predictions.height,
        "repeat_buyers": int((predictions["frequency"] > 0).sum()),
        "mean_predicted_clv": round(float(predictions["predicted_clv"].mean() or 0), 2),
        "dagster/row_count": predictions.height,
    })


def profiles_defs() -> dg.Definitions:
    return dg.Definitions(assets=[user_clv])
