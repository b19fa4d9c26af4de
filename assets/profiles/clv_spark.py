"""Customer lifetime value on the Spark engine: Spark reduces the orders to purchase days (dbt's
``int_clv_purchase_days``, built there), the driver fits the models from them — the same
:func:`~assets.profiles.clv_run.run_clv` the DuckDB engine runs — and the four CLV marts are written
back as Spark tables. Model fitting is not SQL's job on either engine; only one row per buyer and
purchase day crosses to the driver, never the order log."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import polars as pl

from assets.common.spark import replace_table, to_polars
from assets.profiles.clv_run import ClvRun, run_clv
from assets.profiles.settings import load_clv_config

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

CLV_MARTS = ("user_clv", "clv_model_fits", "clv_holdout_frequency", "clv_holdout_tracking")


def write_clv_on_spark(spark: SparkSession, computed_at: datetime | None = None) -> ClvRun:
    """Fit, diagnose and predict from Spark's ``intermediate.int_clv_purchase_days`` as of its profile
    date; write ``marts.user_clv`` and the three diagnostics tables. The fits table keeps the rows of
    other as-of dates, as on DuckDB."""
    profile_date = spark.table("intermediate.int_profile_date").first()
    if profile_date is None or profile_date["as_of"] is None:
        raise RuntimeError("intermediate.int_profile_date holds no as-of date: nothing was built on Spark")
    as_of = profile_date["as_of"]
    days = spark.table("intermediate.int_clv_purchase_days")
    purchases = to_polars(days.selectExpr("unified_id", "purchase_date AS ordered_at", "amount"))
    run = run_clv(purchases, as_of, load_clv_config(), computed_at)
    fits = pl.concat([_earlier_fits(spark, as_of, run.fits.schema), run.fits])
    for name, frame in zip(CLV_MARTS, (run.predictions, fits, run.frequency, run.tracking), strict=True):
        replace_table(spark, f"marts.{name}", frame)
    return run


def _earlier_fits(spark: SparkSession, as_of: object, schema: pl.Schema) -> pl.DataFrame:
    """The fits of other as-of dates (a few dozen rows per date), read before the table is replaced."""
    if not spark.catalog.tableExists("marts.clv_model_fits"):
        return pl.DataFrame(schema=schema)
    kept = spark.table("marts.clv_model_fits").where(f"as_of <> date '{as_of}'")
    return to_polars(kept).select(list(schema)).cast(schema)
