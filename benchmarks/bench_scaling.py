"""Benchmark: what a full run and a daily run cost at each size, and where one machine stops.

For each tier (S 10 k, M 200 k, L 2 M people): generate the landing zone, hold its last day back,
run the whole pipeline on a fresh warehouse (the full run), deliver the held-back day and run again
for that day only (the daily run). Each run is a process of its own, so its peak RSS (dbt runs in
it) is its own. Per-step seconds are rolled up into stages.

    .venv/bin/python benchmarks/bench_scaling.py --tiers S M --json benchmarks/results/scaling.json
    .venv/bin/python benchmarks/bench_scaling.py --tiers M --reuse-landing --daily-runs 3
    .venv/bin/python benchmarks/bench_scaling.py --tiers L --reuse-landing

The summary gives each tier's full and daily seconds, the daily run's share of the full run, the
peaks, and the slope of log(full seconds) over log(people) between neighbouring tiers (1.0: linear).
Its runs use the pipeline's allocator settings (``pipelines/__init__.py``), set before polars loads."""

# isort: off
import pipelines  # noqa: F401  (first: the pipeline's allocator settings, read when polars loads)

# isort: on
import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from reporting import emit  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

REPO = Path(__file__).resolve().parent.parent
TIERS = {"S": 10_000, "M": 200_000, "L": 2_000_000}
STAGE_OF_STEP = (  # first matching prefix or fragment wins
    ("_gx_", "quality checks"),
    ("raw__", "ingest"),
    ("reference_data", "ingest"),
    ("privacy__", "ingest"),
    ("canonical_views", "ingest"),
    ("dbt_staging", "dbt staging"),
    ("identity_resolution", "identity"),
    ("dbt_marts", "dbt marts"),
    ("exports__", "exports"),
    ("kpi_attribution", "python marts"),
    ("user_clv", "python marts"),
    ("marts__audience", "python marts"),
)


def stage_of(step: str) -> str:
    return next((stage for key, stage in STAGE_OF_STEP if key in step), "other checks")


def child_generate(people: int, seed: int) -> dict:
    from generator import generate
    from pipelines.environment import prepare_environment

    summary = generate(people=people, seed=seed, out=prepare_environment().landing)
    return {
        "files": summary.files,
        "rows": summary.rows_per_feed,
        "identity_records": summary.identity_records,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def child_run(first: str, last: str) -> dict:
    from pipelines.runner import run_pipeline

    started = time.perf_counter()
    result = run_pipeline(date.fromisoformat(first), date.fromisoformat(last))
    seconds = time.perf_counter() - started
    steps = {
        e.step_key: round(e.event_specific_data.duration_ms / 1000, 2)
        for e in result.all_events
        if e.event_type_value == "STEP_SUCCESS"
    }
    stages: dict[str, float] = {}
    for step, step_seconds in steps.items():
        stages[stage_of(step)] = round(stages.get(stage_of(step), 0) + step_seconds, 1)
    return {
        "success": result.success,
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "stages_seconds": dict(sorted(stages.items(), key=lambda kv: -kv[1])),
        "steps_seconds": steps,
        "failed_steps": [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"],
        "exports_rewritten": exports_rewritten(result.all_events),
    }


def exports_rewritten(events: Sequence[Any]) -> dict:
    """What the Parquet export rewrote: how many marts of how many, and per mart exported by day the
    day folders rewritten and held. A daily run rewrites every mart whose content changed (profiles
    as of the day, KPIs over all history) and the days identity's re-resolution touched."""
    for event in events:
        if event.is_step_materialization and event.asset_key.path == ["exports", "parquet"]:
            materialization = event.step_materialization_data.materialization
            metadata = {key: value.value for key, value in materialization.metadata.items()}
            return {
                "marts": f"{metadata.get('tables_rewritten')} of "
                f"{metadata.get('tables_rewritten', 0) + metadata.get('tables_unchanged', 0)}",
                "days": metadata.get("days_rewritten", {}),
            }
    return {}


def phase(args: list[str], env: dict) -> dict:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, *args], env=env, cwd=REPO, capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stdout[-5000:] + out.stderr[-5000:])
        return {
            "success": False,
            "returncode": out.returncode,
            "seconds": round(time.perf_counter() - started),
        }
    report = json.loads(out.stdout.strip().splitlines()[-1])
    return {**report, "process_seconds": round(time.perf_counter() - started, 1)}


def hold_back_last_day(landing: Path, held: Path) -> tuple[str, str]:
    """Move every feed's latest day folder out of the landing zone; the first and last days left."""
    days = sorted(
        {
            d.name
            for feed in landing.iterdir()
            if not feed.name.startswith(("_", "reference"))
            for d in feed.iterdir()
            if d.is_dir()
        }
    )
    last = days[-1]
    for folder in landing.glob(f"*/{last}"):
        target = held / folder.parent.name / last
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(folder, target)
    return days[0], days[-2]


def deliver(held: Path, landing: Path) -> str:
    day = ""
    for folder in held.glob("*/*"):
        day = folder.name
        shutil.move(folder, landing / folder.parent.name / day)
    return day


def deployment_with_dbt_memory(workdir: Path, limit: str) -> Path:
    """The sample deployment's config folder with ``dbt.memory_limit`` set to ``limit``: its 4GB
    suits the M tier's 6 GB budget, not the L tier's 20 GB."""
    config = workdir / "config"
    shutil.rmtree(config, ignore_errors=True)
    shutil.copytree(REPO / "config", config)
    pipeline = config / "pipeline.yaml"
    settings = yaml.safe_load(pipeline.read_text("utf-8"))
    settings.setdefault("dbt", {})["memory_limit"] = limit  # identity's and the exports' limits stay
    pipeline.write_text(yaml.safe_dump(settings), "utf-8")
    return config


