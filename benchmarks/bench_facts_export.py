"""Benchmark: what rewriting every day of a fact's Parquet export costs, against the writers one could
use instead — the floor a daily run pays while identity's re-resolution touches every day.

A daily run re-links some older records to other people (merges), so their events, spread over the
whole history, change ``unified_id``: at 200 k people 286 k events on every one of the 184 days.
Every day folder of ``exports/fct_events/`` then holds changed rows and is rewritten. This script
times, on a warehouse a run has built (``bench_scaling.py`` leaves one per tier):

- ``export_by_day``: the export's own code, every day rewritten (no fingerprints held);
- one ``COPY`` of the whole table to a single file (what a partitioned layout costs beyond it);
- pyarrow's ``write_dataset`` with the same Hive partitioning, from an Arrow table DuckDB returns.

    .venv/bin/python benchmarks/bench_facts_export.py \
        --warehouse /tmp/o2o-cdp-scale-200000/data/warehouse.duckdb
"""

import argparse
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
from reporting import emit  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from assets.exports.publish import export_by_day


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return round(time.perf_counter() - started, 2)


def writers(con: duckdb.DuckDBPyConnection, out: Path, fact: str, column: str) -> dict[str, float]:
    """Seconds of each way to write ``marts.<fact>``, each into a folder of its own under ``out``."""
    seconds = {"export_by_day (every day)": timed(lambda: export_by_day(con, out / "exports", fact, column))}
    single = out / "single.parquet"
    seconds["one COPY, single file"] = timed(
        lambda: con.execute(f"COPY marts.{fact} TO '{single}' (FORMAT parquet, COMPRESSION zstd)")
    )

    def arrow_dataset() -> None:
        rows = con.sql(f"SELECT * FROM marts.{fact}").to_arrow_table()
        partitioning = ds.partitioning(pa.schema([rows.schema.field(column)]), flavor="hive")
        options = ds.ParquetFileFormat().make_write_options(compression="zstd")
        ds.write_dataset(
            rows, out / "arrow", format="parquet", partitioning=partitioning, file_options=options,
            max_partitions=100_000,
        )  # fmt: skip

    seconds["pyarrow write_dataset (fetch included)"] = timed(arrow_dataset)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--fact", default="fct_events")
    parser.add_argument("--column", default="event_date")
    parser.add_argument("--memory-limit", default="4GB", help="DuckDB's limit, as the exports step sets it")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    con = duckdb.connect(str(args.warehouse), read_only=True)
    con.execute(f"SET memory_limit = '{args.memory_limit}'")
    rows, days = con.execute(
        f"SELECT count(*), count(DISTINCT {args.column}) FROM marts.{args.fact}"
    ).fetchall()[0]
    out = Path(tempfile.mkdtemp(prefix="bench-facts-export-"))
    try:
        seconds = writers(con, out, args.fact, args.column)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    emit(
        {
            "date": date.today().isoformat(),
            "fact": args.fact,
            "rows": rows,
            "days": days,
            "seconds": seconds,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        },
        args.json,
    )


if __name__ == "__main__":
    main()
