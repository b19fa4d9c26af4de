"""Benchmark: identity's deterministic stage on Spark against the DuckDB engine's, on a built warehouse.

Reads the identity inputs of a warehouse a ``cdp run`` built (read-only) and writes them as Parquet,
as a Spark deployment holds them. Then, each in a process of its own:
- the DuckDB engine: ``engine.prepare`` (normalise, pins, guards) and ``stitching.stitch``;
- Spark (``local[2]`` unless ``--master``): ``prepare_on_spark`` and ``stitch_on_spark``.
Reports each side's seconds per phase and peak memory (Spark's: the largest of the driver's Python
and its JVM), and compares the deterministic clusters (pairwise agreement: 1.0 when the partitions
are identical), the links that built them and the identifiers the guards refused.

    .venv/bin/python benchmarks/bench_spark_identity.py --workdir /tmp/o2o-cdp-spark-10000

Matching, stable ids and the incremental run are not on Spark yet, so they are not compared."""

import argparse
import json
import os
import time
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
from bench_end_to_end import peak_rss_mb, phase
from reporting import emit  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

SALT = "bench"


def child_inputs(workdir: Path, out: Path) -> dict:
    from assets.identity import DuckDBGraphStore

    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(workdir / "data" / "warehouse.duckdb"), read_only=True) as con:
        nodes, attributes = DuckDBGraphStore(con).load_all()
    nodes.write_parquet(out / "nodes.parquet")
    attributes.write_parquet(out / "attributes.parquet")
    return {"nodes": nodes.height, "attributes": attributes.height, "seconds": time.perf_counter() - started}


def child_duckdb(out: Path) -> dict:
    from assets.identity.engine import prepare, stitch_prepared
    from assets.identity.settings import identity_config
    from assets.identity.steps import Clock

    config, clock = identity_config(), Clock()
    nodes, attributes = pl.read_parquet(out / "nodes.parquet"), pl.read_parquet(out / "attributes.parquet")
    graph = prepare(nodes, attributes, config, SALT, clock)
    det = stitch_prepared(graph, config)
    clock.lap("stitch")
    det.det.write_parquet(out / "duckdb_det.parquet")
    det.links.write_parquet(out / "duckdb_links.parquet")
    graph.guard.shared.write_parquet(out / "duckdb_shared.parquet")
    return {"seconds": clock.laps, "peak_rss_mb": round(peak_rss_mb())}


def child_spark(out: Path, master: str, driver_memory: str, buckets: int) -> dict:
    from assets.common.pipeline_config import Spark
    from assets.common.spark import spark_session, to_polars
    from assets.identity.settings import identity_config
    from assets.identity.spark_prepare import prepare_on_spark
    from assets.identity.spark_stitching import stitch_on_spark

    config = identity_config()
    settings = Spark(master=master, conf={"spark.driver.memory": driver_memory})
    spark = spark_session(settings, out)
    laps, started = {}, time.perf_counter()
    nodes = spark.read.parquet(str(out / "nodes.parquet"))
    graph = prepare_on_spark(spark, nodes, spark.read.parquet(str(out / "attributes.parquet")), config, SALT)
    shared = to_polars(graph.shared)
    laps["prepare"] = time.perf_counter() - started
    stitched = stitch_on_spark(graph, nodes, config, buckets=buckets)
    det, links = to_polars(stitched.det), to_polars(stitched.links)
    laps["stitch"] = time.perf_counter() - started - laps["prepare"]
    det.write_parquet(out / "spark_det.parquet")
    links.write_parquet(out / "spark_links.parquet")
    shared.write_parquet(out / "spark_shared.parquet")
    spark.stop()
    return {"seconds": {k: round(v, 2) for k, v in laps.items()}, "peak_rss_mb": round(peak_rss_mb())}


def compare(out: Path) -> dict:
    from assets.identity.spark_check import partition_agreement

    duck, spark = pl.read_parquet(out / "duckdb_det.parquet"), pl.read_parquet(out / "spark_det.parquet")
    links = [
        pl.read_parquet(out / f"{side}_links.parquet").sort("a", "b", "rule") for side in ("duckdb", "spark")
    ]
    shared = [
        pl.read_parquet(out / f"{side}_shared.parquet").sort("identifier") for side in ("duckdb", "spark")
    ]
    return {
        "nodes": (duck.height, spark.height),
        "clusters": (duck.get_column("det").n_unique(), spark.get_column("det").n_unique()),
        "pairwise_agreement": partition_agreement(duck, spark),
        "links": (links[0].height, links[1].height),
        "links_identical": links[0].equals(links[1]),
        "shared_identifiers": (shared[0].height, shared[1].height),
        "shared_identical": shared[0].equals(shared[1]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--workdir", type=Path, required=True, help="a workdir whose data/warehouse.duckdb a run built"
    )
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="8g")
    parser.add_argument("--buckets", type=int, default=16, help="groups of components stitched apart")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", choices=["inputs", "duckdb", "spark"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    out = args.workdir.resolve() / "spark-identity"
    if args.child:
        children = {
            "inputs": lambda: child_inputs(args.workdir.resolve(), out),
            "duckdb": lambda: child_duckdb(out),
            "spark": lambda: child_spark(out, args.master, args.driver_memory, args.buckets),
        }
        print(json.dumps(children[args.child]()))
        return
    options = ["--workdir", str(args.workdir), "--master", args.master, "--driver-memory", args.driver_memory]
    options += ["--buckets", str(args.buckets)]
    report: dict = {"date": date.today().isoformat(), "master": args.master, "buckets": args.buckets}
    report["inputs"] = phase("inputs", options, dict(os.environ), script=__file__)
    report["duckdb"] = phase("duckdb", options, dict(os.environ), script=__file__)
    report["spark"] = phase("spark", options, dict(os.environ), script=__file__)
    report["comparison"] = compare(out)
    emit(report, args.json)


if __name__ == "__main__":
    main()
