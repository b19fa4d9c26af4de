"""KPI assets computed in Python: multi-touch attribution across online and offline touchpoints."""

import re
from datetime import datetime

import dagster as dg
import polars as pl

from assets.ingest.assets import OWNERS
from assets.kpis.attribution import AttributionSettings, attribute, build_paths
from pipelines.config import TouchpointRule, load_attribution_config
from pipelines.resources import Warehouse

TEMPLATE_FIELD = re.compile(r"\{(\w+)\}")


def channel_expression(template: str) -> pl.Expr:
    """A polars expression filling ``template`` ("ad:{ad_channel}") from event columns; an empty
    column value reads as "unknown" so a touch is never dropped for a missing label."""
    parts, last = [], 0
    for match in TEMPLATE_FIELD.finditer(template):
        parts += [pl.lit(template[last:match.start()]), pl.col(match.group(1)).fill_null("unknown")]
        last = match.end()
    parts.append(pl.lit(template[last:]))
    return pl.concat_str(parts)


def touchpoints_from_events(events: pl.DataFrame, rules: tuple[TouchpointRule, ...]) -> pl.DataFrame:
    """Marketing touchpoints (unified_id, occurred_at, channel, campaign_id) from fct_events rows."""
    frames = []
    for rule in rules:
        selected = events.filter((pl.col("source") == rule.source) & pl.col("unified_id").is_not_null())
        if rule.event_types:
            selected = selected.filter(pl.col("event_type").is_in(rule.event_types))
        frames.append(selected.select("unified_id", "occurred_at", channel_expression(rule.channel).alias("channel"),
                                      "campaign_id"))
    return pl.concat(frames) if frames else pl.DataFrame(
        schema={"unified_id": pl.String, "occurred_at": pl.Datetime("us"), "channel": pl.String,
                "campaign_id": pl.String})


def attribution_mart(touchpoints: pl.DataFrame, conversions: pl.DataFrame, costs: pl.DataFrame,
                     settings: AttributionSettings) -> tuple[pl.DataFrame, dict[str, float]]:
    """Credits per model × channel × campaign, with media cost and ROAS where the campaign has cost."""
    paths = build_paths(touchpoints, conversions, settings)
    credits = attribute(paths, settings, include_direct=True)
    mart = (credits.join(costs, on="campaign_id", how="left")
            .with_columns(roas=pl.col("attributed_value") / pl.col("campaign_cost"))
            .sort("model", "channel", "campaign_id", nulls_last=True))
    summary = {"conversions": conversions.height, "attributed_conversions": paths.conversions.height,
               "direct_conversions": paths.direct.height, "total_value": float(conversions["value"].sum() or 0)}
    return mart, summary


@dg.asset(
    key=["marts", "kpi_attribution"],
    group_name="kpis",
    deps=[["marts", "fct_events"], ["marts", "fct_orders"]],
    kinds={"python", "duckdb"},
    owners=OWNERS,
    description="Credit for every sale per model (first touch, last touch, linear, time decay, position based, "
                "Shapley value, Markov removal effect) × channel × campaign, across online and offline "
                "touchpoints (config/kpis.yaml), with attributed revenue and ROAS. Each model's credits add "
                "up to the total conversions and revenue; `(direct)` rows hold conversions with no touchpoint.",
)
def kpi_attribution(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    config = load_attribution_config()
    settings = AttributionSettings.from_dict(config.settings)
    sources = sorted({r.source for r in config.touchpoints})
    with warehouse.connect() as con:
        events = con.sql(
            "SELECT unified_id, occurred_at, source, event_type, platform, ad_channel, store_id, campaign_id "
            "FROM marts.fct_events WHERE unified_id IS NOT NULL AND source IN (SELECT unnest($sources))",
            params={"sources": sources}).pl()
        conversions = con.sql("""SELECT source || ':' || order_id AS conversion_id, unified_id,
                                        ordered_at AS converted_at, gross_amount AS value
                                 FROM marts.fct_orders
                                 WHERE unified_id IS NOT NULL AND order_type = 'sale' AND NOT is_cancelled""").pl()
        # summed as DECIMAL: exact whatever the row order, so a re-run gives the same ROAS
        costs = con.sql("""SELECT campaign_id, CAST(sum(CAST(cost AS DECIMAL(18, 4))) AS DOUBLE) AS campaign_cost
                           FROM marts.fct_events WHERE campaign_id IS NOT NULL
                           GROUP BY campaign_id HAVING sum(cost) > 0""").pl()
        touchpoints = touchpoints_from_events(events, config.touchpoints)
        mart, summary = attribution_mart(touchpoints, conversions, costs, settings)
        mart = mart.with_columns(computed_at=pl.lit(datetime.now()))
        con.execute("CREATE OR REPLACE TABLE marts.kpi_attribution AS SELECT * FROM mart")
    by_model = mart.group_by("model").agg(pl.col("attributed_value").sum()).sort("model")
    return dg.MaterializeResult(metadata={
        **summary,
        "touchpoints": touchpoints.height,
        "channels": touchpoints["channel"].n_unique(),
        "value_by_model": dg.MetadataValue.json({m: round(v, 2) for m, v in by_model.iter_rows()}),
        "dagster/row_count": mart.height,
    })


def kpis_defs() -> dg.Definitions:
    return dg.Definitions(assets=[kpi_attribution])
