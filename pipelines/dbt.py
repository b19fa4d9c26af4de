"""dbt models as Dagster assets, with the manifest kept in step with the models."""

import os
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from assets.kpis.anomalies import KPI_DAILY, anomaly_metadata
from pipelines.resources import Warehouse
from pipelines.settings import DBT_PROJECT_DIR

MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"


def _sources_newer_than(target: Path) -> bool:
    if not target.exists():
        return True
    built = target.stat().st_mtime
    watched = [DBT_PROJECT_DIR / "dbt_project.yml", *DBT_PROJECT_DIR.glob("models/**/*"),
               *DBT_PROJECT_DIR.glob("macros/**/*"), *DBT_PROJECT_DIR.glob("tests/**/*")]
    return any(p.stat().st_mtime > built for p in watched if p.is_file())


def ensure_manifest() -> Path:
    """``@dbt_assets`` reads the manifest at import time: (re)build it when models changed."""
    if _sources_newer_than(MANIFEST):
        env = {**os.environ, "DO_NOT_TRACK": "1"}
        subprocess.run([str(Path(sys.executable).with_name("dbt")), "parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR),
                        "--profiles-dir", str(DBT_PROJECT_DIR)], check=True, env=env, cwd=DBT_PROJECT_DIR)
    return MANIFEST


class CdpDbtTranslator(DagsterDbtTranslator):
    """Groups dbt models by stage: the folder under ``marts/`` (identity, core, kpis…) or the top
    folder (staging, intermediate); seeds are reference data for staging."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "staging"
        if dbt_resource_props["resource_type"] != "model":
            return super().get_group_name(dbt_resource_props)
        fqn = dbt_resource_props["fqn"]
        return fqn[2] if len(fqn) > 3 and fqn[1] == "marts" else fqn[1]

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return ["team:analytics-engineering"]


TRANSLATOR = CdpDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


STAGING = "fqn:o2o_cdp.staging.* resource_type:seed"


def _target(step: str) -> Path:
    """One dbt target folder per step, reused by every run (dagster-dbt's default, a new folder
    per invocation, grows without bound on a daily schedule)."""
    return MANIFEST.parent / "steps" / step


def with_anomaly_metadata(context: AssetExecutionContext, events: Iterable[Any],
                          warehouse: Warehouse) -> Iterator[Any]:
    """Pass dbt's events through, holding back kpi_daily's output and checks until dbt has exited
    (it holds the warehouse's write lock) to add the anomaly flags to its metadata."""
    held: list[Any] = []
    failure: Exception | None = None
    try:
        for event in events:
            key = (context.asset_key_for_output(event.output_name) if isinstance(event, dg.Output)
                   else getattr(event, "asset_key", None))
            if key == KPI_DAILY:
                held.append(event)
            else:
                yield event
    except Exception as error:  # a failing dbt node: still report what kpi_daily did, then fail
        failure = error
    for event in held:
        if isinstance(event, dg.Output):
            with warehouse.connect() as con:
                event = event.with_metadata({**event.metadata, **anomaly_metadata(con)})
        yield event
    if failure is not None:
        raise failure


def build_dbt_assets() -> list[dg.AssetsDefinition]:
    """dbt in two steps around the Python identity stage: staging (feeds → canonical records and
    normalised identifiers, plus seeds) before it, every other model after it. Two explicit steps
    rather than one multi-asset split by Dagster: each dbt invocation costs seconds of start-up."""
    manifest = ensure_manifest()

    @dbt_assets(manifest=manifest, select=STAGING, name="dbt_staging", dagster_dbt_translator=TRANSLATOR)
    def dbt_staging(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse):
        warehouse.dbt_env()
        yield from dbt.cli(["build"], context=context, target_path=_target("dbt_staging")).stream()

    @dbt_assets(manifest=manifest, exclude=STAGING, name="dbt_marts", dagster_dbt_translator=TRANSLATOR)
    def dbt_marts(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse):
        warehouse.dbt_env()
        events = dbt.cli(["build"], context=context, target_path=_target("dbt_marts")).stream()
        yield from with_anomaly_metadata(context, events, warehouse)

    return [dbt_staging, dbt_marts]
