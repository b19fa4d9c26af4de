"""dbt models as Dagster assets, with the manifest kept in step with the models."""

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject, dbt_assets
from dagster_dbt.asset_utils import DBT_INDIRECT_SELECTION_ENV
from pydantic import Field

from assets.common.metadata import table_metadata
from assets.common.paths import DBT_PROJECT_DIR
from assets.common.warehouse import Warehouse
from assets.kpis.anomalies import KPI_DAILY, anomaly_metadata
from pipelines.dbt_builds import (
    MARTS_STEP,
    STAGING_STEP,
    BuildPlan,
    plan_build,
    record_build,
    step_fingerprint,
    watermarks,
)
from pipelines.dbt_runner import DbtOutcome, Invocation, asset_events, failure, invocation_for, invoke_dbt
from pipelines.dbt_vars import dbt_vars
from pipelines.settings import STAGE_OF_FOLDER


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


def prepare_manifest(project: DbtProject = DBT_PROJECT) -> Path:
    """``dbt parse`` when a model, macro, test or the project file is newer than the manifest.
    ``@dbt_assets`` reads the manifest when the code loads, so a changed model is picked up by the
    next ``cdp run`` (not only under ``dagster dev``, where ``DbtProject.prepare_if_dev`` would do
    it), and an unchanged project costs no dbt start-up."""
    if _sources_newer_than(project.manifest_path):
        parsed = invoke_dbt(["parse", "--quiet"], project, Path(project.project_dir, project.target_path))
        if not parsed.success:
            raise RuntimeError("dbt parse failed:\n" + "\n".join(parsed.errors))
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


def build_args(variables: Mapping[str, Any] | None = None) -> list[str]:
    """``dbt build`` with the deployment's profile rules and KPI parameters (its config folder) as vars.
    dbt unit tests are left out: their expected rows are written for the sample deployment's rules,
    so they test the product (tests/e2e run them), not a deployment with its own tags or segments."""
    variables = dbt_vars() if variables is None else variables
    return ["build", "--exclude", "test_type:unit", "--vars", json.dumps(variables, ensure_ascii=False)]


class DbtStepConfig(dg.Config):
    full_refresh: bool = Field(
        default=False,
        description="Build the step's incremental models (staging: stg_events, stg_orders, stg_consents; "
        "marts: fct_events, fct_orders) from all of their inputs instead of from what changed since "
        "their last build.",
    )


def _step_plan(
    context: AssetExecutionContext,
    warehouse: Warehouse,
    manifest: Mapping[str, Any],
    variables: Mapping[str, Any],
    asked: bool,
) -> tuple[BuildPlan, str]:
    """Whether this step's build is full, and the fingerprint to record once it succeeds. The
    profile date is left out of the fingerprint: no incremental model reads it."""
    step = context.op_def.name
    fingerprint = step_fingerprint(
        manifest, json.dumps({k: v for k, v in variables.items() if k != "as_of"}), step == STAGING_STEP
    )
    with warehouse.connect() as con:
        plan = plan_build(con, step, fingerprint, asked)
    how = f"full build: {plan.reason}" if plan.full else "only what changed since the last build"
    context.log.info(f"incremental models of {step}: {how}")
    return plan, fingerprint


def _without_vars(args: list[str]) -> list[str]:
    """The arguments as an operator reads them: the vars are the config files, hundreds of lines."""
    if "--vars" not in args:
        return args
    at = args.index("--vars")
    return args[:at] + args[at + 2 :]


