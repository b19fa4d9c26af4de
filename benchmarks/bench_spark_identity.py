"""Benchmark: identity's steps on Spark against the DuckDB engine's, on a built warehouse.

Reads the identity inputs of a warehouse a ``cdp run`` built (read-only) and writes them as Parquet,
as a Spark deployment holds them. Then, each in a process of its own:
- the DuckDB engine: ``engine.prepare`` (normalise, pins, guards), ``stitching.stitch``, then the
  whole full run on the prepared graph (``resolve_prepared``: matching, merging, ids, links);
- Spark (``local[2]`` unless ``--master``): ``prepare_on_spark``, ``stitch_on_spark`` and
  ``people_on_spark`` (matching with the per-pair work on the executors, the merge on the driver).
Reports each side's seconds per phase and peak memory (Spark's: the largest of the driver's Python
and its JVM), and compares the deterministic clusters (pairwise agreement: 1.0 when the partitions
are identical), the links that built them, the identifiers the guards refused, and the people: the
partition of records into persons (pairwise agreement of Spark's against the DuckDB engine's).

    .venv/bin/python benchmarks/bench_spark_identity.py --workdir /tmp/o2o-cdp-spark-10000

Stable ids, links of matches, history and the incremental run are not on Spark yet."""

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
    """The graph's nodes and raw values as the identity step numbers them, written by DuckDB."""
    from assets.identity import DuckDBGraphStore
    from assets.identity.graph_store import ATTRIBUTES_SQL, CURRENT_NODES_SQL, NUMBER_ALL_SQL

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


def child_duckdb(out: Path) -> dict:
    from assets.identity.engine import prepare, resolve_prepared, stitch_prepared
    from assets.identity.settings import identity_config
    from assets.identity.steps import Clock

    config, clock = identity_config(), Clock()
    nodes, attributes = pl.read_parquet(out / "nodes.parquet"), pl.read_parquet(out / "attributes.parquet")
    graph = prepare(nodes, attributes, config, SALT, clock)
    det = stitch_prepared(graph, config)
    clock.lap("stitch")
    run = resolve_prepared(
        graph, config, previous=None, run_id="bench", resolved_at=None, previous_model=None, clock=Clock()
    )
    clock.lap("whole_run_after_prepare")  # stitching again, matching, merging, ids, links
    run.resolved.select("node", "unified_id").write_parquet(out / "duckdb_people.parquet")
    det.det.write_parquet(out / "duckdb_det.parquet")
    det.links.write_parquet(out / "duckdb_links.parquet")
    graph.guard.shared.write_parquet(out / "duckdb_shared.parquet")
    figures = {k: run.stats[k] for k in ("match_candidates", "clusters_joined_by_matching")}
    return {"seconds": clock.laps, **figures, "peak_rss_mb": round(peak_rss_mb())}


def child_spark(out: Path, master: str, driver_memory: str, buckets: int) -> dict:
    from assets.common.pipeline_config import Spark
    from assets.common.spark import spark_session
    from assets.identity.settings import identity_config
    from assets.identity.spark_prepare import prepare_on_spark
    from assets.identity.spark_resolve import people_on_spark
    from assets.identity.spark_stitching import stitch_on_spark

    config = identity_config()
    spark = spark_session(Spark(master=master, conf={"spark.driver.memory": driver_memory}), out)
    laps: dict[str, float] = {}
    last = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal last
        laps[name], last = round(time.perf_counter() - last, 2), time.perf_counter()

    nodes = spark.read.parquet(str(out / "nodes.parquet"))
    graph = prepare_on_spark(spark, nodes, spark.read.parquet(str(out / "attributes.parquet")), config, SALT)
    graph.shared.write.mode("overwrite").parquet(str(out / "spark_shared"))
    lap("prepare")
    stitched = stitch_on_spark(graph, nodes, config, buckets=buckets)
    stitched.det.write.mode("overwrite").parquet(str(out / "spark_det"))
    stitched.links.write.mode("overwrite").parquet(str(out / "spark_links"))
    lap("stitch")
    people = people_on_spark(spark, graph, stitched, nodes, config)
    people.clusters.select("node", "cluster").write.mode("overwrite").parquet(str(out / "spark_people"))
    lap("match_and_merge")
    jvm = jvm_peak_mb(spark)
    spark.stop()
    figures = {"match_candidates": people.scored.candidates, "clusters_joined_by_matching": people.merges}
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
    return pl.read_parquet(
        out / f"{side}_{name}.parquet" if side == "duckdb" else out / f"spark_{name}" / "*.parquet"
    )


def compare(out: Path) -> dict:
    from assets.identity.spark_check import partition_agreement, same_groups

    duck, spark = _read(out, "duckdb", "det"), _read(out, "spark", "det")
    people = _read(out, "duckdb", "people").select(
        "node", det=pl.coalesce("unified_id", pl.col("node").cast(pl.String))
    )
    found = _read(out, "spark", "people").rename({"cluster": "det"})
    links, shared = (
        [_read(out, side, name).sort(pl.all()) for side in ("duckdb", "spark")]
        for name in ("links", "shared")
    )
    return {
        "nodes": (duck.height, spark.height),
        "deterministic_clusters": (duck.get_column("det").n_unique(), spark.get_column("det").n_unique()),
        "deterministic_identical": same_groups(duck, spark),
        "deterministic_agreement": partition_agreement(duck, spark),
        "links_identical": links[0].equals(links[1]),
        "shared_identifiers": (shared[0].height, shared[1].height),
        "shared_identical": shared[0].equals(shared[1]),
        "people": (people.get_column("det").n_unique(), found.get_column("det").n_unique()),
        "people_nodes": (people.height, found.height),
        "people_identical": same_groups(people, found),
        "people_agreement": partition_agreement(people, found),
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
