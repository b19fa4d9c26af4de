"""dbt models as Dagster assets, with the manifest kept in step with the models."""

import json
import sys
from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from dagster_dbt.compat import DBT_PYTHON_VERSION

from assets.common.metadata import table_metadata
from assets.common.paths import DBT_PROJECT_DIR
from assets.common.warehouse import Warehouse
from assets.kpis.anomalies import KPI_DAILY, anomaly_metadata
from pipelines.dbt_vars import dbt_vars
from pipelines.settings import STAGE_OF_FOLDER

DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))
"""The venv's dbt, whether or not the venv is on PATH (``.venv/bin/cdp`` runs without activation)."""


def _sources_newer_than(target: Path) -> bool:
    if not target.exists():
        return True
    built = target.stat().st_mtime
    watched = [
        DBT_PROJECT_DIR / "dbt_project.yml",
        *DBT_PROJECT_DIR.glob("models/**/*"),
        *DBT_PROJECT_DIR.glob("macros/**/*"),
        *DBT_PROJECT_DIR.glob("tests/**/*"),
    ]
    return any(p.stat().st_mtime > built for p in watched if p.is_file())


DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


class VenvDbtCliResource(DbtCliResource):
    """dagster-dbt learns the dbt version by starting ``dbt --version`` (which also asks PyPI for the
    latest release) each time the resource is set up: every dbt step of every run, ~3 s each. Our
    executable is this venv's dbt-core, whose version Python already knows."""

    @cached_property
    def _cli_version(self):
        if DBT_PYTHON_VERSION is None:  # no dbt-core in this environment: ask the executable
            return super()._cli_version
        return DBT_PYTHON_VERSION


def prepare_manifest(project: DbtProject = DBT_PROJECT) -> Path:
    """``dbt parse`` when a model, macro, test or the project file is newer than the manifest.
    ``@dbt_assets`` reads the manifest when the code loads, so a changed model is picked up by the
    next ``cdp run`` (not only under ``dagster dev``, where ``DbtProject.prepare_if_dev`` would do
    it), and an unchanged project costs no dbt start-up."""
    if _sources_newer_than(project.manifest_path):
        VenvDbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE).cli(
            ["parse", "--quiet"], target_path=project.target_path
        ).wait()
    return project.manifest_path


class CdpDbtTranslator(DagsterDbtTranslator):
    """Groups dbt models by pipeline stage: the folder under ``marts/`` (identity, kpis…) or the
    top folder (staging, intermediate) mapped through ``STAGE_OF_FOLDER``; seeds are reference data
    loaded with the feeds."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "ingest"
        if dbt_resource_props["resource_type"] != "model":
            return super().get_group_name(dbt_resource_props)
        fqn = dbt_resource_props["fqn"]
        folder = fqn[2] if len(fqn) > 3 and fqn[1] == "marts" else fqn[1]
        return STAGE_OF_FOLDER.get(folder, folder)

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return ["team:analytics-engineering"]


TRANSLATOR = CdpDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


STAGING = "fqn:o2o_cdp.staging.* resource_type:seed"


def build_args() -> list[str]:
    """``dbt build`` with the deployment's profile rules and KPI parameters (its config folder) as vars.
    dbt unit tests are left out: their expected rows are written for the sample deployment's rules,
    so they test the product (tests/e2e run them), not a deployment with its own tags or segments."""
    return ["build", "--exclude", "test_type:unit", "--vars", json.dumps(dbt_vars(), ensure_ascii=False)]


def _build(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse) -> Iterator[Any]:
    """``dbt build``, then each model's row count (a preview of masked marts, and for kpi_daily its
    anomaly flags) added to its materialisation. The events are held until dbt exits: dbt-duckdb
    holds the warehouse's single writer lock while it runs, so the tables can only be read
    afterwards. A failing node still reports what the others did before the step fails.

    Both steps share the deployment's target folder (not dagster-dbt's default of a new folder per
    invocation, which grows without bound on a daily schedule): the second invocation of a run, and
    every later run, then reuses the first one's parse instead of parsing the project again."""
    held: list[Any] = []
    failure: Exception | None = None
    with warehouse.dbt_environment():
        try:
            invocation = dbt.cli(build_args(), context=context, target_path=warehouse.paths.dbt_target)
            for event in invocation.stream():
                held.append(event)
        except Exception as error:
            failure = error
    with warehouse.connect() as con:
        for event in held:
            if isinstance(event, dg.Output):
                key = context.asset_key_for_output(event.output_name)
                extra = table_metadata(con, *key.path[-2:])
                if key == KPI_DAILY:
                    extra |= anomaly_metadata(con)
                event = event.with_metadata({**event.metadata, **extra})
            yield event
    if failure is not None:
        raise failure


def build_dbt_assets() -> list[dg.AssetsDefinition]:
    """dbt in two steps around the Python identity stage: staging (feeds → canonical records and
    normalised identifiers, plus seeds) before it, every other model after it. Two explicit steps
    rather than one multi-asset split by Dagster: each dbt invocation costs seconds of start-up."""
    manifest = prepare_manifest()
    dbt_vars()  # a mistake in the deployment's profiles.yaml / kpis.yaml is reported when the code loads

    @dbt_assets(
        manifest=manifest,
        project=DBT_PROJECT,
        select=STAGING,
        name="dbt_staging",
        dagster_dbt_translator=TRANSLATOR,
    )
    def dbt_staging(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse):
        yield from _build(context, dbt, warehouse)

    @dbt_assets(
        manifest=manifest,
        project=DBT_PROJECT,
        exclude=STAGING,
        name="dbt_marts",
        dagster_dbt_translator=TRANSLATOR,
    )
    def dbt_marts(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse):
        yield from _build(context, dbt, warehouse)

    return [dbt_staging, dbt_marts]
