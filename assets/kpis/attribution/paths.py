"""Journeys: each conversion's path of touchpoints, the non-converting paths, the open ones and
the direct conversions.

A conversion's *path* is its user's touchpoints that are
- strictly before the conversion (``occurred_at < converted_at``),
- within the lookback window (``occurred_at >= converted_at - lookback_days``, bound included),
- at or after the user's previous conversion (a touch is never reused: it belongs to the first
  conversion strictly after it, and only if that conversion's window reaches back to it),
ordered by time (ties by channel, then campaign). Several conversions of one user at the same instant:
the first by ``conversion_id`` takes the path, the others have none. Conversions with an empty path
are *direct*: unattributed, kept apart in ``Paths.direct``.

*Non-converting paths* (the Markov chains' null state) are built from the touches that no conversion
took: per user and per stretch between conversions, cut into consecutive windows of ``lookback_days``
starting at the stretch's first such touch, so no non-converting path spans more time than a
converting path can. A path after a user's last conversion whose last touch is within
``lookback_days`` of the data's end (the latest touch or conversion seen) is *open*: a conversion may
still claim it, so calling it a failure would inflate the null state. Open paths are kept apart in
``Paths.open`` and take no part in the models.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from assets.kpis.attribution.settings import (
    CONVERSIONS_SCHEMA,
    DIRECT_SCHEMA,
    NO_CAMPAIGN,
    NON_CONVERTING_SCHEMA,
    RESERVED_CHANNELS,
    TOUCHES_SCHEMA,
    US_PER_DAY,
    AttributionSettings,
)


@dataclass(frozen=True)
class Paths:
    """Converting paths, non-converting paths and direct conversions (schemas: the ``*_SCHEMA`` dicts).

    ``conversions``: one row per attributed conversion (``path_id`` 0..P-1, ``touches`` ≥ 1);
    ``touches``: its path, ordered by ``position`` (``days_before`` = fractional days to the conversion);
    ``non_converting``: touches of non-converting paths (their own ``path_id`` 0..Q-1);
    ``direct``: conversions without any touch in their window;
    ``open``: non-converting paths still open at the data's end (``NON_CONVERTING_SCHEMA``).
    """

    conversions: pl.DataFrame
    touches: pl.DataFrame
    non_converting: pl.DataFrame
    direct: pl.DataFrame
    open: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=NON_CONVERTING_SCHEMA))

    @classmethod
    def from_sequences(
        cls,
        converting: Sequence[tuple[Sequence[Any], float]],
        non_converting: Sequence[Sequence[Any]] = (),
        direct: Sequence[float] = (),
    ) -> Paths:
        """Hand-built paths (tests, ad hoc analysis). ``converting`` is ``[(touches, value), …]``, each
        touch either a channel or ``(channel, days_before[, campaign_id])`` (``days_before`` defaults to
        0); ``non_converting`` lists channel sequences; ``direct`` lists values of direct conversions."""
        rows, conv_rows = [], []
        for path_id, (touches, value) in enumerate(converting):
            if not touches:
                raise ValueError("a converting path needs at least one touch (use direct=)")
            for position, touch in enumerate(touches):
                channel, days, campaign = _touch_tuple(touch)
                rows.append((path_id, position, None, channel, campaign, float(days)))
            conv_rows.append((path_id, f"c{path_id}", None, None, float(value), len(touches)))
        nc_rows = []
        for path_id, touches in enumerate(non_converting):
            if not touches:
                raise ValueError("a non-converting path needs at least one touch")
            for position, touch in enumerate(touches):
                channel, _, campaign = _touch_tuple(touch)
                nc_rows.append((path_id, position, None, None, channel, campaign))
        direct_rows = [(f"d{i}", None, None, float(v)) for i, v in enumerate(direct)]
        paths = cls(
            conversions=pl.DataFrame(conv_rows, schema=CONVERSIONS_SCHEMA, orient="row"),
            touches=pl.DataFrame(rows, schema=TOUCHES_SCHEMA, orient="row"),
            non_converting=pl.DataFrame(nc_rows, schema=NON_CONVERTING_SCHEMA, orient="row"),
            direct=pl.DataFrame(direct_rows, schema=DIRECT_SCHEMA, orient="row"),
        )
        _check_channel_names(paths.channels())
        return paths

    def channels(self) -> list[str]:
        """Every channel in converting or non-converting paths, sorted."""
        return sorted(
            set(self.touches["channel"].unique().to_list())
            | set(self.non_converting["channel"].unique().to_list())
        )

    def summary(self) -> dict[str, float | int]:
        return {
            "conversions": self.conversions.height + self.direct.height,
            "attributed_conversions": self.conversions.height,
            "direct_conversions": self.direct.height,
            "attributed_value": float(self.conversions["value"].sum()),
            "direct_value": float(self.direct["value"].sum()),
            "converting_touches": self.touches.height,
            "non_converting_paths": int(self.non_converting["path_id"].n_unique()),
            "non_converting_touches": self.non_converting.height,
            "open_paths": int(self.open["path_id"].n_unique()),
        }


def _touch_tuple(touch: Any) -> tuple[str, float, str | None]:
    if isinstance(touch, str):
        return touch, 0.0, None
    channel, days, *rest = touch
    return channel, days, (rest[0] if rest else None)


def _check_channel_names(channels: Sequence[str]) -> None:
    clash = RESERVED_CHANNELS.intersection(channels)
    if clash:
        raise ValueError(f"channel names reserved by the attribution engine: {sorted(clash)}")


def _prepare(touchpoints: pl.DataFrame, conversions: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    for name, frame, cols in (
        ("touchpoints", touchpoints, ("unified_id", "occurred_at", "channel")),
        ("conversions", conversions, ("unified_id", "converted_at", "conversion_id", "value")),
    ):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} is missing columns {missing}")
    time_zones: list[str | None] = []
    for name, dtype in (
        ("occurred_at", touchpoints.schema["occurred_at"]),
        ("converted_at", conversions.schema["converted_at"]),
    ):
        if not isinstance(dtype, pl.Datetime):
            raise TypeError(f"{name} must be a Datetime column, got {dtype}")
        time_zones.append(dtype.time_zone)
    tz_t, tz_c = time_zones
    if (tz_t is None) != (tz_c is None):
        raise TypeError(
            f"occurred_at ({tz_t}) and converted_at ({tz_c}) must both have a time zone or both have none"
        )
    campaign = (
        pl.col("campaign_id").cast(pl.String)
        if "campaign_id" in touchpoints.columns
        else pl.lit(None, pl.String)
    ).alias("campaign_id")
    tp = (
        touchpoints.lazy()
        .select(
            pl.col("unified_id").cast(pl.String),
            _naive_utc("occurred_at", tz_t),
            pl.col("channel").cast(pl.String),
            campaign,
        )
        .drop_nulls(["unified_id", "occurred_at", "channel"])
        # user then time: the as-of join needs time order within a user, and every later step relies
        # on this order (see build_paths)
        .sort("unified_id", "occurred_at", "channel", "campaign_id", nulls_last=True)
        .collect()
    )
    _check_channel_names(tp["channel"].unique().to_list())
    cv = (
        conversions.lazy()
        .select(
            pl.col("unified_id").cast(pl.String),
            _naive_utc("converted_at", tz_c),
            pl.col("conversion_id").cast(pl.String),
            pl.col("value").cast(pl.Float64).fill_null(0.0),
        )
        .drop_nulls(["unified_id", "converted_at"])
        .sort("unified_id", "converted_at", "conversion_id", nulls_last=True)
        .with_row_index("_conv")
        # several conversions of one user at one instant: only the first can take touches
        .with_columns(_takes_touches=pl.struct("unified_id", "converted_at").is_first_distinct())
        .collect()
    )
    return tp, cv


def _naive_utc(column: str, time_zone: str | None) -> pl.Expr:
    """Microsecond naive timestamps (UTC when the column has a time zone), so differences are exact."""
    expr = pl.col(column)
    if time_zone is not None:
        expr = expr.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return expr.cast(pl.Datetime("us"))


def _assign(tp: pl.DataFrame, cv: pl.DataFrame, lookback_days: float) -> pl.DataFrame:
    """Every touch with the first conversion strictly after it (``_conv`` null if none) and whether it
    is in that conversion's window (``_in_path``)."""
    takers = cv.filter("_takes_touches").select("unified_id", "converted_at", "_conv")  # user, time order
    joined = tp.join_asof(
        takers,
        left_on="occurred_at",
        right_on="converted_at",
        by="unified_id",
        strategy="forward",
        allow_exact_matches=False,
        check_sortedness=False,
    )
    lookback = timedelta(days=lookback_days)
    return joined.with_columns(
        _in_path=(pl.col("occurred_at") >= pl.col("converted_at") - lookback).fill_null(False)
    )


