"""Benchmark: identity's steps on Spark against the DuckDB engine's, on a built warehouse.

Reads the identity inputs of a warehouse a ``cdp run`` built (read-only) and writes them as Parquet,
as a Spark deployment holds them. Then, each in a process of its own:
- the DuckDB engine's full run (``engine.prepare``, then ``resolve_prepared``);
- Spark's (``local[2]`` unless ``--master``): ``spark_outputs.resolve_on_spark`` — normalise, guard,
  stitch, match and merge, describe, give ids, build links, candidates and history — then its
  graph-sized outputs written as Parquet.
Reports each side's seconds per phase and peak memory (Spark's: the driver's Python and its JVM),
and compares every output row for row (floats within 1e-9 relative): the resolved nodes with their
unified ids, methods, rules and confidences, the links, the refused values, the review candidates
and the history; and the people as a partition of nodes.

    .venv/bin/python benchmarks/bench_spark_identity.py --workdir /tmp/o2o-cdp-spark-10000

Each run is a first one (no earlier ids); the incremental run is not on Spark yet."""

import argparse
import json
import os
import time
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl
from bench_end_to_end import peak_rss_mb, phase
from reporting import emit  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

SALT = "bench"


def child_inputs(workdir: Path, out: Path) -> dict:
    """The graph's nodes and raw values as the identity step numbers them, written by DuckDB."""
    from assets.identity import DuckDBGraphStore
    from assets.identity.graph_sql import ATTRIBUTES_SQL, CURRENT_NODES_SQL, NUMBER_ALL_SQL

    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(workdir / "data" / "warehouse.duckdb"), read_only=True) as con:
        con.execute("SET memory_limit = '4GB'")  # DuckDB would take 80 % of RAM for the join; it spills
        con.execute(f"SET temp_directory = '{out / 'duckdb.tmp'}'")
        store = DuckDBGraphStore(con)
        con.execute(store.sql(CURRENT_NODES_SQL))
        con.execute(NUMBER_ALL_SQL)
        nodes = "SELECT node, source, record_id, record_type, observed_at FROM identity_nodes"
        for name, query in (("nodes", nodes), ("attributes", store.sql(ATTRIBUTES_SQL))):
            con.execute(f"COPY ({query}) TO '{out / name}.parquet' (FORMAT parquet)")
        counts = {
            name: con.execute(f"SELECT count(*) FROM '{out / name}.parquet'").fetchall()[0][0]
            for name in ("nodes", "attributes")
        }
    return {**counts, "seconds": round(time.perf_counter() - started, 1), "peak_rss_mb": round(peak_rss_mb())}


OUTPUTS = ("resolved", "links", "guarded", "candidates", "history")
"""The outputs of a full identity run each engine writes, compared row for row."""
RESOLVED_AT = datetime(2026, 12, 1, 6)  # both runs stamp their rows alike


def child_duckdb(out: Path) -> dict:
    from assets.identity.engine import prepare, resolve_prepared
    from assets.identity.settings import identity_config
    from assets.identity.steps import Clock

    config, clock = identity_config(), Clock()
    nodes, attributes = pl.read_parquet(out / "nodes.parquet"), pl.read_parquet(out / "attributes.parquet")
    graph = prepare(nodes, attributes, config, SALT, clock)
    run = resolve_prepared(
        graph,
        config,
        previous=None,
        run_id="bench",
        resolved_at=RESOLVED_AT,
        previous_model=None,
        clock=clock,
    )
    for name in OUTPUTS:
        getattr(run, name).write_parquet(out / f"duckdb_{name}.parquet")
    figures = {k: run.stats[k] for k in ("users", "match_candidates", "clusters_joined_by_matching")}
    return {"seconds": clock.laps, **figures, "peak_rss_mb": round(peak_rss_mb())}


def child_spark(out: Path, master: str, driver_memory: str, buckets: int) -> dict:
    from assets.common.pipeline_config import Spark
    from assets.common.spark import spark_session
    from assets.identity.settings import identity_config
    from assets.identity.spark_outputs import resolve_on_spark

    config = identity_config()
    spark = spark_session(Spark(master=master, conf={"spark.driver.memory": driver_memory}), out)
    began = time.perf_counter()
    run = resolve_on_spark(
        spark,
        spark.read.parquet(str(out / "nodes.parquet")),
        spark.read.parquet(str(out / "attributes.parquet")),
        config,
        salt=SALT,
        run_id="bench",
        resolved_at=RESOLVED_AT,
        buckets=buckets,
    )
    for name in ("resolved", "links"):
        getattr(run, name).write.mode("overwrite").parquet(str(out / f"spark_{name}"))
    for name in ("guarded", "candidates", "history"):
        getattr(run, name).write_parquet(out / f"spark_{name}.parquet")
    laps = {k.removeprefix("seconds_"): v for k, v in run.stats.items() if k.startswith("seconds_")}
    laps["writing"] = round(time.perf_counter() - began - sum(laps.values()), 2)
    jvm = jvm_peak_mb(spark)
    spark.stop()
    figures = {k: run.stats[k] for k in ("users", "match_candidates", "clusters_joined_by_matching")}
    return {"seconds": laps, **figures, "peak_rss_mb": round(peak_rss_mb()), "jvm_peak_mb": jvm}


def jvm_peak_mb(spark: object) -> int | None:
    """The peak resident memory of the session's JVM (local mode: all of Spark but the Python
    workers), from /proc while it still runs."""
    pid = spark.sparkContext._gateway.proc.pid  # type: ignore[attr-defined]  # pyspark's launched JVM
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return None


def _read(out: Path, side: str, name: str) -> pl.DataFrame:
    written = out / f"{side}_{name}.parquet"
    return pl.read_parquet(written if written.exists() else out / f"{side}_{name}" / "*.parquet")


def compare(out: Path) -> dict:
    """Each output's rows on both engines and what differs; the people as a partition of nodes."""
    from assets.identity.spark_check import frame_differences, partition_agreement, same_groups

    report: dict = {}
    for name in OUTPUTS:
        duck, spark = _read(out, "duckdb", name), _read(out, "spark", name)
        report[name] = {"rows": (duck.height, spark.height), "differences": frame_differences(duck, spark)}
    people = [
        _read(out, side, "resolved").select(
            "node", det=pl.coalesce("unified_id", pl.col("node").cast(pl.String))
        )
        for side in ("duckdb", "spark")
    ]
    report["people_identical"] = same_groups(*people)
    report["people_agreement"] = partition_agreement(*people)  # pairwise F1, 1.0 when identical
    return report


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
    parser.add_argument(
        "--sides",
        nargs="+",
        choices=["duckdb", "spark"],
        default=["duckdb", "spark"],
        help="the engines to run (both to compare them)",
    )
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
    for side in ("inputs", *args.sides):
        report[side] = phase(side, options, dict(os.environ), script=__file__)
    if set(args.sides) == {"duckdb", "spark"}:
        report["comparison"] = compare(out)
    emit(report, args.json)


if __name__ == "__main__":
    main()
