"""Benchmark the CLV run on a warehouse the end-to-end benchmark built: holdout diagnostics of the three
frequency models (fit on the calibration period, per-frequency and tracking tables), the model choice,
the chosen model and Gamma-Gamma refitted up to the profile date with standard errors, predictions,
and the four marts written.

    .venv/bin/python benchmarks/bench_end_to_end.py --people 200000      # builds /tmp/o2o-cdp-bench-200000
    .venv/bin/python benchmarks/bench_clv_diagnostics.py --workdir /tmp/o2o-cdp-bench-200000

Times are wall seconds on this machine; peak RSS is this process's."""

import argparse
import resource
import sys
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from reporting import emit  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from assets.profiles.assets import write_clv  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with duckdb.connect(str(args.workdir / "data" / "warehouse.duckdb")) as con:
        orders = con.execute("""SELECT count(*) FROM marts.fct_orders WHERE unified_id IS NOT NULL
                                AND order_type = 'sale' AND NOT is_cancelled""").fetchall()[0][0]
        people = con.execute("SELECT count(*) FROM marts.dim_users").fetchall()[0][0]
        started = time.perf_counter()
        run = write_clv(con)
        seconds = time.perf_counter() - started
    meta = run.metadata
    chosen = run.fits.filter(run.fits["fit"] == "prediction")
    report = {
        "people": people,
        "orders": orders,
        "buyers": run.predictions.height,
        "repeat_buyers": int((run.predictions["frequency"] > 0).sum()),
        "model": meta["model"],
        "calibration_end": meta["calibration_end"],
        "holdout_end": meta["holdout_end"],
        "holdout_errors": meta["holdout_errors"],
        "zero_value_purchases": meta["zero_value_purchases"],
        "customers_without_spend": meta["customers_without_spend"],
        "spend_frequency_correlation": meta.get("spend_frequency_correlation"),
        "parameters": {
            f"{r['model']}.{r['parameter']}": [round(r["estimate"], 4), round(r["std_error"], 4)]
            for r in chosen.iter_rows(named=True)
        },
        "rows": {
            "user_clv": run.predictions.height,
            "clv_model_fits": run.fits.height,
            "clv_holdout_frequency": run.frequency.height,
            "clv_holdout_tracking": run.tracking.height,
        },
        "clv_fit_and_diagnostics_seconds": round(seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    emit(report, args.json)


if __name__ == "__main__":
    main()
