"""KPI assets computed in Python: multi-touch attribution across online and offline touchpoints."""

import dagster as dg
import polars as pl

from assets.common.metadata import OWNERS, markdown_table
from assets.common.warehouse import Warehouse
from assets.kpis.attribution_marts import attribution_gaps, write_kpi_attribution
from assets.kpis.attribution_spark import write_attribution_on_spark
from assets.kpis.audiences import audience_members_asset

KPI_ATTRIBUTION = dg.AssetKey(["marts", "kpi_attribution"])
ATTRIBUTION_PATHS = dg.AssetKey(["marts", "attribution_paths"])


def _attribution_spec(key: dg.AssetKey, description: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        key,
        group_name="kpis",
        deps=[
            ["marts", "fct_events"],
            ["intermediate", "int_attribution_conversions"],
            ["intermediate", "int_campaign_costs"],
        ],
        kinds={"python", "duckdb"},
        owners=OWNERS,
        description=description,
    )


@dg.multi_asset(
    specs=[
        _attribution_spec(
            KPI_ATTRIBUTION,
            "Credit for every sale per model (first touch, last touch, linear, time decay, position based, "
            "Shapley value, Markov removal effects of each declared order; `*_campaign` models credit "
            "campaigns instead of channels) × channel × campaign, across online and offline touchpoints "
            "(config/kpis.yaml), with attributed revenue and ROAS. Markov value credit comes from the "
            "value-weighted chain. Each model's credits add up to the total conversions and revenue; "
            "`(direct)` rows hold conversions with no touchpoint.",
        ),
        _attribution_spec(
            ATTRIBUTION_PATHS,
            "The journeys behind kpi_attribution, per level (channel / campaign) and distinct path (labels "
            "joined by ' > ', `(direct)` for conversions without a touch): conversions, value, nulls (closed "
            "journeys without a conversion) and open (journeys still within the lookback at the data's end, "
            "left out of the models). Enough to recompute every Shapley and Markov credit elsewhere.",
        ),
    ]
)
def kpi_attribution(context: dg.AssetExecutionContext, warehouse: Warehouse):
    if warehouse.on_spark:  # Spark selects the touchpoints and conversions; the driver credits them
        mart, summary = write_attribution_on_spark(warehouse.spark())
        warehouse.mount_spark_tables()
    else:
        with warehouse.connect() as con:
            mart, summary = write_kpi_attribution(con)
    by_model = mart.group_by("model").agg(pl.col("attributed_value").sum()).sort("model")
    yield dg.MaterializeResult(
        asset_key=KPI_ATTRIBUTION,
        metadata={
            **summary,
            "value_by_model": dg.MetadataValue.json({m: round(v, 2) for m, v in by_model.iter_rows()}),
            "dagster/row_count": mart.height,
        },
    )
    yield dg.MaterializeResult(
        asset_key=ATTRIBUTION_PATHS,
        metadata={
            "open_paths": summary["open_paths"],
            "direct_conversions": summary["direct_conversions"],
            "dagster/row_count": summary["journeys"],
        },
    )


@dg.asset_check(
    asset=KPI_ATTRIBUTION,
    blocking=True,
    description="Under every model the credited conversions and revenue equal the sales in fct_orders.",
)
def kpi_attribution_reconciles(warehouse: Warehouse) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        gaps = attribution_gaps(con)
    return dg.AssetCheckResult(passed=not gaps, metadata={"models_off": markdown_table(gaps)})


def kpis_defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[kpi_attribution, audience_members_asset], asset_checks=[kpi_attribution_reconciles]
    )
