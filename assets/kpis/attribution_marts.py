"""The attribution marts from the warehouse: touchpoints from ``fct_events`` by the declared rules,
conversions and campaign costs from the fact marts, the engine's credits written to
``marts.kpi_attribution`` and ``marts.attribution_paths``, and the check that every model hands out
exactly the sales. Pure data work; the Dagster asset in ``assets.py`` only wraps it."""

import re
from datetime import datetime

import duckdb
import polars as pl

from assets.kpis.attribution import AttributionSettings, attribute, build_paths, journeys_table
from assets.kpis.attribution.config import AttributionConfig, TouchpointRule, load_attribution_config

TEMPLATE_FIELD = re.compile(r"\{(\w+)\}")

EVENT_COLUMNS = (
    "unified_id",
    "occurred_at",
    "source",
    "event_type",
    "platform",
    "ad_channel",
    "store_id",
    "campaign_id",
)
"""What a touchpoint rule may read of an event (its channel template's fields among them)."""
CONVERSION_DECIMALS = 9
VALUE_DECIMALS = 6


def channel_expression(template: str) -> pl.Expr:
    """A polars expression filling ``template`` ("ad:{ad_channel}") from event columns; an empty
    column value reads as "unknown" so a touch is never dropped for a missing label."""
    parts, last = [], 0
    for match in TEMPLATE_FIELD.finditer(template):
        parts += [pl.lit(template[last : match.start()]), pl.col(match.group(1)).fill_null("unknown")]
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
        frames.append(
            selected.select(
                "unified_id", "occurred_at", channel_expression(rule.channel).alias("channel"), "campaign_id"
            )
        )
    return (
        pl.concat(frames)
        if frames
        else pl.DataFrame(
            schema={
                "unified_id": pl.String,
                "occurred_at": pl.Datetime("us"),
                "channel": pl.String,
                "campaign_id": pl.String,
            }
        )
    )


def attribution_mart(
    touchpoints: pl.DataFrame, conversions: pl.DataFrame, costs: pl.DataFrame, settings: AttributionSettings
) -> tuple[pl.DataFrame, dict[str, float], pl.DataFrame]:
    """Credits per model × channel × campaign, with media cost and ROAS where the campaign has cost;
    its summary; and the journeys they were computed from (``marts.attribution_paths``)."""
    paths = build_paths(touchpoints, conversions, settings)
    credits = attribute(paths, settings, include_direct=True).with_columns(
        # Shapley and Markov credits are float sums whose last bits follow the order polars adds
        # partial sums in; rounded far below any reported precision, a rebuild gives the same mart.
        pl.col("attributed_conversions").round(CONVERSION_DECIMALS),
        pl.col("attributed_value").round(VALUE_DECIMALS),
    )
    mart = (
        credits.join(costs, on="campaign_id", how="left")
        .with_columns(roas=pl.col("attributed_value") / pl.col("campaign_cost"))
        .sort("model", "channel", "campaign_id", nulls_last=True)
    )
    summary = {
        "conversions": conversions.height,
        "attributed_conversions": paths.conversions.height,
        "direct_conversions": paths.direct.height,
        "total_value": float(conversions["value"].sum() or 0),
        "direct_value": float(paths.direct["value"].sum() or 0),
        "non_converting_paths": paths.summary()["non_converting_paths"],
        "open_paths": paths.summary()["open_paths"],
    }
    levels = ("channel", "campaign") if settings.campaign_level else ("channel",)
    return mart, summary, journeys_table(paths, levels)


def touchpoint_filter(config: AttributionConfig) -> tuple[str, dict[str, object]]:
    """An SQL predicate over fct_events for the events some touchpoint rule takes, and its named
    parameters: the warehouse hands over only those. Every event of the touchpoint sources would
    be 3.4 times as many rows at 2 M people (ad impressions, social views), all held at once."""
    terms: list[str] = []
    params: dict[str, object] = {}
    for number, rule in enumerate(config.touchpoints):
        params[f"source_{number}"] = rule.source
        term = f"source = $source_{number}"
        if rule.event_types:
            params[f"event_types_{number}"] = list(rule.event_types)
            term += f" AND list_contains($event_types_{number}, event_type)"
        terms.append(f"({term})")
    return f"({' OR '.join(terms) or 'false'})", params


def attribution_from_inputs(
    touchpoints: pl.DataFrame, conversions: pl.DataFrame, costs: pl.DataFrame, config: AttributionConfig
) -> tuple[pl.DataFrame, dict[str, float], pl.DataFrame]:
    """The credits (stamped with when they were computed), their summary and the journeys, from what
    either engine hands over: the touchpoints (:func:`touchpoints_from_events` of the events
    :func:`touchpoint_filter` selects), ``int_attribution_conversions`` and ``int_campaign_costs``.

    The credits do not depend on the order an engine returned rows in: the paths order touches and
    conversions by keys that leave only identical rows tied (``paths._prepare``)."""
    costs = costs.sort("campaign_id")
    mart, summary, journeys = attribution_mart(touchpoints, conversions, costs, config.settings)
    mart = mart.with_columns(computed_at=pl.lit(datetime.now()))
    summary = {
        **summary,
        "journeys": journeys.height,
        "touchpoints": touchpoints.height,
        "channels": touchpoints["channel"].n_unique(),
    }
    return mart, summary, journeys


def write_kpi_attribution(con: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, dict[str, float]]:
    """Build ``marts.kpi_attribution`` and ``marts.attribution_paths`` from the fact marts; returns the
    credits and their summary. Only the touchpoints of the events are kept (the events frame is
    gone before the paths are built)."""
    config = load_attribution_config()
    taken, params = touchpoint_filter(config)
    touchpoints = touchpoints_from_events(
        con.sql(
            f"SELECT {', '.join(EVENT_COLUMNS)} FROM marts.fct_events "
            f"WHERE unified_id IS NOT NULL AND {taken}",
            params=params,
        ).pl(),
        config.touchpoints,
    )
    conversions = con.sql("SELECT * FROM intermediate.int_attribution_conversions").pl()
    costs = con.sql("SELECT * FROM intermediate.int_campaign_costs").pl()
    mart, summary, journeys = attribution_from_inputs(touchpoints, conversions, costs, config)
    con.execute("CREATE OR REPLACE TABLE marts.kpi_attribution AS SELECT * FROM mart")
    con.execute("CREATE OR REPLACE TABLE marts.attribution_paths AS SELECT * FROM journeys")
    return mart, summary


def attribution_gaps(con: duckdb.DuckDBPyConnection, tolerance: float = 0.01) -> list[dict]:
    """Models whose credited conversions or value differ from the sales in fct_orders (every model,
    Shapley included, must hand out exactly the total)."""
    return [
        dict(zip(("model", "credited_conversions", "sales", "credited_value", "sales_value"), r, strict=True))
        for r in con.execute(
            """
        WITH sales AS (SELECT count(*) AS n, coalesce(sum(gross_amount), 0) AS value FROM marts.fct_orders
                       WHERE order_type = 'sale' AND NOT is_cancelled),
             credited AS (SELECT model, sum(attributed_conversions) AS n, sum(attributed_value) AS value
                          FROM marts.kpi_attribution GROUP BY model)
        SELECT c.model, round(c.n, 4), s.n, round(c.value, 2), round(s.value, 2)
        FROM credited AS c CROSS JOIN sales AS s
        WHERE abs(c.n - s.n) > ? OR abs(c.value - s.value) > ? ORDER BY c.model""",
            [tolerance, tolerance],
        ).fetchall()
    ]
