"""Every mart's checksum after a whole run on a generated landing zone: proof that a refactoring
changed no answer.

    .venv/bin/python benchmarks/mart_checksums.py --repo /path/to/old/checkout --workdir /tmp/ck-old \\
        --json old.json
    .venv/bin/python benchmarks/mart_checksums.py --repo . --workdir /tmp/ck-new --compare old.json

The script generates a landing zone with the *current* checkout's generator (so both sides read the
same files), then runs ``cdp run`` of ``--repo`` (its own ``.venv``) on it with a fixed salt, and
checksums every table of schema ``marts`` order-independently. Columns saying *when* or *in which
run* something was computed differ between runs by design and are left out (:data:`RUN_COLUMNS`).
It uses only DuckDB and the ``cdp`` command, so it runs against checkouts older than this file.
``--compare`` exits non-zero on any difference and names the marts that differ."""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parent.parent
RUN_COLUMNS = (
    "resolved_at",
    "computed_at",
    "id_created_at",
    "first_linked_run",
    "run_id",
    "happened_at",
    "generated_at",
    "checked_at",
    "loaded_at",
    "_loaded_at",
)
SALT = "mart-checksums"


def checksum(con: duckdb.DuckDBPyConnection, table: str, ignored: frozenset[str] = frozenset()) -> list:
    """(rows, md5 of the sorted row hashes) of ``table`` without its run-time and ``ignored``
    columns. Floating-point values count to 10 significant digits: a sum of floats may differ in
    its last bits with the order rows arrive in, which no analyst can see and no answer depends on."""
    described = con.execute(f"DESCRIBE SELECT * FROM {table}").fetchall()
    kept = ", ".join(
        f"format('{{:.10g}}', \"{name}\")" if kind in ("DOUBLE", "FLOAT") else f'"{name}"'
        for name, kind, *_ in described
        if name not in RUN_COLUMNS and name not in ignored
    )
    rows, digest = con.execute(f"""SELECT count(*), coalesce(md5(string_agg(h, '' ORDER BY h)), '')
                                   FROM (SELECT md5(CAST(row({kept}) AS VARCHAR)) AS h
                                         FROM {table})""").fetchone()
    return [rows, digest]


def run(
    repo: Path, workdir: Path, people: int, seed: int, ignored: dict[str, frozenset[str]]
) -> tuple[dict[str, list], float]:
    """Generate, run ``repo``'s pipeline on it, and checksum its marts; also the run's seconds."""
    shutil.rmtree(workdir, ignore_errors=True)
    env = {
        **os.environ,
        "CDP_DATA_DIR": str(workdir / "data"),
        "CDP_HASH_SALT": SALT,
        "DAGSTER_HOME": str(workdir / "dagster"),
        "DO_NOT_TRACK": "1",
    }
    env.pop("CDP_LANDING_DIR", None)
    subprocess.run(
        [str(REPO / ".venv/bin/cdp"), "generate", "--people", str(people), "--seed", str(seed)],
        check=True,
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
    )
    started = time.perf_counter()
    subprocess.run(
        [str(repo / ".venv/bin/cdp"), "run"], check=True, env=env, cwd=repo, stdout=subprocess.DEVNULL
    )
    seconds = time.perf_counter() - started
    with duckdb.connect(str(workdir / "data" / "warehouse.duckdb"), read_only=True) as con:
        names = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts' ORDER BY 1"
            ).fetchall()
        ]
        return {
            name: checksum(con, f'marts."{name}"', ignored.get(name, frozenset())) for name in names
        }, seconds


def compare(sums: dict[str, list], reference: dict[str, list]) -> list[str]:
    """The marts whose rows differ, and marts present on one side only."""
    return sorted(name for name in set(sums) | set(reference) if sums.get(name) != reference.get(name))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repo", type=Path, default=REPO, help="checkout whose .venv/bin/cdp runs the pipeline"
    )
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="write the checksums here")
    parser.add_argument("--compare", type=Path, help="checksums of a reference run; exit 1 on a difference")
    parser.add_argument(
        "--ignore",
        default="",
        help="mart.column,... left out (values a reference run "
        "could not reproduce, e.g. ties it broke at random)",
    )
    args = parser.parse_args()
    ignored: dict[str, set[str]] = {}
    for item in filter(None, args.ignore.split(",")):
        mart, column = item.strip().split(".", 1)
        ignored.setdefault(mart, set()).add(column)
    sums, seconds = run(
        args.repo.resolve(),
        args.workdir,
        args.people,
        args.seed,
        {mart: frozenset(columns) for mart, columns in ignored.items()},
    )
    print(f"{len(sums)} marts checksummed after a {seconds:.1f} s run of {args.repo}")
    if args.json:
        args.json.write_text(json.dumps(sums, indent=1, sort_keys=True))
    if args.compare:
        differing = compare(sums, json.loads(args.compare.read_text()))
        print("identical" if not differing else f"DIFFERENT: {', '.join(differing)}")
        return 1 if differing else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
