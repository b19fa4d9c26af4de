"""Benchmark: the identity stage on a built warehouse — wall time, peak memory, match quality
against the generator's truth, and id stability when one more day of data arrives.

    .venv/bin/python benchmarks/bench_identity.py --workdir /tmp/o2o-cdp-bench-200000

Runs the engine exactly as the identity asset does (same SQL inputs), read-only: nothing in the
warehouse changes. Stability: resolve everything before the last day, then everything with that
result as the previous run, and count the people with no record on the last day who kept their
unified id."""

import argparse
import resource
import time
from pathlib import Path

import duckdb
import polars as pl
from reporting import emit  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from assets.identity.assets import ATTRIBUTES_SQL, NODES_SQL
from assets.identity.engine import resolve
from assets.identity.evaluation import truth_scores
from pipelines.config import identity_config


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    data = args.workdir / "data"
    config = identity_config()

    started = time.perf_counter()
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        con.execute(NODES_SQL)
        nodes = con.sql("SELECT * FROM identity_nodes").pl()
        attributes = con.sql(ATTRIBUTES_SQL).pl()
    loaded = time.perf_counter() - started
    truth = pl.read_csv(data / "landing" / "_truth" / "records.csv", infer_schema=False)

    started = time.perf_counter()
    full = resolve(nodes, attributes, config, salt="bench", run_id="full")
    resolve_seconds = time.perf_counter() - started
    resolved = full.resolved
    report = {
        "nodes": nodes.height, "attribute_rows": attributes.height, "load_seconds": round(loaded, 1),
        "resolve_seconds": round(resolve_seconds, 1), "peak_rss_mb": round(peak_rss_mb()),
        "stats": full.stats, "match_weights": full.match_weights,
        "identifiable": truth_scores(resolved.filter(pl.col("unified_id").is_not_null()), truth),
        "all_records": truth_scores(resolved.with_columns(
            unified_id=pl.coalesce("unified_id", pl.concat_str("source", "record_id"))), truth),
    }

    # Stability: the day before, then one more day.
    last_day = nodes.get_column("observed_at").max().date()
    before = nodes.filter(pl.col("observed_at").dt.date() < last_day)
    earlier = resolve(before, attributes.join(before.select("node"), on="node"), config, salt="bench", run_id="day-1")
    previous = earlier.resolved.join(nodes.select("node", "source", "record_id", "record_type"),
                                     on=["source", "record_id", "record_type"]).filter(
        pl.col("unified_id").is_not_null()).select("node", "unified_id", "id_created_at", "first_linked_run")
    started = time.perf_counter()
    later = resolve(nodes, attributes, config, salt="bench", previous=previous, run_id="day-2")
    incremental_seconds = time.perf_counter() - started
    keys = ["source", "record_id", "record_type"]
    pairs = (earlier.resolved.select(*keys, pl.col("unified_id").alias("before"))
             .join(later.resolved.select(*keys, pl.col("unified_id").alias("after")), on=keys)
             .filter(pl.col("before").is_not_null() & (pl.col("record_type") == "record"))
             .join(truth, on=["source", "record_id"]))
    new_people = truth.join(nodes.filter(pl.col("observed_at").dt.date() == last_day), on=["source", "record_id"]) \
        .get_column("person_id").unique()
    unchanged = pairs.filter(~pl.col("person_id").is_in(new_people.implode()))
    kept = unchanged.group_by("person_id").agg((pl.col("before") == pl.col("after")).all().alias("kept"))
    report["stability"] = {
        "last_day": str(last_day), "records_on_last_day": nodes.height - before.height,
        "people_without_new_records": kept.height,
        "people_keeping_their_id": int(kept.get_column("kept").sum()),
        "share_keeping_their_id": round(float(kept.get_column("kept").mean()), 5),
        "history_events": later.history.height,
        "second_run_seconds": round(incremental_seconds, 1),
    }
    report["peak_rss_mb"] = round(peak_rss_mb())
    emit(report, args.json)


if __name__ == "__main__":
    main()
