"""Profile assets computed in Python: customer lifetime value (model fitting is not SQL's job)."""

from typing import cast

import dagster as dg
import duckdb
import polars as pl

from assets.common.metadata import OWNERS
from assets.common.warehouse import Warehouse
from assets.profiles.clv_run import ClvRun, run_clv
from assets.profiles.clv_spark import write_clv_on_spark
from assets.profiles.settings import load_clv_config

USER_CLV = dg.AssetKey(["marts", "user_clv"])
CLV_FITS = dg.AssetKey(["marts", "clv_model_fits"])
CLV_FREQUENCY = dg.AssetKey(["marts", "clv_holdout_frequency"])
CLV_TRACKING = dg.AssetKey(["marts", "clv_holdout_tracking"])
CLV_DEPS = [["intermediate", "int_clv_purchase_days"], ["intermediate", "int_profile_date"]]


def write_clv(con: duckdb.DuckDBPyConnection) -> ClvRun:
    """Fit, diagnose and predict from the buyers' purchase days (dbt's int_clv_purchase_days) as of
    the profile date; write the four CLV marts. The fits table keeps earlier as-of dates (a re-run of
    the same date replaces its rows), so parameter drift stays visible."""
    as_of = con.execute("SELECT as_of FROM intermediate.int_profile_date").fetchall()[0][0]
    purchases = con.sql(
        "SELECT unified_id, purchase_date AS ordered_at, amount FROM intermediate.int_clv_purchase_days"
    ).pl()
    run = run_clv(purchases, as_of, load_clv_config())
    frames = {
        "predictions": run.predictions,
        "fits": run.fits,
        "frequency": run.frequency,
        "tracking": run.tracking,
    }
    for name, frame in frames.items():
        con.register(name, frame)
    con.execute("CREATE OR REPLACE TABLE marts.user_clv AS SELECT * FROM predictions")
    con.execute("CREATE OR REPLACE TABLE marts.clv_holdout_frequency AS SELECT * FROM frequency")
    con.execute("CREATE OR REPLACE TABLE marts.clv_holdout_tracking AS SELECT * FROM tracking")
    con.execute("CREATE TABLE IF NOT EXISTS marts.clv_model_fits AS SELECT * FROM fits LIMIT 0")
    con.execute("DELETE FROM marts.clv_model_fits WHERE as_of = ?", [as_of])
    con.execute("INSERT INTO marts.clv_model_fits BY NAME SELECT * FROM fits")
    for name in frames:
        con.unregister(name)
    return run


def _spec(key: dg.AssetKey, description: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        key,
        group_name="profiles",
        deps=CLV_DEPS,
        kinds={"python", "duckdb"},
        owners=OWNERS,
        description=description,
    )


def _mean_clv(predictions: pl.DataFrame) -> float:
    """The mean predicted CLV, 0 when nobody has one. polars types ``Series.mean`` for every dtype; on
    this Float64 column it is a float or None."""
    return cast(float | None, predictions["predicted_clv"].mean()) or 0.0


@dg.multi_asset(
    specs=[
        _spec(
            USER_CLV,
            "Customer lifetime value per buyer as of the profile date: the frequency model of "
            "config/clv.yaml (BG/NBD, Pareto/NBD or MBG/NBD; `auto` = the lowest holdout error; column "
            "`model`) for purchases and probability alive, Gamma-Gamma for spend per purchase, fitted by "
            "maximum likelihood on every run. Zero-value purchases count as purchases, not as spend.",
        ),
        _spec(
            CLV_FITS,
            "Fitted parameters with standard errors (inverse Hessian), log-likelihood and customers per "
            "as-of date, fit (calibration: judged on the holdout, with its errors; prediction: refitted up "
            "to the profile date) and model, Gamma-Gamma with its spend-frequency correlation and the "
            "zero-value purchase counts. Kept across runs, so parameter drift is visible.",
        ),
        _spec(
            CLV_FREQUENCY,
            "Holdout check per model and calibration frequency (0, 1, … 'k+'): customers, actual vs "
            "expected mean repeat purchases in the holdout (config/clv.yaml calibration_end, "
            "holdout_days).",
        ),
        _spec(
            CLV_TRACKING,
            "Holdout tracking per model and week: actual vs expected purchases of the calibration "
            "customers, weekly and cumulative.",
        ),
    ]
)
def user_clv(context: dg.AssetExecutionContext, warehouse: Warehouse):
    if warehouse.on_spark:  # Spark reduces the orders to purchase days; the driver fits (clv_spark.py)
        run = write_clv_on_spark(warehouse.spark())
        warehouse.mount_spark_tables()
    else:
        with warehouse.connect() as con:
            run = write_clv(con)
    predictions, meta = run.predictions, run.metadata
    context.log.info(f"CLV model {meta['model']}, holdout errors {meta['holdout_errors']}")
    yield dg.MaterializeResult(
        asset_key=USER_CLV,
        metadata={
            **{
                k: round(v, 6) if isinstance(v, float) else v
                for k, v in meta.items()
                if k != "holdout_errors"
            },
            "holdout_errors": dg.MetadataValue.json(meta["holdout_errors"]),
            "as_of": str(predictions["as_of"][0]) if predictions.height else None,
            "buyers": predictions.height,
            "repeat_buyers": int((predictions["frequency"] > 0).sum()),
            "mean_predicted_clv": round(_mean_clv(predictions), 2),
            "dagster/row_count": predictions.height,
        },
    )
    for key, frame in ((CLV_FITS, run.fits), (CLV_FREQUENCY, run.frequency), (CLV_TRACKING, run.tracking)):
        yield dg.MaterializeResult(asset_key=key, metadata={"dagster/row_count": frame.height})


def profiles_defs() -> dg.Definitions:
    return dg.Definitions(assets=[user_clv])
