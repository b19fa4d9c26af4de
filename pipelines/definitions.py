"""The one Dagster ``Definitions`` of o2o-cdp: the UI, the schedule, the sensor and ``cdp run``
all load this object. Each stage contributes its own small Definitions; they are merged here."""

from __future__ import annotations

import dagster as dg

from assets.exports.assets import build_export_assets
from assets.identity.assets import identity_defs
from assets.ingest.assets import ingest_defs
from assets.profiles.assets import profiles_defs
from pipelines.automation import daily_schedule, new_landing_files
from pipelines.dbt import build_dbt_assets
from pipelines.jobs import materialize_all
from pipelines.resources import default_resources


def build_definitions() -> dg.Definitions:
    dbt_models = build_dbt_assets()
    marts = [key for key in dbt_models.keys if key.path[0] == "marts"] + [dg.AssetKey(["marts", "user_clv"])]
    return dg.Definitions.merge(
        ingest_defs(),
        identity_defs(),
        dg.Definitions(assets=[dbt_models]),
        profiles_defs(),
        dg.Definitions(assets=build_export_assets(marts)),
        dg.Definitions(
            jobs=[materialize_all],
            schedules=[daily_schedule],
            sensors=[new_landing_files],
            resources=default_resources(),
            executor=dg.in_process_executor,
        ),
    )


defs = build_definitions()
