"""Benchmark: the peak memory of each phase of a full identity run on a built warehouse.

    .venv/bin/python benchmarks/bench_identity_phases.py --warehouse /tmp/L/data/warehouse.duckdb

Runs what the identity asset runs for a full rebuild (``resolve_warehouse``, DuckDB at the
deployment's identity memory limit, the tables written), in this process, and samples its resident
memory every 0.2 s. Each phase the engine times (normalise, guards, deterministic, matching,
ids_and_links; the writes after) is printed as soon as it ends, with its peak and the memory left
when it ended, so a run stopped by a watchdog still says how far it got. It writes the identity
tables of the warehouse it is given: point it at a copy, or at a benchmark's own workdir. Polars'
allocator runs with the pipeline's settings (``pipelines/__init__.py``), imported before polars."""

# isort: off
import pipelines  # noqa: F401  (first: the pipeline's allocator settings, read when polars loads)

# isort: on
import argparse
import threading
import time
from datetime import datetime
from pathlib import Path

import duckdb
from reporting import emit  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from assets.common.pipeline_config import pipeline_config
from assets.identity import steps
from assets.identity.run import resolve_warehouse
from assets.identity.settings import identity_config


def resident_gb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**30


class PhasePeaks:
    """The peak resident memory since the last phase ended, recorded at each of the engine's laps."""

    def __init__(self) -> None:
        self.peak, self.phases = 0.0, []
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, resident_gb())
            time.sleep(0.2)

    def lap(self, phase: str) -> None:
        row = {"phase": phase, "peak_gb": round(self.peak, 2), "after_gb": round(resident_gb(), 2)}
        self.phases.append(row | {"at": time.strftime("%H:%M:%S")})
        print(self.phases[-1], flush=True)
        self.peak = 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    peaks = PhasePeaks()
    timed = steps.Clock.lap

    def lap(clock: steps.Clock, phase: str) -> None:
        timed(clock, phase)
        peaks.lap(phase)

    steps.Clock.lap = lap  # type: ignore[method-assign]  # the engine's own phase boundaries
    started = time.perf_counter()
    with duckdb.connect(
        str(args.warehouse), config={"memory_limit": pipeline_config().identity_memory_limit}
    ) as con:
        outcome = resolve_warehouse(
            con, identity_config(), salt="bench", run_id="phases", now=datetime.now(), full_rebuild=True
        )
    peaks.lap("writes")
    stats = outcome.resolution.stats
    report = {
        "seconds": round(time.perf_counter() - started, 1),
        "phases": peaks.phases,
        "records": stats["records"],
        "actors": stats["actors"],
        "users": stats["users"],
        "match_candidates": stats["match_candidates"],
    }
    emit(report, args.json)


if __name__ == "__main__":
    main()