def _build(context: AssetExecutionContext, warehouse: Warehouse, full_refresh: bool) -> Iterator[Any]:
    """``dbt build`` of this step's models (in this process: pipelines/dbt_runner.py), then each
    model's row count (a preview of masked marts, and for kpi_daily its anomaly flags) added to its
    materialisation. The events are held until dbt returns: it holds the warehouse's single writer
    lock while it runs, so the tables can only be read afterwards. A failing node still reports what
    the others did before the step fails.

    Both steps share the deployment's target folder (not dagster-dbt's default of a new folder per
    invocation, which grows without bound on a daily schedule): the second invocation of a run, and
    every later run, then reuses the first one's parse instead of parsing the project again.

    The step's incremental models build in full when ``full_refresh`` asks for it or when
    pipelines/dbt_builds.py finds a reason to; the build is recorded there once it succeeds.

    On the Spark engine the same build runs with ``--target spark`` into a target folder of its own
    (a manifest compiled for Spark), in the run's Spark session, and its tables are then mounted in
    the warehouse's file (assets/common/spark_mount.py), where the same planning and metadata read
    them. Staging's appends are incremental there too; the facts and identity's inputs, which Spark's
    plain Parquet cannot replace by key, are rebuilt whole (``replaced_by_key()``), and the marts
    step always builds in full, since identity on Spark resolves every record."""
    on_spark = warehouse.on_spark
    target = warehouse.paths.root / "dbt-spark" if on_spark else warehouse.paths.dbt_target
    variables = dbt_vars()
    invocation = invocation_for(context, build_args(variables), TRANSLATOR, DBT_PROJECT)
    plan, fingerprint = _step_plan(context, warehouse, invocation.manifest, variables, full_refresh)
    invocation.args.extend(["--full-refresh"] if plan.full else [])
    if on_spark:  # dbt-spark's `session` method runs in the run's session: started here first
        invocation.args.extend(["--target", "spark"])
        warehouse.spark()
    with warehouse.connect() as con:
        seen = watermarks(con) if context.op_def.name == MARTS_STEP else None
    outcome = _invoke(context, warehouse, invocation, target)
    if on_spark:
        warehouse.mount_spark_tables()
    with warehouse.connect() as con:
        events = asset_events(context, outcome, invocation.manifest, TRANSLATOR, target)
        yield from _with_table_metadata(context, con, events, _how_built(invocation.manifest, plan))
        if outcome.success and not context.is_subset:  # a part of the step cannot stand for the whole
            record_build(con, context.op_def.name, fingerprint, plan, seen)
    if not outcome.success:
        raise failure(outcome)


def _invoke(
    context: AssetExecutionContext, warehouse: Warehouse, invocation: Invocation, target: Path
) -> DbtOutcome:
    with warehouse.dbt_environment():
        if invocation.indirect_selection:
            os.environ[DBT_INDIRECT_SELECTION_ENV] = invocation.indirect_selection  # restored on exit
        context.log.info(f"dbt {' '.join(_without_vars(invocation.args))} (vars: the deployment's config)")
        return invoke_dbt(invocation.args, invocation.project, target)


def _how_built(manifest: Mapping[str, Any], plan: BuildPlan) -> dict[str, str]:
    """Per incremental model of the step (by unique id): how this build made it, for its
    materialisation's metadata, so the UI says which days were incremental and why one was full."""
    how = f"full: {plan.reason}" if plan.full else "incremental: only what changed since the last build"
    return {
        node_id: how if node["config"].get("full_refresh") is not False else "incremental: never rebuilt"
        for node_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["config"].get("materialized") == "incremental"
    }


def _with_table_metadata(
    context: AssetExecutionContext,
    con: duckdb.DuckDBPyConnection,
    events: Iterator[Any],
    how_built: Mapping[str, str],
) -> Iterator[Any]:
    for event in events:
        if isinstance(event, dg.Output):
            key = context.asset_key_for_output(event.output_name)
            extra = table_metadata(con, *key.path[-2:])
            if key == KPI_DAILY:
                extra |= anomaly_metadata(con)
            unique_id = event.metadata.get("unique_id")
            node_id = getattr(unique_id, "value", unique_id)
            if node_id in how_built:
                extra["build"] = dg.MetadataValue.text(how_built[node_id])
            event = event.with_metadata({**event.metadata, **extra})
        yield event


def build_dbt_assets() -> list[dg.AssetsDefinition]:
    """dbt in two steps around the Python identity stage: staging (feeds → canonical records and
    normalised identifiers, plus seeds) before it, every other model after it. Two explicit steps
    rather than one multi-asset split by Dagster: each dbt invocation costs a second or more of start-up."""
    manifest = prepare_manifest()
    dbt_vars()  # a mistake in the deployment's profiles.yaml / kpis.yaml is reported when the code loads

    @dbt_assets(
        manifest=manifest,
        project=DBT_PROJECT,
        select=STAGING,
        name=STAGING_STEP,
        dagster_dbt_translator=TRANSLATOR,
    )
    def dbt_staging(context: AssetExecutionContext, warehouse: Warehouse, config: DbtStepConfig):
        yield from _build(context, warehouse, config.full_refresh)

    @dbt_assets(
        manifest=manifest,
        project=DBT_PROJECT,
        exclude=STAGING,
        name=MARTS_STEP,
        dagster_dbt_translator=TRANSLATOR,
    )
    def dbt_marts(context: AssetExecutionContext, warehouse: Warehouse, config: DbtStepConfig):
        yield from _build(context, warehouse, config.full_refresh)

    return [dbt_staging, dbt_marts]