def tier(name: str, people: int, seed: int, root: Path, options: argparse.Namespace) -> dict:
    workdir = root / f"o2o-cdp-scale-{people}"
    data, held = workdir / "data", workdir / "held"
    env = {**os.environ, "CDP_DATA_DIR": str(data), "DAGSTER_HOME": str(workdir / "dagster")}
    report: dict = {"tier": name, "people": people, "seed": seed}
    if held.exists():
        deliver(held, data / "landing")
    if not (options.reuse_landing and (data / "landing" / "_truth").exists()):
        shutil.rmtree(workdir, ignore_errors=True)
        started = time.perf_counter()
        report["generate"] = phase(["--child", "generate", "--people", str(people), "--seed", str(seed)], env)
        report["generate"]["seconds"] = round(time.perf_counter() - started, 1)
    if options.dbt_memory_limit:  # after generating, which starts the workdir afresh
        env["CDP_CONFIG_DIR"] = str(deployment_with_dbt_memory(workdir, options.dbt_memory_limit))
        report["dbt_memory_limit"] = options.dbt_memory_limit
    for stale in ("warehouse.duckdb", "warehouse.duckdb.wal", "marts.duckdb", "exports", "dbt", "dagster"):
        remove(data / stale if stale != "dagster" else workdir / stale)
    (workdir / "dagster").mkdir(parents=True, exist_ok=True)
    first, before_last = hold_back_last_day(data / "landing", held)
    report["full"] = phase(["--child", "run", "--from", first, "--to", before_last], env)
    day = deliver(held, data / "landing")
    if report["full"].get("success") and not options.skip_daily:
        daily = daily_runs(workdir, env, day, options.daily_runs)
        report["daily"] = daily[len(daily) // 2]  # the median run, by seconds
        report["daily_runs_seconds"] = [r.get("seconds") for r in daily]
        report["daily_share_of_full"] = round(report["daily"]["seconds"] / report["full"]["seconds"], 3)
    return report


STATE = (
    "data/warehouse.duckdb",
    "data/marts.duckdb",
    "data/.marts.duckdb.fingerprint",  # without it a restored analysts' file is built afresh
    "data/.marts.duckdb.fresh_bytes",
    "data/exports",
    "data/dbt",
    "dagster",
)


def daily_runs(workdir: Path, env: dict, day: str, runs: int) -> list[dict]:
    """The daily run ``runs`` times, each from the state the full run left (kept aside and put back
    before each), sorted by seconds: this machine's speed drifts by a third within an hour, and one
    run cannot tell a change from the drift."""
    kept = workdir / "after-full"
    shutil.rmtree(kept, ignore_errors=True)
    for part in STATE if runs > 1 else ():
        copy_over(workdir / part, kept / part)
    reports = []
    for run in range(runs):
        if run:
            for part in STATE:
                copy_over(kept / part, workdir / part)
            (workdir / "data" / "warehouse.duckdb.wal").unlink(missing_ok=True)
        reports.append(phase(["--child", "run", "--from", day, "--to", day], env))
    shutil.rmtree(kept, ignore_errors=True)
    return sorted(reports, key=lambda r: r.get("seconds", float("inf")))


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def copy_over(source: Path, target: Path) -> None:
    remove(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target)
    elif source.exists():
        shutil.copy2(source, target)


def summary(tiers: list[dict]) -> list[dict]:
    rows = []
    for i, t in enumerate(tiers):
        full, daily = t.get("full", {}), t.get("daily", {})
        row = {
            "tier": t["tier"],
            "people": t["people"],
            "full_s": full.get("seconds"),
            "full_peak_gb": round(full.get("peak_rss_mb", 0) / 1024, 2),
            "daily_s": daily.get("seconds"),
            "daily_peak_gb": round(daily.get("peak_rss_mb", 0) / 1024, 2),
            "daily_share": t.get("daily_share_of_full"),
        }
        prev = tiers[i - 1] if i else None
        if prev and prev.get("full", {}).get("seconds") and full.get("seconds"):
            row["slope_vs_previous"] = round(
                math.log(full["seconds"] / prev["full"]["seconds"]) / math.log(t["people"] / prev["people"]),
                2,
            )
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tiers", nargs="+", choices=list(TIERS), default=["S", "M"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--root", type=Path, default=Path("/tmp"), help="workdirs go to ROOT/o2o-cdp-scale-<people>"
    )
    parser.add_argument(
        "--reuse-landing", action="store_true", help="skip generation if the landing zone exists"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--dbt-memory-limit", help="dbt's DuckDB memory limit for these runs (e.g. 12GB)")
    parser.add_argument("--skip-daily", action="store_true", help="only the full run")
    parser.add_argument(
        "--daily-runs", type=int, default=1, help="daily runs from the same state; the median is reported"
    )
    parser.add_argument("--child", choices=["generate", "run"], help=argparse.SUPPRESS)
    parser.add_argument("--people", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--from", dest="first", help=argparse.SUPPRESS)
    parser.add_argument("--to", dest="last", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "generate":
        print(json.dumps(child_generate(args.people, args.seed)))
        return
    if args.child == "run":
        print(json.dumps(child_run(args.first, args.last)))
        return
    tiers = [tier(name, TIERS[name], args.seed, args.root, args) for name in args.tiers]
    emit(
        {
            "date": date.today().isoformat(),
            "cores": os.cpu_count(),
            "tiers": tiers,
            "summary": summary(tiers),
        },
        args.json,
    )


if __name__ == "__main__":
    main()
