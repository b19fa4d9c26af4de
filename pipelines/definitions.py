"""The one Dagster ``Definitions`` of o2o-cdp: the UI, the schedule, the sensor and ``cdp run``
all load this object. Each stage contributes its own small Definitions; they are merged here."""

from __future__ import annotations

import warnings
from datetime import timedelta

import dagster as dg

from assets.activation.assets import activation_defs
from assets.common.paths import CONFIG_DIR, EXPECTATIONS_DIR
from assets.common.pipeline_config import pipeline_config
from assets.exports.assets import build_export_assets
from assets.identity.assets import identity_defs
from assets.ingest.assets import ingest_defs
from assets.ingest.feeds import feeds_config
from assets.kpis.assets import kpis_defs
from assets.profiles.assets import profiles_defs
from assets.quality.checks import quality_defs
from assets.quality.expectations import SuiteFile
from assets.quality.suites import deployment_suites
from pipelines.automation import daily_schedule, new_landing_files
from pipelines.dbt import build_dbt_assets
from pipelines.jobs import materialize_all
from pipelines.resources import default_resources


def mart_freshness() -> dg.FreshnessPolicy:
    """How old a mart may get before the UI flags it (config/pipeline.yaml `freshness`)."""
    config = pipeline_config()
    return dg.FreshnessPolicy.time_window(
        fail_window=timedelta(hours=config.freshness_fail_hours),
        warn_window=timedelta(hours=config.freshness_warn_hours),
    )


def quality_suites(stages: list[dg.Definitions]) -> list[SuiteFile]:
    """The product's mart suites, the deployment's own suites beside its config, and a derived suite
    for each feed without one, for the tables these stages build."""
    known = {tuple(key.path) for d in stages for a in d.assets or () for key in a.keys}
    return deployment_suites(
        [EXPECTATIONS_DIR, CONFIG_DIR / "expectations"],
        feeds_config().feeds.values(),
        known,
        f"{CONFIG_DIR.name}/feeds.yaml",
    )


def mart_keys(stages: list[dg.Definitions]) -> list[dg.AssetKey]:
    """Every mart the stages build, dbt's and Python's alike: the exports publish exactly these."""
    return [key for d in stages for a in d.assets or () for key in a.keys if key.path[0] == "marts"]


def build_definitions() -> dg.Definitions:
    dbt_staging, dbt_marts = build_dbt_assets()
    stages = [
        ingest_defs(),
        dg.Definitions(assets=[dbt_staging]),
        identity_defs(),
        dg.Definitions(assets=[dbt_marts]),
        profiles_defs(),
        kpis_defs(),
    ]
    stages += [dg.Definitions(assets=build_export_assets(mart_keys(stages))), activation_defs()]
    defs = dg.Definitions.merge(
        *stages,
        quality_defs(quality_suites(stages)),
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
            func=lambda spec: dg.apply_freshness_policy(spec, policy) if spec.key.path[0] == "marts" else spec
        )


defs = build_definitions()
