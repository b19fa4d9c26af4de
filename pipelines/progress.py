"""Progress of a run as it happens: a thread follows the run's events in the Dagster instance
(where ``execute_in_process`` stores them) and hands each to a callback; ``StepProgress`` turns
them into one progress bar per step on a terminal, or one line per finished step elsewhere."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dagster as dg
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

EventCallback = Callable[[dg.EventLogEntry], None]
logger = logging.getLogger(__name__)


@contextmanager
def watch_run(
    instance: dg.DagsterInstance, run_id: str, on_event: EventCallback | None, interval: float = 0.25
) -> Iterator[None]:
    """Call ``on_event`` for each event of ``run_id`` in order, until the block exits and every
    stored event has been handed over. Without a callback, does nothing."""
    if on_event is None:
        yield
        return
    done = threading.Event()
    cursor: list[str | None] = [None]

    def drain() -> None:
        while True:
            page = instance.get_records_for_run(run_id, cursor=cursor[0], limit=500)
            for record in page.records:
                try:
                    on_event(record.event_log_entry)
                except Exception:  # a display problem must never fail or hide the run itself
                    logger.warning("progress display failed on an event; the run goes on", exc_info=True)
            cursor[0] = page.cursor
            if not page.has_more:
                return

    def follow() -> None:
        while not done.is_set():
            drain()
            done.wait(interval)

    thread = threading.Thread(target=follow, name=f"watch-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        drain()


PRODUCED = ("ASSET_MATERIALIZATION", "ASSET_CHECK_EVALUATION")


class StepProgress:
    """Renders run events: a bar per step (its assets and checks done, of the step's outputs in
    the run's execution plan) when the console is a terminal; plain lines, one per finished step,
    when it is not (CI logs, pipes)."""

    def __init__(self, console: Console, instance: dg.DagsterInstance) -> None:
        self.console = console
        self.instance = instance
        self.totals: dict[str, int] | None = None
        self.live = console.is_terminal
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not self.live,
        )
        self.tasks: dict[str, int] = {}
        self.started: dict[str, float] = {}
        self.outputs: dict[str, set[str]] = {}

    def __enter__(self) -> StepProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def __call__(self, entry: dg.EventLogEntry) -> None:
        event = entry.dagster_event
        step = entry.step_key
        if event is None or step is None:
            return
        kind = event.event_type_value
        if kind == "STEP_START":
            self.started[step] = time.perf_counter()
            self.tasks[step] = self.progress.add_task(step, total=self._total(entry.run_id, step))
        elif kind in PRODUCED:
            # one per asset or check, however many partitions it covers
            produced = self.outputs.setdefault(step, set())
            data = event.event_specific_data
            key = getattr(data, "asset_key", None) or event.asset_key
            name = f"{key.to_user_string() if key else ''}:{getattr(data, 'check_name', '')}"
            if name not in produced:
                produced.add(name)
                if step in self.tasks:
                    self.progress.advance(self.tasks[step])
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
            ok = kind == "STEP_SUCCESS"
            seconds = time.perf_counter() - self.started.get(step, time.perf_counter())
            if step in self.tasks:
                done = len(self.outputs.get(step, ()))
                self.progress.update(
                    self.tasks[step],
                    total=max(done, 1),
                    completed=max(done, 1),
                    description=f"{'[green]✓' if ok else '[red]✗'}[/] {step}",
                )
            if not self.live:
                mark = "ok" if ok else ("skipped" if kind == "STEP_SKIPPED" else "FAILED")
                self.console.print(
                    f"{mark:>7}  {step}  ({seconds:.1f} s, {len(self.outputs.get(step, ()))} "
                    "assets and checks)",
                    highlight=False,
                )

    def _total(self, run_id: str, step: str) -> int | None:
        """Outputs of ``step`` in the run's execution plan: every asset and check it will produce."""
        if self.totals is None:
            run = self.instance.get_run_by_id(run_id)
            plan = (
                self.instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
                if run and run.execution_plan_snapshot_id
                else None
            )
            self.totals = {s.key: len(s.outputs) for s in plan.steps} if plan else {}
        return self.totals.get(step)