def build_paths(
    touchpoints: pl.DataFrame,
    conversions: pl.DataFrame,
    settings: AttributionSettings = AttributionSettings(),
) -> Paths:
    """Converting paths, non-converting paths and direct conversions (definitions in the module doc).

    ``touchpoints``: unified_id, occurred_at (Datetime), channel, campaign_id (optional, nullable);
    ``conversions``: unified_id, converted_at, conversion_id, value (null → 0). Both times naive, or
    both time-zone aware (compared in UTC).
    Rows with a null user, time or channel are ignored."""
    # Order: touches are sorted by (user, time, channel, campaign) and conversions by (user, time, id)
    # with ``_conv`` their row number, so the conversion a touch belongs to never decreases along the
    # touches: each path is already a contiguous run in order, and path_id (dense, by ``_conv``) is the
    # run number. No further sort or group-by is needed.
    tp, cv = _prepare(touchpoints, conversions)
    assigned = _assign(tp, cv, settings.lookback_days)
    touches = assigned.filter("_in_path").with_columns(
        path_id=pl.col("_conv").rle_id(),
        position=_run_position("_conv"),
        days_before=(pl.col("converted_at") - pl.col("occurred_at")).dt.total_microseconds() / US_PER_DAY,
    )
    attributed = touches.filter(pl.col("path_id").ne_missing(pl.col("path_id").shift(-1))).select(
        "path_id", "_conv", touches=pl.col("position") + 1
    )  # last touch
    conv_out = (
        attributed.join(cv, on="_conv", how="left", maintain_order="left")
        .select(list(CONVERSIONS_SCHEMA))
        .cast(CONVERSIONS_SCHEMA)
    )
    direct = (
        cv.join(attributed.select("_conv"), on="_conv", how="anti", maintain_order="left")
        .select(list(DIRECT_SCHEMA))
        .cast(DIRECT_SCHEMA)
    )
    touches = touches.select(list(TOUCHES_SCHEMA)).cast(TOUCHES_SCHEMA)
    non_converting, still_open = _non_converting(
        assigned.filter(~pl.col("_in_path")), settings.lookback_days, _data_end(tp, cv)
    )
    return Paths(
        conversions=conv_out, touches=touches, non_converting=non_converting, direct=direct, open=still_open
    )


