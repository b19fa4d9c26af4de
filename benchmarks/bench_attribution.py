"""Benchmark the attribution engine on synthetic touchpoints and conversions.

    .venv/bin/python benchmarks/bench_attribution.py                      # 1 M touchpoints, 200 k conversions
    .venv/bin/python benchmarks/bench_attribution.py --touchpoints 100000 --conversions 20000 --channels 16
    .venv/bin/python benchmarks/bench_attribution.py --workdir /tmp/o2o-cdp-bench-200000  # generated people

With ``--workdir`` (a warehouse bench_end_to_end.py built) the input is the deployment's own: the
kpi_attribution asset's work from reading fct_events / fct_orders to writing kpi_attribution and
attribution_paths with config/kpis.yaml (Markov orders 1-3, channel and campaign level), then each
Markov order alone on the same paths.

Synthetic data: users with a skewed number of touches over 180 days on ``--channels`` channels of
unequal popularity (a third of the touches carry one of 40 campaigns); most conversions follow one of
the user's touches by a few days, the rest are spread at random (some of them direct).

Times are wall seconds on this machine: path building, each model alone (``attribute`` restricted
to it), Shapley forced to permutation sampling, all models in one call, and the Markov transition
matrix. Peak RSS is the process's maximum resident set."""

import argparse
import resource
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from reporting import emit  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from assets.kpis.attribution import (  # noqa: E402
    MODELS,
    AttributionSettings,
    attribute,
    build_paths,
    channel_sets,
    journeys_table,  # noqa: E402
    markov_transition_matrix,
)

BASE_CHANNELS = [
    "ad_click:feed",
    "ad_click:search",
    "social:douyin",
    "social:xiaohongshu",
    "social:wechat",
    "kol:weibo",
    "expo",
    "store_visit",
    "sms",
    "email",
]
START_US = int((datetime(2026, 1, 1) - datetime(1970, 1, 1)).total_seconds()) * 1_000_000
SPAN_US = 180 * 86_400_000_000


