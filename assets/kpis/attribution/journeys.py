"""The journeys as a table (``marts.attribution_paths``): one row per distinct path and level, with
how many conversions, how much value and how many closed / open non-converting journeys took it.

Everything the Shapley and Markov models read is in it (the conversions and nulls per path; the
chains of any order follow from the path strings), so any tool can recompute the credits. No person
appears: paths are aggregated over users.
"""

from __future__ import annotations

import polars as pl

from assets.kpis.attribution.paths import Paths, touch_label
from assets.kpis.attribution.settings import DIRECT

# Joins the labels of a path in time order; channel and campaign names are the deployment's own.
SEPARATOR = " > "
JOURNEYS_SCHEMA = pl.Schema(
    {
        "level": pl.String(),
        "path": pl.String(),
        "touches": pl.Int64(),
        "conversions": pl.Int64(),
        "value": pl.Float64(),
        "nulls": pl.Int64(),
        "open": pl.Int64(),
    }
)
COUNTS = ("conversions", "nulls", "open")


def _path_strings(frame: pl.DataFrame, level: str) -> pl.DataFrame:
    return (
        frame.sort("path_id", "position")
        .group_by("path_id", maintain_order=True)
        .agg(path=touch_label(level).str.join(SEPARATOR), touches=pl.len().cast(pl.Int64))
    )


def _level_table(paths: Paths, level: str) -> pl.DataFrame:
    converting = (
        _path_strings(paths.touches, level)
        .join(paths.conversions.select("path_id", "value"), on="path_id")
        .group_by("path", "touches")
        .agg(conversions=pl.len().cast(pl.Int64), value=pl.col("value").sum())
    )
    parts = [converting]
    for frame, column in ((paths.non_converting, "nulls"), (paths.open, "open")):
        parts.append(
            _path_strings(frame, level).group_by("path", "touches").agg(pl.len().cast(pl.Int64).alias(column))
        )
    if paths.direct.height:
        parts.append(
            pl.DataFrame(
                {
                    "path": [DIRECT],
                    "touches": [0],
                    "conversions": [paths.direct.height],
                    "value": [float(paths.direct["value"].sum())],
                },
                schema={"path": pl.String, "touches": pl.Int64, "conversions": pl.Int64, "value": pl.Float64},
            )
        )
    table = pl.concat(parts, how="diagonal_relaxed")
    return (
        table.group_by("path", "touches")
        .agg(pl.col("conversions").sum(), pl.col("value").sum(), pl.col("nulls").sum(), pl.col("open").sum())
        .with_columns(level=pl.lit(level))
    )


def journeys_table(paths: Paths, levels: tuple[str, ...] = ("channel", "campaign")) -> pl.DataFrame:
    """``JOURNEYS_SCHEMA`` rows per level and distinct path (the ``(direct)`` path: conversions with no
    touch), sorted by level, then conversions descending, then path."""
    if not levels:
        return pl.DataFrame(schema=JOURNEYS_SCHEMA)
    table = pl.concat([_level_table(paths, level) for level in levels], how="diagonal_relaxed")
    return (
        table.select(list(JOURNEYS_SCHEMA))
        .cast(JOURNEYS_SCHEMA)
        .with_columns(pl.col(*COUNTS).fill_null(0), pl.col("value").fill_null(0.0))
        .sort("level", "conversions", "path", descending=[False, True, False])
    )
