"""Benchmark: the marts built on Spark against DuckDB's, on one generated landing zone.

Generates N people (or reuses the landing zone), runs the whole pipeline on DuckDB, then, on Spark
(``local[2]`` unless pipeline.yaml says otherwise): publishes the feeds' raw rows as day partitions
with the canonical views over them, builds staging, resolves identity from it, builds every other
dbt seed and model, fits CLV and credits attribution on the driver from Spark's tables, publishes
the exports and the analysts' file, and compares each with DuckDB's (``cdp parity``).
Reports the DuckDB run's dbt steps next to Spark's build, each side's peak memory (the Spark side's
is the largest of the Python driver and its JVM), and the tables that differ.

    .venv/bin/python benchmarks/bench_spark_parity.py --people 10000 --json benchmarks/results/spark-10k.json

Each side runs in a process of its own, so its peak is its own."""

import argparse
import json
import shutil
import time
from datetime import date
from pathlib import Path

# benchmarks/ is on sys.path when run as a script
from bench_end_to_end import fresh_run_env, generate_unless_reused, peak_rss_mb, phase, run_arguments
from reporting import emit  # noqa: E402


def child_parity() -> dict:
    from assets.common.warehouse import Warehouse
    from pipelines.environment import prepare_environment
    from pipelines.spark_parity import check_parity

    prepare_environment()
    started = time.perf_counter()
    report = check_parity(Warehouse())
    models = {node.split(".")[-1]: s for node, s in report.node_seconds.items() if node.startswith("model.")}
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "phases_seconds": {name: round(seconds, 1) for name, seconds in report.seconds.items()},
        "peak_rss_mb": round(peak_rss_mb()),
        "inputs_rows": report.published,
        "models_compared": len(report.models),
        "models_differing": {m.relation: m.differences for m in report.models if m.differences},
        "exports_compared": len(report.exports),  # Spark's exports and analysts' file against DuckDB's
        "exports_differing": {m.relation: m.differences for m in report.exports if m.differences},
        "dbt_errors": report.dbt_errors[-5:],
        "agrees": report.agrees,
        "dbt_seconds_by_kind": seconds_by_kind(report.node_seconds),
        "slowest_models": dict(sorted(models.items(), key=lambda item: -item[1])[:8]),
    }


def seconds_by_kind(node_seconds: dict[str, float]) -> dict[str, float]:
    """dbt's time on Spark by node kind (model, test, unit_test, seed)."""
    kinds: dict[str, float] = {}
    for node, seconds in node_seconds.items():
        kinds[node.split(".")[0]] = round(kinds.get(node.split(".")[0], 0) + seconds, 1)
    return kinds


def spark_config(workdir: Path, master: str, driver_memory: str) -> Path:
    """The sample deployment's config, with this benchmark's Spark master and driver memory."""
    import yaml

    from assets.common.paths import CONFIG_DIR

    folder = workdir / "config"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(CONFIG_DIR, folder)
    settings = yaml.safe_load((folder / "pipeline.yaml").read_text(encoding="utf-8"))
    spark = settings.setdefault("spark", {})
    spark["master"] = master
    spark.setdefault("conf", {})["spark.driver.memory"] = driver_memory
    (folder / "pipeline.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    return folder


def spark_arguments(parser: argparse.ArgumentParser, driver_memory: str) -> None:
    """The options that aim a benchmark's Spark session (see :func:`spark_config`)."""
    parser.add_argument("--master", default="local[2]", help="the Spark master (local[N] or a cluster URL)")
    parser.add_argument(
        "--driver-memory", default=driver_memory, help="the Spark driver's heap (local mode: all of Spark)"
    )


def main() -> None:
    parser = run_arguments(__doc__ or "", "o2o-cdp-spark")
    spark_arguments(parser, driver_memory="4g")
    parser.add_argument("--child", choices=["parity"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "parity":
        print(json.dumps(child_parity()))
        return

    workdir = (args.workdir or Path(f"/tmp/o2o-cdp-spark-{args.people}")).resolve()
    env = fresh_run_env(workdir)  # a full run on each side
    shutil.rmtree(workdir / "data" / "spark", ignore_errors=True)
    env["CDP_CONFIG_DIR"] = str(spark_config(workdir, args.master, args.driver_memory))
    report: dict = {"people": args.people, "seed": args.seed, "date": date.today().isoformat()}
    report["spark_settings"] = {"master": args.master, "driver_memory": args.driver_memory}
    generate_unless_reused(args, workdir, env, report)
    duckdb_run = phase("run", [], env)
    if not duckdb_run["success"]:
        raise SystemExit(f"the DuckDB run failed: {json.dumps(duckdb_run, indent=2)}")
    steps = duckdb_run["steps_seconds"]
    report["duckdb"] = {
        "run_seconds": round(duckdb_run["seconds"], 1),
        "dbt_seconds": round(steps.get("dbt_staging", 0) + steps.get("dbt_marts", 0), 1),
        "peak_rss_mb": round(duckdb_run["peak_rss_mb"]),
    }
    report["spark"] = phase("parity", [], env, script=__file__)
    emit(report, args.json)


if __name__ == "__main__":
    main()
