"""Attribution on the Spark engine: Spark selects the touchpoint events and builds the conversions
and campaign costs (dbt's ``int_attribution_conversions`` and ``int_campaign_costs``, built there);
the driver credits them with the same engine the DuckDB pipeline runs
(:func:`~assets.kpis.attribution_marts.attribution_from_inputs`) and writes ``marts.kpi_attribution``
and ``marts.attribution_paths`` back as Spark tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assets.common.spark import replace_table, to_polars
from assets.kpis.attribution.config import load_attribution_config
from assets.kpis.attribution_marts import EVENT_COLUMNS, attribution_from_inputs, touchpoint_sources

if TYPE_CHECKING:
    import polars as pl
    from pyspark.sql import SparkSession

ATTRIBUTION_MARTS = ("kpi_attribution", "attribution_paths")


def write_attribution_on_spark(spark: SparkSession) -> tuple[pl.DataFrame, dict[str, float], pl.DataFrame]:
    """Credit the conversions Spark built from the touchpoints it selected; the credits, their
    summary and the touchpoints, as :func:`~assets.kpis.attribution_marts.write_kpi_attribution`."""
    from pyspark.sql import functions as F

    config = load_attribution_config()
    identified = F.col("unified_id").isNotNull() & F.col("source").isin(touchpoint_sources(config))
    events = to_polars(spark.table("marts.fct_events").where(identified).select(*EVENT_COLUMNS))
    conversions = to_polars(spark.table("intermediate.int_attribution_conversions"))
    costs = to_polars(spark.table("intermediate.int_campaign_costs"))
    mart, summary, journeys, touchpoints = attribution_from_inputs(events, conversions, costs, config)
    for name, frame in zip(ATTRIBUTION_MARTS, (mart, journeys), strict=True):
        replace_table(spark, f"marts.{name}", frame)
    return mart, summary, touchpoints
