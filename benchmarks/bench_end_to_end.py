"""Benchmark: generate N people, run the whole pipeline, report wall time, peak memory and
identity quality against the generator's ground truth.

    .venv/bin/python benchmarks/bench_end_to_end.py --people 10000
    .venv/bin/python benchmarks/bench_end_to_end.py --people 200000 --json benchmarks/results/e2e-200k.json

Each phase runs in its own process so its peak RSS (including dbt subprocesses) is its own."""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
from reporting import emit  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

REPO = Path(__file__).resolve().parent.parent


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def child_generate(people: int, seed: int) -> dict:
    from generator import generate
    from pipelines.environment import prepare_environment

    started = time.perf_counter()
    summary = generate(people=people, seed=seed, out=prepare_environment().landing)
    return {
        "seconds": time.perf_counter() - started,
        "peak_rss_mb": peak_rss_mb(),
        "files": summary.files,
        "rows_per_feed": summary.rows_per_feed,
        "identity_records": summary.identity_records,
    }


def child_run() -> dict:
    from pipelines.runner import run_pipeline

    started = time.perf_counter()
    result = run_pipeline()
    steps = {
        event.step_key: round(event.event_specific_data.duration_ms / 1000, 2)
        for event in result.all_events
        if event.event_type_value == "STEP_SUCCESS"
    }
    failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    quality = sum(
        seconds for step, seconds in steps.items() if "gx_" in step
    )  # the Great Expectations checks
    return {
        "success": result.success,
        "seconds": time.perf_counter() - started,
        "peak_rss_mb": peak_rss_mb(),
        "steps_seconds": steps,
        "failed_steps": failed,
        "gx_checks_seconds": round(quality, 2),
    }


def identity_quality(data_dir: Path) -> dict:
    """Pairwise and B-cubed scores of identity_map against _truth/records.csv: over the records
    carrying any identifier (the ones identity can resolve), and over all records with anonymous
    ones counted as singletons."""
    import polars as pl

    from assets.identity.evaluation import truth_scores

    truth = pl.read_csv(data_dir / "landing" / "_truth" / "records.csv", infer_schema=False)
    with duckdb.connect(str(data_dir / "marts.duckdb"), read_only=True) as con:
        mapped = con.sql("SELECT source, record_id, unified_id, method FROM identity_map").pl()
    everyone = mapped.with_columns(unified_id=pl.coalesce("unified_id", pl.concat_str("source", "record_id")))
    return {
        "records_mapped": mapped.height,
        "anonymous_records": mapped.filter(pl.col("method") == "anonymous").height,
        "identifiable": truth_scores(mapped.filter(pl.col("unified_id").is_not_null()), truth),
        "all_records": truth_scores(everyone, truth),
    }


def phase(name: str, args: list[str], env: dict, script: str = __file__) -> dict:
    """``script --child name args…`` in a process of its own (so its peak is its own); its last line
    of output, as JSON."""
    out = subprocess.run(
        [sys.executable, script, "--child", name, *args], env=env, cwd=REPO, capture_output=True, text=True
    )
    if out.returncode != 0:
        sys.stderr.write(out.stdout[-5000:] + out.stderr[-5000:])
        raise SystemExit(f"{name} failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_arguments(description: str, workdir_name: str) -> argparse.ArgumentParser:
    """The options of a benchmark that generates (or reuses) a landing zone and runs the pipeline on it;
    the default workdir is /tmp/<workdir_name>-<people>."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=None, help=f"default: /tmp/{workdir_name}-<people>")
    parser.add_argument(
        "--reuse-landing", action="store_true", help="skip generation if the landing zone exists"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser


def fresh_run_env(workdir: Path) -> dict:
    """The environment of a full run in ``workdir``: its data and Dagster folders, with no warehouse
    or analysts' file left from an earlier run (the landing zone stays)."""
    env = {**os.environ, "CDP_DATA_DIR": str(workdir / "data"), "DAGSTER_HOME": str(workdir / "dagster")}
    (workdir / "dagster").mkdir(parents=True, exist_ok=True)
    for stale in ("warehouse.duckdb", "warehouse.duckdb.wal", "marts.duckdb"):
        (workdir / "data" / stale).unlink(missing_ok=True)
    return env


def generate_unless_reused(args: argparse.Namespace, workdir: Path, env: dict, report: dict) -> None:
    if not (args.reuse_landing and (workdir / "data" / "landing" / "_truth").exists()):
        report["generate"] = phase("generate", ["--people", str(args.people), "--seed", str(args.seed)], env)


def main() -> None:
    parser = run_arguments(__doc__ or "", "o2o-cdp-bench")
    parser.add_argument("--child", choices=["generate", "run"], help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "generate":
        print(json.dumps(child_generate(args.people, args.seed)))
        return
    if args.child == "run":
        print(json.dumps(child_run()))
        return

    workdir = (args.workdir or Path(f"/tmp/o2o-cdp-bench-{args.people}")).resolve()
    env = fresh_run_env(workdir)
    report: dict = {
        "people": args.people,
        "seed": args.seed,
        "date": date.today().isoformat(),
        "cores": os.cpu_count(),
    }
    generate_unless_reused(args, workdir, env, report)
    report["pipeline"] = phase("run", [], env)
    if not report["pipeline"]["success"]:
        raise SystemExit(f"the pipeline run failed: {json.dumps(report['pipeline'], indent=2)}")
    report["identity"] = identity_quality(workdir / "data")
    with duckdb.connect(str(workdir / "data" / "marts.duckdb"), read_only=True) as con:
        report["mart_rows"] = {
            t: con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0]
            for (t,) in con.execute("SHOW TABLES").fetchall()
        }
    emit(report, args.json)


if __name__ == "__main__":
    main()
