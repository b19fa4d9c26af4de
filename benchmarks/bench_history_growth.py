"""What a daily run spends on the dated profile snapshots as their history grows.

dim_users_snapshot gains a day of every user's profile each run (570 k rows a day at 200 k people).
For each history length, the benchmark builds a warehouse of that many days of snapshots, publishes
them (Parquet by day, the analysts' file), adds the next day, and times what the daily run then
does with the table: its export, its analysts' file patch, and its dbt uniqueness test (the SQL dbt
compiles for it). Beside each, the same work done over the whole history (every day hashed, the
test grouping every row), which is what it cost before the days were fingerprinted one by one.

    .venv/bin/python benchmarks/bench_history_growth.py --users 570000 --days 7 30 90 --json F

Seconds are wall seconds on this machine; peak RSS is this process's."""

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from reporting import dbt_env, emit  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from assets.common.paths import DBT_PROJECT_DIR  # noqa: E402
from assets.exports.analyst_db import publish_analyst_db  # noqa: E402
from assets.exports.days import day_fingerprints  # noqa: E402
from assets.exports.publish import export_parquet, fingerprint  # noqa: E402

TEST = "unique_combination_dim_users_snapshot_as_of__unified_id"
WHOLE_TEST = "SELECT as_of, unified_id FROM marts.dim_users_snapshot GROUP BY ALL HAVING count(*) > 1"
SNAPSHOT_DAY = """SELECT DATE '2026-01-01' + {day} AS as_of,
    'u' || lpad(range::VARCHAR, 8, '0') AS unified_id,
    ['champions', 'loyal', 'at_risk', 'lost'][1 + range % 4] AS rfm_segment,
    ['high', 'mid', 'low'][1 + range % 3] AS value_class,
    ['gold', 'silver', NULL][1 + range % 3] AS member_tier,
    ['new', 'growing', 'mature', 'dormant'][1 + (range + {day}) % 4] AS lifecycle_stage,
    ['active', 'loyal', 'casual'][1 + range % 3] AS user_layer, 1 + range % 5 AS r_score,
    1 + (range // 5) % 5 AS f_score, 1 + (range // 25) % 5 AS m_score,
    round((range % 9973) * 1.37 + {day}, 2) AS net_spend, range % 17 AS orders
FROM range({users})"""


def compiled_test(workdir: Path) -> str:
    """The SQL dbt compiles for the snapshot's uniqueness test against this warehouse."""
    target = workdir / "dbt"
    subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "compile", "--select", TEST, "--quiet"]
        + ["--target-path", str(target), "--profiles-dir", str(DBT_PROJECT_DIR)],
        cwd=DBT_PROJECT_DIR,
        env=dbt_env(workdir),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return next(target.glob(f"compiled/**/{TEST}.sql")).read_text(encoding="utf-8")


def timed(work) -> float:
    started = time.perf_counter()
    work()
    return round(time.perf_counter() - started, 2)


def history(days: int, users: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="o2o-cdp-history-") as folder:
        workdir = Path(folder)
        (workdir / "data").mkdir()
        con = duckdb.connect(str(workdir / "data" / "warehouse.duckdb"))
        con.execute("CREATE SCHEMA marts")
        con.execute(f"CREATE TABLE marts.dim_users_snapshot AS {SNAPSHOT_DAY.format(day=0, users=users)}")
        for day in range(1, days):
            con.execute(f"INSERT INTO marts.dim_users_snapshot {SNAPSHOT_DAY.format(day=day, users=users)}")
        con.execute(f"CREATE TABLE marts.dim_users AS SELECT DATE '2026-01-01' + {days - 1} AS profile_as_of")
        exports, analysts = workdir / "exports", workdir / "marts.duckdb"
        export_parquet(con, exports, ["dim_users_snapshot"])
        publish_analyst_db(con, analysts, ["dim_users_snapshot"])
        con.execute(f"INSERT INTO marts.dim_users_snapshot {SNAPSHOT_DAY.format(day=days, users=users)}")
        con.execute(f"UPDATE marts.dim_users SET profile_as_of = DATE '2026-01-01' + {days}")
        con.close()
        test_sql = compiled_test(workdir)
        con = duckdb.connect(str(workdir / "data" / "warehouse.duckdb"))
        report = {
            "days_held": days + 1,
            "rows": con.execute("SELECT count(*) FROM marts.dim_users_snapshot").fetchall()[0][0],
            "export_s": timed(lambda: export_parquet(con, exports, ["dim_users_snapshot"])),
            "analysts_file_s": timed(lambda: publish_analyst_db(con, analysts, ["dim_users_snapshot"])),
            "uniqueness_test_s": timed(lambda: con.execute(test_sql).fetchall()),
            "whole_history": {
                "every_day_hashed_s": timed(lambda: day_fingerprints(con, "dim_users_snapshot", "as_of")),
                "whole_table_hashed_s": timed(lambda: fingerprint(con, "marts.dim_users_snapshot")),
                "uniqueness_test_s": timed(lambda: con.execute(WHOLE_TEST).fetchall()),
            },
        }
        con.close()
        return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=570_000)
    parser.add_argument("--days", type=int, nargs="+", default=[7, 30, 90])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    runs = [history(days, args.users) for days in args.days]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    emit({"users_per_day": args.users, "runs": runs, "peak_rss_mb": peak_mb}, args.json)


if __name__ == "__main__":
    main()