def synthesise(
    touchpoints: int, conversions: int, channels: int, seed: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    names = (BASE_CHANNELS + [f"channel_{i:02d}" for i in range(len(BASE_CHANNELS), channels)])[:channels]
    popularity = 1.0 / np.arange(1, channels + 1) ** 0.8
    popularity /= popularity.sum()
    users = max(1, touchpoints // 4)
    user = np.minimum(rng.zipf(1.6, touchpoints) - 1, users - 1) + rng.integers(0, users, touchpoints)
    user %= users
    occurred = rng.integers(0, SPAN_US, touchpoints)
    channel = rng.choice(channels, size=touchpoints, p=popularity)
    campaign = np.where(rng.random(touchpoints) < 1 / 3, rng.integers(0, 40, touchpoints), -1)
    tp = pl.DataFrame(
        {
            "unified_id": pl.Series(user).cast(pl.String).str.zfill(8).str.pad_start(9, "U"),
            "occurred_at": pl.Series(occurred + START_US).cast(pl.Datetime("us")),
            "channel": pl.Series(channel).replace_strict(dict(enumerate(names)), return_dtype=pl.String),
            "campaign_id": pl.Series(campaign).replace_strict(
                {-1: None} | {i: f"cmp_{i:03d}" for i in range(40)}, return_dtype=pl.String
            ),
        }
    )
    following = int(conversions * 0.85)  # after one of the user's touches, by an exponential few days
    picked = rng.integers(0, touchpoints, following)
    conv_user = np.r_[user[picked], rng.integers(0, users * 2, conversions - following)]
    conv_time = np.r_[
        occurred[picked] + (rng.exponential(3.0, following) * 86_400e6).astype(np.int64),
        rng.integers(0, SPAN_US, conversions - following),
    ]
    cv = pl.DataFrame(
        {
            "unified_id": pl.Series(conv_user).cast(pl.String).str.zfill(8).str.pad_start(9, "U"),
            "converted_at": pl.Series(conv_time + START_US).cast(pl.Datetime("us")),
            "conversion_id": pl.Series(np.arange(conversions)).cast(pl.String).str.pad_start(9, "O"),
            "value": np.round(rng.gamma(2.0, 150.0, conversions), 2),
        }
    )
    return tp, cv


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, round(time.perf_counter() - started, 3)


def warehouse_run(workdir: Path) -> dict:
    """The asset's work on a generated deployment, then each Markov order alone (both levels)."""
    import duckdb

    from assets.kpis.attribution.config import load_attribution_config
    from assets.kpis.attribution_marts import (
        touchpoint_filter,
        touchpoints_from_events,
        write_kpi_attribution,
    )

    with duckdb.connect(str(workdir / "data" / "warehouse.duckdb")) as con:
        people = con.execute("SELECT count(*) FROM marts.dim_users").fetchall()[0][0]
        (mart, summary), seconds = timed(write_kpi_attribution, con)
        asset_peak_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        config = load_attribution_config()
        taken, params = touchpoint_filter(config)
        touchpoints = touchpoints_from_events(
            con.sql(
                f"SELECT * FROM marts.fct_events WHERE unified_id IS NOT NULL AND {taken}", params=params
            ).pl(),
            config.touchpoints,
        )
        cv = con.sql("""SELECT source || ':' || order_id AS conversion_id,
                               coalesce(unified_id, 'anonymous:' || source || ':' || order_id) AS unified_id,
                               ordered_at AS converted_at, gross_amount AS value
                        FROM marts.fct_orders WHERE order_type = 'sale' AND NOT is_cancelled""").pl()
        sales = con.execute("""SELECT count(*), sum(gross_amount) FROM marts.fct_orders
                               WHERE order_type = 'sale' AND NOT is_cancelled""").fetchall()[0]
    settings = config.settings
    paths, build_seconds = timed(build_paths, touchpoints, cv, settings)
    per_order = {}
    for order in settings.markov_orders:
        only = AttributionSettings.from_dict(
            {**settings.as_dict(), "models": ["markov"], "markov_orders": [order]}
        )
        _, per_order[f"markov_order_{order}_both_levels"] = timed(attribute, paths, only)
    totals = mart.group_by("model").agg(
        pl.col("attributed_conversions").sum(), pl.col("attributed_value").sum()
    )
    return {
        "people": people,
        **summary,
        "models": totals.height,
        "attribution_rows": mart.height,
        "journeys_rows": journeys_table(paths).height,
        "max_reconciliation_error_vs_fct_orders": {
            "conversions": float((totals["attributed_conversions"] - sales[0]).abs().max()),
            "value": float((totals["attributed_value"] - sales[1]).abs().max()),
        },
        "kpi_attribution_asset_seconds": seconds,
        "kpi_attribution_asset_peak_rss_mb": asset_peak_mb,
        "seconds_on_the_same_paths": {"build_paths": build_seconds, **per_order},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--touchpoints", type=int, default=1_000_000)
    parser.add_argument("--conversions", type=int, default=200_000)
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--workdir", type=Path, help="benchmark the asset on this generated deployment instead"
    )
    args = parser.parse_args()
    if args.workdir:
        emit(warehouse_run(args.workdir), args.json)
        return

    (tp, cv), generate_seconds = timed(
        synthesise, args.touchpoints, args.conversions, args.channels, args.seed
    )
    settings = AttributionSettings(markov_orders=(1, 2, 3))
    paths, build_seconds = timed(build_paths, tp, cv, settings)
    seconds = {"build_paths": build_seconds}
    for model in MODELS:
        _, seconds[model] = timed(attribute, paths, AttributionSettings(models=(model,)))
    _, seconds["shapley_sampled_2000_permutations"] = timed(
        attribute, paths, AttributionSettings(models=("shapley",), shapley_exact_max_channels=0)
    )
    result, seconds["attribute_all_models"] = timed(attribute, paths, settings, include_direct=True)
    matrix, seconds["markov_transition_matrix"] = timed(markov_transition_matrix, paths)

    totals = result.group_by("model").agg(
        pl.col("attributed_conversions").sum(), pl.col("attributed_value").sum()
    )
    report = {
        "touchpoints": tp.height,
        "conversions": cv.height,
        "channels": args.channels,
        **paths.summary(),
        "distinct_channel_sets": len(channel_sets(paths)[2]),
        "attribution_rows": result.height,
        "transition_matrix_rows": matrix.height,
        "max_reconciliation_error": {
            "conversions": float((totals["attributed_conversions"] - cv.height).abs().max()),
            "value": float((totals["attributed_value"] - cv["value"].sum()).abs().max()),
        },
        "generate_seconds": generate_seconds,
        "seconds": seconds,
        "build_paths_plus_all_models_seconds": round(build_seconds + seconds["attribute_all_models"], 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    emit(report, args.json)


if __name__ == "__main__":
    main()
