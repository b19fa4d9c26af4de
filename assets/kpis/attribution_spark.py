"""Attribution on the Spark engine: Spark selects the touchpoint events and builds the conversions
and campaign costs (dbt's ``int_attribution_conversions`` and ``int_campaign_costs``, built there);
the driver credits them with the same engine the DuckDB pipeline runs
(:func:`~assets.kpis.attribution_marts.attribution_from_inputs`) and writes ``marts.kpi_attribution``
and ``marts.attribution_paths`` back as Spark tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assets.common.spark import replace_table, to_polars
from assets.kpis.attribution.config import AttributionConfig, load_attribution_config
from assets.kpis.attribution_marts import EVENT_COLUMNS, attribution_from_inputs, touchpoints_from_events

if TYPE_CHECKING:
    import polars as pl
    from pyspark.sql import Column, SparkSession

ATTRIBUTION_MARTS = ("kpi_attribution", "attribution_paths")


def write_attribution_on_spark(spark: SparkSession) -> tuple[pl.DataFrame, dict[str, float]]:
    """Credit the conversions Spark built from the touchpoints it selected; the credits and their
    summary, as :func:`~assets.kpis.attribution_marts.write_kpi_attribution`."""
    from pyspark.sql import functions as F

    config = load_attribution_config()
    identified = F.col("unified_id").isNotNull() & touchpoint_column(config)
    events = spark.table("marts.fct_events").where(identified).select(*EVENT_COLUMNS)
    touchpoints = touchpoints_from_events(to_polars(events), config.touchpoints)
    conversions = to_polars(spark.table("intermediate.int_attribution_conversions"))
    costs = to_polars(spark.table("intermediate.int_campaign_costs"))
    mart, summary, journeys = attribution_from_inputs(touchpoints, conversions, costs, config)
    for name, frame in zip(ATTRIBUTION_MARTS, (mart, journeys), strict=True):
        replace_table(spark, f"marts.{name}", frame)
    return mart, summary


def touchpoint_column(config: AttributionConfig) -> Column:
    """The events some touchpoint rule takes (as :func:`~assets.kpis.attribution_marts.touchpoint_filter`
    on DuckDB): only those reach the driver."""
    from pyspark.sql import functions as F

    taken = F.lit(False)
    for rule in config.touchpoints:
        term = F.col("source") == rule.source
        if rule.event_types:
            term = term & F.col("event_type").isin(list(rule.event_types))
        taken = taken | term
    return taken
