"""The one Dagster ``Definitions`` of o2o-cdp: the UI, the schedule, the sensor and ``cdp run``
all load this object. Each stage contributes its own small Definitions; they are merged here."""

from __future__ import annotations

import warnings
from datetime import timedelta

import dagster as dg

from assets.exports.assets import build_export_assets
from assets.identity.assets import identity_defs
from assets.ingest.assets import ingest_defs
from assets.kpis.assets import kpis_defs
from assets.profiles.assets import profiles_defs
from assets.quality.checks import quality_defs
from pipelines.automation import daily_schedule, new_landing_files
from pipelines.config import pipeline_config
from pipelines.dbt import build_dbt_assets
from pipelines.jobs import materialize_all
from pipelines.resources import default_resources


def mart_freshness() -> dg.FreshnessPolicy:
    """How old a mart may get before the UI flags it (config/pipeline.yaml `freshness`)."""
    config = pipeline_config()
    return dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=config.freshness_fail_hours),
                                          warn_window=timedelta(hours=config.freshness_warn_hours))


def build_definitions() -> dg.Definitions:
    dbt_staging, dbt_marts = build_dbt_assets()
    marts = [key for key in dbt_marts.keys if key.path[0] == "marts"] + [dg.AssetKey(["marts", "user_clv"]),
                                                                        dg.AssetKey(["marts", "clv_model_fits"]),
                                                                        dg.AssetKey(["marts", "clv_holdout_frequency"]),
                                                                        dg.AssetKey(["marts", "clv_holdout_tracking"]),
                                                                        dg.AssetKey(["marts", "kpi_attribution"]),
                                                                        dg.AssetKey(["marts", "attribution_paths"]),
                                                                        dg.AssetKey(["marts", "audience_members"])]
    defs = dg.Definitions.merge(
        ingest_defs(),
        dg.Definitions(assets=[dbt_staging]),
        identity_defs(),
        dg.Definitions(assets=[dbt_marts]),
        profiles_defs(),
        kpis_defs(),
        quality_defs(),
        dg.Definitions(assets=build_export_assets(marts)),
        dg.Definitions(
            jobs=[materialize_all],
            schedules=[daily_schedule],
            sensors=[new_landing_files],
            resources=default_resources(),
            executor=dg.in_process_executor,
        ),
    )
    policy = mart_freshness()
    with warnings.catch_warnings():  # map_asset_specs is "preview" in Dagster 1.13; covers marts added later
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return defs.map_asset_specs(
            func=lambda spec: dg.apply_freshness_policy(spec, policy) if spec.key.path[0] == "marts" else spec)


defs = build_definitions()
