"""Benchmark every KPI asset on a warehouse the end-to-end benchmark already built: the dbt KPI
models (kpi_daily, kpi_retention, kpi_funnel, kpi_funnel_transitions, kpi_o2o, kpi_experiments,
scorecard_channels, scorecard_kols), the attribution engine (kpi_attribution) and the audiences
(audience_members).

    .venv/bin/python benchmarks/bench_end_to_end.py --people 200000      # builds /tmp/o2o-cdp-bench-200000
    .venv/bin/python benchmarks/bench_kpis.py --workdir /tmp/o2o-cdp-bench-200000

Times are wall seconds on this machine; the dbt figure includes dbt's start-up (~10 s), as in the
pipeline. Peak RSS covers this process and its dbt subprocess."""

import argparse
import json
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

from assets.activation.settings import load_activation_config  # noqa: E402
from assets.kpis.attribution_marts import write_kpi_attribution  # noqa: E402
from assets.kpis.audiences import audience_members  # noqa: E402

KPI_MODELS = "path:models/marts/kpis"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    warehouse = args.workdir / "data" / "warehouse.duckdb"
    env = dbt_env(args.workdir)

    with tempfile.TemporaryDirectory() as target:
        started = time.perf_counter()
        out = subprocess.run(
            [
                str(Path(sys.executable).with_name("dbt")),
                "run",
                "--select",
                KPI_MODELS,
                "--target-path",
                target,
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
        timings = json.loads((Path(target) / "run_results.json").read_text())["results"]

    with duckdb.connect(str(warehouse)) as con:
        started = time.perf_counter()
        mart, summary = write_kpi_attribution(con)
        attribution_seconds = time.perf_counter() - started
        started = time.perf_counter()
        members = audience_members(con, load_activation_config().audiences)
        con.execute("CREATE OR REPLACE TABLE marts.audience_members AS SELECT * FROM members")
        audience_seconds = time.perf_counter() - started
        people = con.execute("SELECT count(DISTINCT unified_id) FROM marts.identity_map").fetchall()[0][0]
        events = con.execute("SELECT count(*) FROM marts.fct_events").fetchall()[0][0]
        orders = con.execute("SELECT count(*) FROM marts.fct_orders").fetchall()[0][0]

    peak = (
        max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        )
        / 1024
    )
    report = {
        "unified_users": people,
        "events": events,
        "orders": orders,
        "touchpoints": summary["touchpoints"],
        "conversions": summary["conversions"],
        "audience_members": members.height,
        "dbt_kpi_models_seconds": round(dbt_seconds, 2),
        "dbt_model_seconds": {r["unique_id"].split(".")[-1]: round(r["execution_time"], 2) for r in timings},
        "kpi_attribution_seconds": round(attribution_seconds, 2),
        "audience_members_seconds": round(audience_seconds, 2),
        "total_seconds": round(dbt_seconds + attribution_seconds + audience_seconds, 2),
        "peak_rss_mb": round(peak),
    }
    emit(report, args.json)


if __name__ == "__main__":
    main()
