"""Run the pipeline from Python through the one ``Definitions`` — what ``cdp run`` and the
end-to-end tests call, so there is no second code path beside the Dagster UI."""

import os
import uuid
from collections.abc import Sequence
from datetime import date

import dagster as dg

from assets.common.pipeline_config import engine_name, pipeline_config
from assets.ingest.feeds import feeds_config
from assets.ingest.partitions import first_partition_day, landing_dates, partition_range_tags
from pipelines.dbt_builds import MARTS_STEP, STAGING_STEP
from pipelines.environment import prepare_environment
from pipelines.progress import EventCallback, watch_run
from pipelines.settings import STAGES

IDENTITY_RESOLVED = dg.AssetKey(["identity", "resolved_records"])


class NothingToRun(RuntimeError):
    """The landing zone has no daily folders to ingest."""


class EngineUnavailable(NothingToRun):
    """The deployment's engine cannot start on this machine."""


def require_engine() -> None:
    """Stop before anything is written when the deployment's engine cannot start here (Spark
    without Java or pyspark): a run would otherwise load the feeds and fail at its first Spark step."""
    if engine_name() == "spark":
        from assets.common.spark import missing_requirements

        missing = missing_requirements()
        if missing:
            raise EngineUnavailable(f"{missing}; or run on DuckDB: engine: duckdb in pipeline.yaml")


def landing_range(first: date | None = None, last: date | None = None) -> tuple[date, date]:
    """The partition range to run: the given bounds, else the span of the landing zone's daily folders."""
    paths = prepare_environment()
    require_engine()
    feeds = list(feeds_config().feeds.values())
    start = first_partition_day(paths.landing, feeds, pipeline_config().partitions_start)
    days = [d for d in landing_dates(paths.landing, feeds) if d >= start]
    if not days and (first is None or last is None):
        problem = (
            "does not exist"
            if not paths.landing.is_dir()
            else f"has no daily folders (<feed>/YYYY-MM-DD/) on or after {start}"
        )
        raise NothingToRun(
            f"landing folder {paths.landing} {problem}; run `cdp generate` for a sample, "
            f"or point CDP_LANDING_DIR (or CDP_DATA_DIR) at your landing zone"
        )
    return first or days[0], last or days[-1]


def stage_selection(stages: Sequence[str], instance: dg.DagsterInstance | None = None) -> list[dg.AssetKey]:
    """The asset keys of the given stages (Dagster asset groups), so ``cdp run --stage`` selects what
    the UI shows under those groups; given the ``instance``, plus every upstream asset it never
    materialised: a stage run on a fresh data folder builds what it reads instead of failing on a
    missing table, and on a used one reuses what is there."""
    from pipelines.definitions import defs

    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        raise ValueError(f"unknown stage(s) {', '.join(unknown)}; choose from {', '.join(STAGES)}")
    graph = defs.resolve_asset_graph()
    chosen = dg.AssetSelection.groups(*stages).resolve(graph)
    if instance is None:
        return sorted(chosen)
    upstream = dg.AssetSelection.assets(*chosen).upstream().resolve(graph) - chosen
    missing = [key for key in upstream if instance.get_latest_materialization_event(key) is None]
    # an asset computed with others (identity's outputs) can only be built with all of them
    return sorted(chosen | dg.AssetSelection.assets(*missing).required_multi_asset_neighbors().resolve(graph))


def run_pipeline(
    first: date | None = None,
    last: date | None = None,
    selection: Sequence[str] | None = None,
    stages: Sequence[str] | None = None,
    on_event: EventCallback | None = None,
    full_identity: bool = False,
    full_models: bool = False,
) -> dg.ExecuteInProcessResult:
    """Materialise the selected assets (default: all; ``selection`` keys and/or whole ``stages``) for
    the daily partitions ``first``..``last``. ``on_event`` sees every event of the run as it is stored;
    ``full_identity`` re-resolves every record instead of linking only what changed; ``full_models``
    builds the incremental dbt models (staging and facts) from all of their inputs
    (pipelines/dbt_builds.py)."""
    first, last = landing_range(first, last)
    from pipelines.definitions import defs  # imported after the environment is prepared

    instance = dg.DagsterInstance.get()
    keys = [dg.AssetKey.from_user_string(s) for s in selection or ()] + stage_selection(
        stages or (), instance
    )
    run_config: dict = {
        "loggers": {"console": {"config": {"log_level": os.environ.get("CDP_LOG_LEVEL", "INFO")}}}
    }
    if full_identity:
        if keys and IDENTITY_RESOLVED not in keys:
            raise ValueError(
                "--full-identity needs the identity stage in the run (it rebuilds identity/resolved_records)"
            )
        run_config.setdefault("ops", {})["identity_resolution"] = {"config": {"full_rebuild": True}}
    if full_models:
        for step in (STAGING_STEP, MARTS_STEP):
            run_config.setdefault("ops", {})[step] = {"config": {"full_refresh": True}}
    job = defs.resolve_job_def("materialize_all")
    run_id = str(uuid.uuid4())
    with watch_run(instance, run_id, on_event):
        return job.execute_in_process(
            instance=instance,
            run_id=run_id,
            tags=partition_range_tags(first, last),
            asset_selection=keys or None,
            raise_on_error=False,
            run_config=run_config,
        )
