"""What ``cdp status`` shows: the state of a deployment read from the Dagster instance (runs,
materialised partitions, check results) and the analysts' database (row counts) — never from the
warehouse, which a running pipeline may hold locked."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import dagster as dg
import duckdb
from rich.table import Table

from assets.common.paths import DataPaths
from assets.ingest.feeds import feeds_config
from assets.ingest.partitions import landing_dates


@dataclass(frozen=True)
class RunRow:
    run_id: str
    status: str
    started: str
    seconds: float | None
    partitions: str


@dataclass(frozen=True)
class FeedHealth:
    feed: str
    landing_days: int
    loaded_days: int
    missing: list[str]
    last_loaded: str | None


@dataclass(frozen=True)
class FailedCheck:
    asset: str
    check: str
    severity: str


@dataclass
class Status:
    runs: list[RunRow] = field(default_factory=list)
    feeds: list[FeedHealth] = field(default_factory=list)
    marts: list[tuple[str, int]] = field(default_factory=list)
    failed_checks: list[FailedCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def tables(self) -> list[Table]:
        runs = Table("run", "status", "started", "seconds", "partitions", title="Last runs")
        for r in self.runs:
            colour = {"SUCCESS": "green", "FAILURE": "red"}.get(r.status, "yellow")
            runs.add_row(
                r.run_id[:8],
                f"[{colour}]{r.status}[/{colour}]",
                r.started,
                "" if r.seconds is None else f"{r.seconds:.0f}",
                r.partitions,
            )
        feeds = Table(
            "feed", "landing days", "loaded days", "missing", "last loaded", title="Partition health per feed"
        )
        for f in self.feeds:
            missing = ", ".join(f.missing[:5]) + (f" (+{len(f.missing) - 5})" if len(f.missing) > 5 else "")
            feeds.add_row(
                f.feed,
                str(f.landing_days),
                str(f.loaded_days),
                f"[red]{missing}[/red]" if f.missing else "[green]none[/green]",
                f.last_loaded or "",
            )
        marts = Table("mart", "rows", title="Marts (marts.duckdb)")
        for name, rows in self.marts:
            marts.add_row(name, f"{rows:,}")
        checks = Table("asset", "check", "severity", title="Failed checks (last run)")
        for c in self.failed_checks:
            checks.add_row(c.asset, c.check, c.severity)
        if not self.failed_checks:
            checks.add_row("[green]none[/green]", "", "")
        return [runs, feeds, marts, checks]


def _runs(instance: dg.DagsterInstance, limit: int) -> list[RunRow]:
    rows = []
    for record in instance.get_run_records(limit=limit):
        run = record.dagster_run
        start, end = record.start_time, record.end_time
        tags = run.tags
        span = (
            f"{tags['dagster/asset_partition_range_start']} → {tags['dagster/asset_partition_range_end']}"
            if "dagster/asset_partition_range_start" in tags
            else tags.get("dagster/partition", "")
        )
        rows.append(
            RunRow(
                run.run_id,
                run.status.value,
                datetime.fromtimestamp(start).strftime("%Y-%m-%d %H:%M") if start else "",
                end - start if start and end else None,
                span,
            )
        )
    return rows


def _feeds(instance: dg.DagsterInstance, paths: DataPaths) -> list[FeedHealth]:
    out = []
    for feed in feeds_config().feeds.values():
        days = {d.isoformat() for d in landing_dates(paths.landing, [feed])}
        loaded = instance.get_materialized_partitions(dg.AssetKey(["raw", feed.name]))
        out.append(
            FeedHealth(
                feed.name,
                len(days),
                len(loaded & days) if days else len(loaded),
                sorted(days - loaded),
                max(loaded) if loaded else None,
            )
        )
    return out


def _failed_checks(instance: dg.DagsterInstance, run_id: str) -> list[FailedCheck]:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    failed = []
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if not evaluation.passed:
            failed.append(
                FailedCheck(
                    evaluation.asset_key.to_user_string(), evaluation.check_name, evaluation.severity.value
                )
            )
    return failed


def _marts(paths: DataPaths) -> list[tuple[str, int]]:
    with duckdb.connect(str(paths.analyst_db), read_only=True) as con:
        names = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'main' ORDER BY table_name"
            ).fetchall()
        ]
        return [(n, con.execute(f'SELECT count(*) FROM "{n}"').fetchall()[0][0]) for n in names]


def collect_status(paths: DataPaths, runs: int = 5) -> Status:
    instance = dg.DagsterInstance.get()
    state = Status(runs=_runs(instance, runs))
    if not paths.landing.is_dir():
        state.notes.append(f"no landing zone at {paths.landing}: run `cdp generate` or set CDP_LANDING_DIR")
    state.feeds = _feeds(instance, paths)
    if paths.analyst_db.exists():
        state.marts = _marts(paths)
    else:
        state.notes.append(f"{paths.analyst_db} does not exist yet: run `cdp run`")
    if state.runs:
        state.failed_checks = _failed_checks(instance, state.runs[0].run_id)
    else:
        state.notes.append("no runs yet: run `cdp run` or start one from `cdp ui`")
    return state
