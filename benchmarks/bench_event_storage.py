"""Benchmark: milliseconds to store one asset materialisation in Dagster's SQLite event log, the stock
storage against ours (``pipelines/event_storage.py``, which keeps an engine per database file).

A run stores every event one by one except a partitioned step's batch: a daily run stores about 800,
the dbt marts step alone 280 (an output, a materialisation or a check result per dbt node), so a
millisecond per event is most of a second per run.

    .venv/bin/python benchmarks/bench_event_storage.py --events 500
"""

import argparse
import os
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

import dagster as dg
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.events.log import EventLogEntry
from dagster._core.instance.ref import InstanceRef
from reporting import emit  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

STORAGES = {
    "stock": ("dagster._core.storage.event_log", "SqliteEventLogStorage"),
    "ours": ("pipelines.event_storage", "BatchedSqliteEventLogStorage"),
}


def materialization(i: int) -> EventLogEntry:
    event = DagsterEvent(
        event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
        job_name="materialize_all",
        step_key="dbt_marts",
        event_specific_data=StepMaterializationData(
            dg.AssetMaterialization(asset_key=["marts", f"model_{i % 40}"], metadata={"rows": i})
        ),
    )
    return EventLogEntry(
        error_info=None,
        level=20,
        user_message="",
        run_id="bench",
        timestamp=time.time(),
        step_key="dbt_marts",
        job_name="materialize_all",
        dagster_event=event,
    )


def ms_per_event(storage: tuple[str, str], events: int) -> float:
    home = Path(tempfile.mkdtemp(prefix="bench-event-storage-"))
    (home / "dagster.yaml").write_text(
        f"telemetry: {{enabled: false}}\nevent_log_storage:\n  module: {storage[0]}\n  class: {storage[1]}\n"
        f"  config: {{base_dir: {home / 'history' / 'runs'}}}\n",
        encoding="utf-8",
    )
    os.environ["DAGSTER_HOME"] = str(home)
    log = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))).event_log_storage
    log.store_event(materialization(0))  # the run's database created outside the timing
    started = time.perf_counter()
    for i in range(events):
        log.store_event(materialization(i))
    return round((time.perf_counter() - started) / events * 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    emit(
        {
            "date": date.today().isoformat(),
            "events": args.events,
            "ms_per_event": {name: ms_per_event(storage, args.events) for name, storage in STORAGES.items()},
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        },
        args.json,
    )


if __name__ == "__main__":
    main()
