"""Reference checksums of identity's output on a generated landing zone, full and incremental.

    .venv/bin/python benchmarks/identity_checksums.py --workdir /tmp/identity-ref --json ref.json
    .venv/bin/python benchmarks/identity_checksums.py --workdir /tmp/identity-new \
        --compare benchmarks/results/identity-checksums-3000-seed7.json

A refactoring of the identity engine must not change a single resolution. This script proves it
the way a deployment would notice: generate a landing zone, hold back its last day, ``cdp run``
(a full identity build), put the day back and ``cdp run`` again (an incremental identity run), and
checksum ``identity.resolved_records``, ``identity.links``, ``identity.history`` and
``marts.identity_map`` after each run. Columns saying *when* or *in which run* something happened
differ between runs by design and are left out (see :data:`RUN_COLUMNS`); the salt is fixed so that
hashed keys agree across work directories. ``--compare`` exits non-zero on any difference.
``benchmarks/results/identity-checksums-3000-seed7.json`` holds the figures of the engine before it
became a library (3,000 people, seed 7, the defaults): any later engine must reproduce them.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parent.parent
TABLES = ("identity.resolved_records", "identity.links", "identity.history", "marts.identity_map")
RUN_COLUMNS = ("resolved_at", "id_created_at", "first_linked_run", "run_id", "happened_at")
SALT = "identity-checksums"


def checksum(con: duckdb.DuckDBPyConnection, table: str) -> list:
    """(rows, md5 of the ordered row hashes) of ``table`` without its run-time columns."""
    columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {table}").fetchall()]
    kept = ", ".join(f'"{c}"' for c in columns if c not in RUN_COLUMNS)
    rows, digest = con.execute(f"""
        SELECT count(*), coalesce(md5(string_agg(h, '' ORDER BY h)), '')
        FROM (SELECT md5(CAST(row({kept}) AS VARCHAR)) AS h FROM {table})""").fetchone()
    return [rows, digest]


def snapshot(warehouse: Path) -> dict:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        sums = {table: checksum(con, table) for table in TABLES}
        sums["modes"] = [
            m for (m,) in con.execute("SELECT mode FROM identity.state ORDER BY resolved_at").fetchall()
        ]
    return sums


def cdp(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [str(REPO / ".venv" / "bin" / "cdp"), *args], env=env, check=True, cwd=REPO, stdout=subprocess.DEVNULL
    )


def last_day_folders(landing: Path) -> list[Path]:
    """Every feed's folder of the newest delivery day."""
    days = [
        d
        for feed in landing.iterdir()
        if feed.is_dir() and not feed.name.startswith(("_", "reference"))
        for d in feed.iterdir()
        if d.is_dir()
    ]
    newest = max(d.name for d in days)
    return [d for d in days if d.name == newest]


def run(workdir: Path, people: int, seed: int) -> dict:
    data = workdir / "data"
    env = {
        **os.environ,
        "CDP_DATA_DIR": str(data),
        "DAGSTER_HOME": str(workdir / "dagster_home"),
        "CDP_HASH_SALT": SALT,
        "DO_NOT_TRACK": "1",
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    env.pop("CDP_LANDING_DIR", None)
    shutil.rmtree(workdir, ignore_errors=True)
    (workdir / "dagster_home").mkdir(parents=True)
    cdp(env, "generate", "--people", str(people), "--seed", str(seed))
    held = workdir / "held"
    moved = []
    for folder in last_day_folders(data / "landing"):
        target = held / folder.parent.name / folder.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(folder, target)
        moved.append((target, folder))
    cdp(env, "run")
    full = snapshot(data / "warehouse.duckdb")
    for target, folder in moved:
        shutil.move(target, folder)
    cdp(env, "run")
    return {
        "people": people,
        "seed": seed,
        "held_back_day": moved[0][1].name,
        "full": full,
        "incremental": snapshot(data / "warehouse.duckdb"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--people", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="write the checksums here")
    parser.add_argument("--compare", type=Path, help="checksums of a reference run; exit 1 on any difference")
    args = parser.parse_args()
    result = run(args.workdir, args.people, args.seed)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    if args.compare:
        reference = json.loads(args.compare.read_text(encoding="utf-8"))
        differing = [
            f"{run}:{table}"
            for run in ("full", "incremental")
            for table in reference[run]
            if reference[run][table] != result[run][table]
        ]
        print("identical to the reference" if not differing else f"DIFFERENT: {', '.join(differing)}")
        sys.exit(1 if differing else 0)


if __name__ == "__main__":
    main()
