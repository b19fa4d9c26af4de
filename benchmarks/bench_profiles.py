"""Benchmark the profile assets on a warehouse the end-to-end benchmark already built:
every profile dbt model (facts, RFM, lifecycle, tags, dim_users, snapshot) and the CLV fit.

    .venv/bin/python benchmarks/bench_end_to_end.py --people 200000      # builds /tmp/o2o-cdp-bench-200000
    .venv/bin/python benchmarks/bench_profiles.py --workdir /tmp/o2o-cdp-bench-200000

Times are wall seconds on this machine; peak RSS covers this process and its dbt subprocess."""

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from reporting import dbt_env, emit  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from assets.profiles.assets import write_clv  # noqa: E402

PROFILE_MODELS = (
    "int_profile_date int_user_order_facts int_user_event_facts int_user_facts user_rfm "
    "user_lifecycle user_tags dim_users dim_users_snapshot"
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    warehouse = args.workdir / "data" / "warehouse.duckdb"
    env = dbt_env(args.workdir)

    started = time.perf_counter()
    out = subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            "run",
            "--select",
            *PROFILE_MODELS.split(),
            "--profiles-dir",
            str(REPO / "dbt_project"),
        ],
        cwd=REPO / "dbt_project",
        env=env,
        capture_output=True,
        text=True,
    )
    dbt_seconds = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(out.stdout[-4000:])
    timings = json.loads((REPO / "dbt_project" / "target" / "run_results.json").read_text())["results"]

    started = time.perf_counter()
    with duckdb.connect(str(warehouse)) as con:
        as_of = con.execute("SELECT as_of FROM intermediate.int_profile_date").fetchall()[0][0]
        run = write_clv(con)
        predictions = run.predictions
        orders = con.execute("""SELECT count(*) FROM marts.fct_orders WHERE unified_id IS NOT NULL
                                AND order_type = 'sale' AND NOT is_cancelled""").fetchall()[0][0]
        users = con.execute("SELECT count(*) FROM marts.dim_users").fetchall()[0][0]
        tags = con.execute("SELECT count(*) FROM marts.user_tags").fetchall()[0][0]
        rfm = con.execute("SELECT count(*) FROM marts.user_rfm").fetchall()[0][0]
    clv_seconds = time.perf_counter() - started

    peak = (
        max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        )
        / 1024
    )
    report = {
        "users": users,
        "user_tags_rows": tags,
        "user_rfm_rows": rfm,
        "user_clv_rows": predictions.height,
        "orders_fitted": orders,
        "as_of": str(as_of),
        "dbt_profile_models_seconds": round(dbt_seconds, 2),
        "dbt_model_seconds": {r["unique_id"].split(".")[-1]: round(r["execution_time"], 2) for r in timings},
        "clv_fit_diagnose_and_predict_seconds": round(clv_seconds, 2),
        "total_seconds": round(dbt_seconds + clv_seconds, 2),
        "peak_rss_mb": round(peak),
        "clv_model": run.metadata["model"],
        "clv_parameters": {k: round(v, 4) for k, v in run.metadata.items() if isinstance(v, float)},
    }
    emit(report, args.json)


if __name__ == "__main__":
    main()
