"""dbt inside the run's own process (dbt's ``dbtRunner``), not a ``dbt`` subprocess per step.

A subprocess pays dbt's import and start-up every time: about 3-4 s per dbt step, two steps per
run, a third of a small run's wall time. In-process the import is paid once per process, and the
second invocation of a run reuses the first one's parse. dagster-dbt still does what it is good
at: choosing the dbt nodes of a subset run (a stage run selects some of the marts) and turning
dbt's result events into Dagster outputs and check results (its public
``DbtCliEventMessage.to_default_asset_events``). A killed run takes dbt down with it, instead of
leaving a subprocess writing to the warehouse.

dbt-duckdb keeps its database open in a class-level environment after an invocation; it is closed
when dbt returns, so the warehouse's single-writer lock is free for the next step, for the
analysts' tools and for the next run."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator, DbtProject
from dagster_dbt.asset_utils import (
    extract_runtime_selection_from_args,
    get_updated_cli_invocation_params_for_context,
)
from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage

RESULT_EVENTS = {"LogSeedResult", "LogModelResult", "LogSnapshotResult", "LogTestResult"}
"""dbt's events that carry a node's outcome: the ones dagster-dbt turns into Dagster events."""


@dataclass
class DbtOutcome:
    """What one dbt invocation reported: each node's result event (as dbt's JSON log writes it),
    its error messages, and whether it succeeded."""

    results: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    success: bool = False


def invoke_dbt(args: Sequence[str], project: DbtProject, target_path: Path) -> DbtOutcome:
    """``dbt args…`` in this process, against ``project`` with ``target_path`` as its target and
    log folder; the caller sets the environment dbt reads (warehouse path, salt). Only result events
    and errors are kept: an invocation fires thousands of events, and converting each costs time."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.cli.main import dbtRunner
    from dbt_common.events.functions import msg_to_dict

    outcome = DbtOutcome()

    def collect(event: Any) -> None:
        if event.info.name in RESULT_EVENTS:
            outcome.results.append(msg_to_dict(event))
        elif event.info.level == "error":
            outcome.errors.append(event.info.msg)

    folders = ["--project-dir", str(project.project_dir), "--profiles-dir", str(project.profiles_dir)]
    paths = ["--target-path", str(target_path), "--log-path", str(target_path)]
    try:
        result = dbtRunner(callbacks=[collect]).invoke([*args, *folders, *paths])
    finally:
        DuckDBConnectionManager.close_all_connections()
        gc.collect()  # the environment's last reference: the database file is closed here
    outcome.success = result.success
    if result.exception is not None:
        outcome.errors.append(f"{type(result.exception).__name__}: {result.exception}")
    return outcome


@dataclass(frozen=True)
class Invocation:
    """A dbt command for the assets a step materialises: its arguments with their selection, the
    project to run it in, the manifest its events are read against, and the indirect selection
    dagster-dbt asks for (None: leave the environment's)."""

    args: list[str]
    project: DbtProject
    manifest: Mapping[str, Any]
    indirect_selection: str | None


def invocation_for(
    context: AssetExecutionContext, args: Sequence[str], translator: DagsterDbtTranslator, project: DbtProject
) -> Invocation:
    """``args`` with the selection of this step's assets (all of them, or a stage run's share), as
    dagster-dbt's own resource would choose it."""
    cleaned, selects, excludes = extract_runtime_selection_from_args(args)
    params = get_updated_cli_invocation_params_for_context(
        context=context,
        manifest={},
        dagster_dbt_translator=translator,
        runtime_selects=selects,
        runtime_excludes=excludes,
    )
    return Invocation(
        [*cleaned, *params.selection_args],
        params.dbt_project or project,
        params.manifest,
        params.indirect_selection,
    )


def asset_events(
    context: AssetExecutionContext,
    outcome: DbtOutcome,
    manifest: Mapping[str, Any],
    translator: DagsterDbtTranslator,
    target_path: Path,
) -> Iterator[Any]:
    """The Dagster outputs and check results of the nodes dbt finished."""
    for raw in outcome.results:
        event = DbtCoreCliEventMessage(raw_event=raw, event_history_metadata={})
        yield from event.to_default_asset_events(
            manifest=manifest, dagster_dbt_translator=translator, context=context, target_path=target_path
        )


def failure(outcome: DbtOutcome) -> dg.Failure:
    """The step's failure, with dbt's own error messages (failing tests, SQL errors)."""
    shown = "\n".join(outcome.errors[-20:]) or "dbt reported no error message"
    return dg.Failure(description=f"dbt failed:\n{shown}")
