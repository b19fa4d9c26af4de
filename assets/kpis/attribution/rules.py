"""Rule-based models: each touch of a converting path gets a fixed share of the conversion.

first_touch, last_touch, linear
time_decay       weight 2^(-Δt / half_life) with Δt the (fractional) days from touch to conversion,
                 normalised per path
position_based   U-shaped: ``position_first`` to the first touch, ``position_last`` to the last, the
                 rest spread evenly over the middle; one touch takes 100 %; two touches share in
                 proportion first : last (50/50 with the defaults)
Rows are per (channel, campaign_id) of the touches.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from assets.kpis.attribution.paths import Paths
from assets.kpis.attribution.settings import OUTPUT_SCHEMA, AttributionSettings


def _rule_weights(settings: AttributionSettings) -> dict[str, pl.Expr]:
    pos, n = pl.col("position").cast(pl.Int64), pl.col("touches").cast(pl.Int64)
    first, last = settings.position_first, settings.position_last
    pair_first = first / (first + last) if first + last > 0 else 0.5
    return {
        "first_touch": (pos == 0).cast(pl.Float64),
        "last_touch": (pos == n - 1).cast(pl.Float64),
        "linear": 1.0 / n,
        "time_decay": pl.col("_decay") / pl.col("_decay").sum().over("path_id"),
        "position_based": (
            pl.when(n == 1)
            .then(1.0)
            .when(n == 2)
            .then(pl.when(pos == 0).then(pair_first).otherwise(1.0 - pair_first))
            .when(pos == 0)
            .then(first)
            .when(pos == n - 1)
            .then(last)
            .otherwise((1.0 - first - last) / (n - 2).cast(pl.Float64))
        ),
    }


def rule_based_credits(paths: Paths, models: Sequence[str], settings: AttributionSettings) -> pl.DataFrame:
    expressions = _rule_weights(settings)
    frame = paths.touches.join(
        paths.conversions.select("path_id", "value", "touches"), on="path_id", how="left"
    )
    if "time_decay" in models:  # weight relative to the path's latest touch (1 there): no underflow
        frame = frame.with_columns(
            _decay=2.0
            ** (
                -(pl.col("days_before") - pl.col("days_before").min().over("path_id"))
                / settings.time_decay_half_life_days
            )
        )
    sums = (
        frame.lazy()
        .with_columns(**{f"w_{m}": expressions[m] for m in models})
        .group_by("channel", "campaign_id")
        .agg(
            *[pl.col(f"w_{m}").sum().alias(f"c_{m}") for m in models],
            *[(pl.col(f"w_{m}") * pl.col("value")).sum().alias(f"v_{m}") for m in models],
        )
        .collect()
    )
    return pl.concat(
        [
            sums.select(
                model=pl.lit(m),
                channel="channel",
                campaign_id="campaign_id",
                attributed_conversions=f"c_{m}",
                attributed_value=f"v_{m}",
            )
            for m in models
        ]
    ).cast(OUTPUT_SCHEMA)
