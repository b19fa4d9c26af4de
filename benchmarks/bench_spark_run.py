"""Benchmark: one landing zone run by two deployments, one on DuckDB and one on Spark.

Generates N people (or reuses the landing zone), runs ``cdp run``'s whole pipeline on DuckDB, then
the same pipeline with ``CDP_ENGINE=spark`` (``local[2]`` unless told otherwise) in a data folder of
its own, with the same landing zone and salt; then holds every table the Spark deployment published
(its Parquet exports and its analysts' file) to the DuckDB deployment's, and compares the
activation files. Reports each run's seconds per step and peak memory (Spark's: the Python driver
and the JVM, each at its peak).

    .venv/bin/python benchmarks/bench_spark_run.py --people 10000 --json benchmarks/results/spark-run-10k.json

Each run is a process of its own, so its peak is its own."""

from __future__ import annotations

import argparse
import json
import shutil
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

# benchmarks/ is on sys.path when run as a script
from bench_end_to_end import child_run, fresh_run_env, generate_unless_reused, phase, run_arguments
from bench_spark_parity import spark_arguments, spark_config
from reporting import emit  # noqa: E402

if TYPE_CHECKING:
    import polars as pl

SALT = "bench-spark-run-salt"


def child_spark_run() -> dict:
    """The pipeline on Spark, then the JVM's peak resident memory (read before the process ends)."""
    from pyspark.sql import SparkSession

    figures = child_run()
    session = SparkSession.getActiveSession()
    if session is not None:
        pid = session.sparkContext._gateway.proc.pid  # type: ignore[union-attr]
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
        peak_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
        figures["jvm_peak_rss_mb"] = round(peak_kb / 1024)
        session.stop()
    return figures


def compared(duck: Path, spark: Path) -> dict:
    """Every published table of the Spark deployment held to the DuckDB one's, and the activation files."""
    from assets.exports.publish import exported_tables
    from assets.identity.spark_check import partition_agreement, same_groups
    from pipelines.spark_parity import compare_published

    started = time.perf_counter()
    tables = sorted(exported_tables(spark / "exports"))
    results = compare_published(
        (duck / "exports", duck / "marts.duckdb"),
        (spark / "exports", spark / "marts.duckdb"),
        tables,
        spark,
        own_runs=True,
    )
    activation = [_activation_files(root / "exports" / "activation") for root in (duck, spark)]
    clusters = [_clusters(root / "exports") for root in (duck, spark)]
    return {
        "identity_map_pairwise_agreement": partition_agreement(*clusters),
        "identity_map_same_groups": same_groups(*clusters),
        "seconds": round(time.perf_counter() - started, 1),
        "tables": len(tables),
        "only_on_one_side": sorted(set(tables) ^ set(exported_tables(duck / "exports"))),
        "compared": len(results),
        "differing": {r.relation: r.differences[:2] for r in results if r.differences},
        "rows": sum(r.spark_rows for r in results if r.relation.startswith("exports/")),
        "activation_files": len(activation[1]),
        "activation_differing": sorted(
            k for k in activation[0] | activation[1] if activation[0].get(k) != activation[1].get(k)
        ),
    }


def _clusters(exports: Path) -> pl.DataFrame:
    """Each identified record of the exported identity map and its person, as (node, det)."""
    import polars as pl

    from assets.exports.publish import exported_tables

    with duckdb.connect() as con:
        mapped = con.sql(
            "SELECT source || '/' || record_id AS node, unified_id AS det "
            f"FROM {exported_tables(exports)['identity_map']} WHERE unified_id IS NOT NULL"
        ).pl()
    return mapped.cast({"node": pl.String, "det": pl.String})


def _activation_files(folder: Path) -> dict[str, str]:
    texts = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        text = path.read_text(encoding="utf-8")
        if path.name == "manifest.json":  # the run's id and time differ by construction
            manifest = json.loads(text)
            text = json.dumps({k: v for k, v in manifest.items() if k not in ("run_id", "created_at")})
        texts[str(path.relative_to(folder))] = text
    return texts


def main() -> None:
    parser = run_arguments(__doc__ or "", "o2o-cdp-spark-run")
    spark_arguments(parser, driver_memory="8g")
    parser.add_argument("--child", choices=["spark-run"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "spark-run":
        print(json.dumps(child_spark_run()))
        return

    workdir = (args.workdir or Path(f"/tmp/o2o-cdp-spark-run-{args.people}")).resolve()
    env = fresh_run_env(workdir) | {"CDP_HASH_SALT": SALT}
    # both deployments' first exports: a reused workdir's deltas would be against its earlier run
    shutil.rmtree(workdir / "data" / "exports", ignore_errors=True)
    report: dict = {"people": args.people, "seed": args.seed, "date": date.today().isoformat()}
    report["spark_settings"] = {"master": args.master, "driver_memory": args.driver_memory}
    generate_unless_reused(args, workdir, env, report)
    report["duckdb"] = phase("run", [], env, script=str(Path(__file__).with_name("bench_end_to_end.py")))
    spark_root = workdir / "spark-deployment"
    shutil.rmtree(spark_root, ignore_errors=True)
    (spark_root / "dagster").mkdir(parents=True)
    spark_env = env | {
        "CDP_ENGINE": "spark",
        "CDP_DATA_DIR": str(spark_root / "data"),
        "CDP_LANDING_DIR": str(workdir / "data" / "landing"),
        "DAGSTER_HOME": str(spark_root / "dagster"),
        "CDP_CONFIG_DIR": str(spark_config(workdir, args.master, args.driver_memory)),
    }
    report["spark"] = phase("spark-run", [], spark_env, script=__file__)
    report["parity"] = compared(workdir / "data", spark_root / "data")
    emit(report, args.json)


if __name__ == "__main__":
    main()
