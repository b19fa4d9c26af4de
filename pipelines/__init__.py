"""o2o-cdp's Dagster code location: configuration, resources, jobs, schedules, sensors and the CLI."""

import os
import warnings

# Polars allocates through its own jemalloc, which it sets to purge freed pages lazily (MADV_FREE
# after 0.5 s, returned for good after 1 s more): lazily freed pages stay resident until the kernel
# is short of memory. At 2 M people the identity engine frees gigabytes between steps, and those
# pages raised its measured peak (benchmarks/bench_identity_phases.py). Returning them outright, on
# jemalloc's own background thread, keeps the process near what it holds. Set before polars loads
# (this package is imported first by the CLI and by the Dagster code location; polars appends it to
# its own settings, so it wins); a deployment's own setting wins over this one.
os.environ.setdefault("_RJEM_MALLOC_CONF", "background_thread:true,muzzy_decay_ms:0")

# BackfillPolicy.single_run() (one run for a range of daily partitions) is marked beta; it is the
# documented way to ingest many days in one run, so its warning is noise for our users.
warnings.filterwarnings("ignore", message=".*backfill_policy.*", category=Warning)