def build_non_converting_paths(
    touchpoints: pl.DataFrame,
    conversions: pl.DataFrame,
    settings: AttributionSettings = AttributionSettings(),
) -> pl.DataFrame:
    """Only the (closed) non-converting paths of ``build_paths`` (``NON_CONVERTING_SCHEMA``): the touches
    no conversion took, per user and stretch between conversions, cut into consecutive ``lookback_days``
    windows from the stretch's first such touch, without the paths still open at the data's end."""
    tp, cv = _prepare(touchpoints, conversions)
    assigned = _assign(tp, cv, settings.lookback_days)
    return _non_converting(assigned.filter(~pl.col("_in_path")), settings.lookback_days, _data_end(tp, cv))[0]


def _data_end(tp: pl.DataFrame, cv: pl.DataFrame) -> datetime | None:
    """The latest touch or conversion: how far the data reaches, so how far a journey can be judged.
    Both columns are Datetime (``_prepare`` checks), so a non-empty one's maximum is a datetime."""
    ends = [end for end in (tp["occurred_at"].max(), cv["converted_at"].max()) if isinstance(end, datetime)]
    return max(ends) if ends else None


def _run_start(key: pl.Expr) -> pl.Expr:
    """True on the first row of each run of equal ``key`` values (nulls compare equal)."""
    return key.ne_missing(key.shift(1)).fill_null(True)


def _run_position(*keys: str) -> pl.Expr:
    """0, 1, 2… within each run of equal ``keys`` (the frame is ordered so that runs are the groups)."""
    index = pl.int_range(pl.len(), dtype=pl.Int64)
    start = pl.when(_run_start(pl.struct(*keys))).then(index).forward_fill()
    return (index - start).cast(pl.UInt32)


def _non_converting(
    left_over: pl.DataFrame, lookback_days: float, data_end: datetime | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Closed and open non-converting paths from the left-over touches, still in (user, time) order: a
    user's stretch before a given conversion (or after the last, ``_conv`` null) is a run of
    (unified_id, _conv); its windows are runs too. A path after the last conversion is open when its
    last touch is less than ``lookback_days`` before ``data_end``."""
    window_us = lookback_days * US_PER_DAY
    new_stretch = _run_start(pl.struct("unified_id", "_conv"))
    stretch_start = pl.when(new_stretch).then(pl.col("occurred_at")).forward_fill()
    cut = left_over.with_columns(
        _window=((pl.col("occurred_at") - stretch_start).dt.total_microseconds() / window_us)
        .floor()
        .cast(pl.Int64)
    ).with_columns(
        _path=pl.struct("unified_id", "_conv", "_window").rle_id(),
        position=_run_position("unified_id", "_conv", "_window"),
    )
    if data_end is None:  # no touches at all
        is_open = pl.lit(False)
    else:
        is_open = pl.col("_conv").is_null() & (
            pl.col("occurred_at").max().over("_path") > data_end - timedelta(days=lookback_days)
        )
    cut = cut.with_columns(_open=is_open)
    closed, still_open = (
        part.with_columns(path_id=pl.col("_path").rle_id())
        .select(list(NON_CONVERTING_SCHEMA))
        .cast(NON_CONVERTING_SCHEMA)
        for part in (cut.filter(~pl.col("_open")), cut.filter(pl.col("_open")))
    )
    return closed, still_open


def touch_label(level: str) -> pl.Expr:
    """The state a touch stands for in the channel- or campaign-level models: its channel, or its
    campaign (``NO_CAMPAIGN`` for touches without one, so they still count as a touch)."""
    if level == "channel":
        return pl.col("channel")
    if level == "campaign":
        return pl.col("campaign_id").fill_null(NO_CAMPAIGN)
    raise ValueError(f"level must be 'channel' or 'campaign', got {level!r}")
