"""Time the sample-data generator: rows, files, wall seconds and peak memory.

python benchmarks/bench_generate.py --people 200000 --out /tmp/o2o-bench
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generator import generate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=None, help="landing folder (default: a temporary one)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="o2o-bench-") as scratch:
        out = args.out or Path(scratch)
        began = time.perf_counter()
        summary = generate(args.people, args.seed, out)
        wall = time.perf_counter() - began
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    events = sum(
        n
        for feed, n in summary.rows_per_feed.items()
        if feed not in ("ecommerce_orders", "pos_transactions", "expo_registrations")
    )
    print(f"people            {summary.people:>12,}")
    for feed, rows in summary.rows_per_feed.items():
        print(f"{feed:<18}{rows:>12,}")
    print(f"identity records  {summary.identity_records:>12,}")
    print(f"event rows        {events:>12,}")
    print(f"files             {summary.files:>12,}")
    print(f"wall seconds      {wall:>12.1f}")
    print(f"peak RSS MiB      {peak_mib:>12,.0f}")


if __name__ == "__main__":
    main()
