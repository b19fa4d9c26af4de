"""Multi-touch attribution: which channels (and campaigns) get the credit for each conversion.

Paths (``build_paths``)
    A conversion's *path* is its user's touchpoints that are
    - strictly before the conversion (``occurred_at < converted_at``),
    - within the lookback window (``occurred_at >= converted_at - lookback_days``, bound included),
    - at or after the user's previous conversion (a touch is never reused: it belongs to the first
      conversion strictly after it, and only if that conversion's window reaches back to it),
    ordered by time (ties by channel, then campaign). Several conversions of one user at the same instant:
    the first by ``conversion_id`` takes the path, the others have none. Conversions with an empty path
    are *direct*: unattributed, kept apart in ``Paths.direct`` (and optional ``(direct)`` rows).

    *Non-converting paths* (needed by the Markov model) are built from the touches that no conversion
    took: per user and per stretch between conversions, cut into consecutive windows of ``lookback_days``
    starting at the stretch's first such touch, so no non-converting path spans more time than a
    converting path can. No conversion happened within ``lookback_days`` after any touch of such a
    path, except for paths after a user's last conversion whose window is still open at the end of the
    data (right-censored: they may yet convert; they are counted as non-converting).

Models (``attribute``; every model gives each conversion exactly 1 conversion and its full value)
    first_touch, last_touch, linear
    time_decay       weight 2^(-Δt / half_life) with Δt the (fractional) days from touch to conversion,
                     normalised per path
    position_based   U-shaped: ``position_first`` to the first touch, ``position_last`` to the last,
                     the rest spread evenly over the middle; one touch takes 100 %; two touches share in
                     proportion first : last (50/50 with the defaults)
    shapley          channel level. v(S) = total value (and separately count) of converting paths whose
                     channel *set* is a subset of S; φ_i = Σ_{S ⊆ N\\{i}} |S|!(n−|S|−1)!/n! (v(S∪{i}) − v(S)).
                     Exact for up to ``shapley_exact_max_channels`` channels (v over all 2^n coalitions by a
                     subset-sum / zeta transform on bitmasks). Beyond that, permutation sampling with
                     ``shapley_samples`` permutations and ``seed``: in one permutation the marginal
                     contributions telescope to v(N), so the sample mean already sums to v(N) up to
                     floating-point rounding; the credits are then rescaled by v(N) / Σφ so that the sum
                     is exact (the rescale is a no-op but for rounding).
                     Note: for this value function φ_i = Σ_{T ∋ i} v_T / |T| (Zhao et al. 2018's
                     "simplified Shapley value": a path's value is split evenly over its distinct
                     channels); the tests use it as an independent check.
    markov           channel level. First-order Markov chain (start) → channels → (conversion) | (null)
                     estimated from converting *and* non-converting paths (repeated channels are kept
                     as self-transitions, which change no absorption probability). Removal effect
                     RE_c = 1 − P(conversion | c removed) / P(conversion), where removing c sends every
                     transition into c to (null); absorption probabilities are solved exactly
                     (``numpy.linalg.solve``). Credits = RE_c / Σ RE × attributed conversions (and value).

Output of ``attribute`` (long): model, channel, campaign_id (null for touches without a campaign and for
the channel-level models), attributed_conversions, attributed_value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import timedelta
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray

MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based", "shapley", "markov")
RULE_MODELS = MODELS[:5]
START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"
DIRECT = "(direct)"
RESERVED_CHANNELS = frozenset({START, CONVERSION, NULL, DIRECT})
# Largest exact Shapley allowed: 2^20 coalitions × (count, value) is 16 MB and 20 cheap passes.
SHAPLEY_EXACT_LIMIT = 20
# Ranks gathered per batch of sampled permutations (permutations × memberships; int16: ~32 MB).
_SAMPLE_BATCH_ELEMENTS = 16_000_000
_US_PER_DAY = 86_400_000_000

OUTPUT_SCHEMA = {"model": pl.String, "channel": pl.String, "campaign_id": pl.String,
                 "attributed_conversions": pl.Float64, "attributed_value": pl.Float64}
TOUCHES_SCHEMA = {"path_id": pl.UInt32, "position": pl.UInt32, "occurred_at": pl.Datetime("us"),
                  "channel": pl.String, "campaign_id": pl.String, "days_before": pl.Float64}
CONVERSIONS_SCHEMA = {"path_id": pl.UInt32, "conversion_id": pl.String, "unified_id": pl.String,
                      "converted_at": pl.Datetime("us"), "value": pl.Float64, "touches": pl.UInt32}
NON_CONVERTING_SCHEMA = {"path_id": pl.UInt32, "position": pl.UInt32, "unified_id": pl.String,
                         "occurred_at": pl.Datetime("us"), "channel": pl.String, "campaign_id": pl.String}
DIRECT_SCHEMA = {"conversion_id": pl.String, "unified_id": pl.String, "converted_at": pl.Datetime("us"),
                 "value": pl.Float64}


@dataclass(frozen=True)
class AttributionSettings:
    """Every knob of the engine, as data (``as_dict`` / ``from_dict`` round-trip through YAML or JSON)."""

    lookback_days: float = 30
    time_decay_half_life_days: float = 7.0
    position_first: float = 0.4
    position_last: float = 0.4
    shapley_exact_max_channels: int = 12
    shapley_samples: int = 2000
    seed: int = 0
    models: tuple[str, ...] = MODELS

    def __post_init__(self) -> None:
        if isinstance(self.models, str) or not isinstance(self.models, tuple):
            object.__setattr__(self, "models", (self.models,) if isinstance(self.models, str)
                               else tuple(self.models))
        problems = []
        if not (math.isfinite(self.lookback_days) and self.lookback_days > 0):
            problems.append("lookback_days must be positive")
        if not (math.isfinite(self.time_decay_half_life_days) and self.time_decay_half_life_days > 0):
            problems.append("time_decay_half_life_days must be positive")
        if not (0 <= self.position_first <= 1 and 0 <= self.position_last <= 1
                and self.position_first + self.position_last <= 1 + 1e-12):
            problems.append("position_first and position_last must be in [0, 1] and sum to at most 1")
        if not 0 <= self.shapley_exact_max_channels <= SHAPLEY_EXACT_LIMIT:
            problems.append(f"shapley_exact_max_channels must be in [0, {SHAPLEY_EXACT_LIMIT}]")
        if self.shapley_samples < 1:
            problems.append("shapley_samples must be at least 1")
        unknown = [m for m in self.models if m not in MODELS]
        if unknown or not self.models or len(set(self.models)) != len(self.models):
            problems.append(f"models must be distinct names among {MODELS}, got {self.models}")
        if problems:
            raise ValueError("invalid AttributionSettings: " + "; ".join(problems))

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "models": list(self.models)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> AttributionSettings:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown attribution settings: {sorted(unknown)}")
        return cls(**{k: tuple(v) if k == "models" else v for k, v in values.items()})


@dataclass(frozen=True)
class Paths:
    """Converting paths, non-converting paths and direct conversions (schemas: the ``*_SCHEMA`` dicts).

    ``conversions``: one row per attributed conversion (``path_id`` 0..P-1, ``touches`` ≥ 1);
    ``touches``: its path, ordered by ``position`` (``days_before`` = fractional days to the conversion);
    ``non_converting``: touches of non-converting paths (their own ``path_id`` 0..Q-1);
    ``direct``: conversions without any touch in their window.
    """

    conversions: pl.DataFrame
    touches: pl.DataFrame
    non_converting: pl.DataFrame
    direct: pl.DataFrame

    @classmethod
    def from_sequences(cls, converting: Sequence[tuple[Sequence[Any], float]],
                       non_converting: Sequence[Sequence[Any]] = (),
                       direct: Sequence[float] = ()) -> Paths:
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
        paths = cls(conversions=pl.DataFrame(conv_rows, schema=CONVERSIONS_SCHEMA, orient="row"),
                    touches=pl.DataFrame(rows, schema=TOUCHES_SCHEMA, orient="row"),
                    non_converting=pl.DataFrame(nc_rows, schema=NON_CONVERTING_SCHEMA, orient="row"),
                    direct=pl.DataFrame(direct_rows, schema=DIRECT_SCHEMA, orient="row"))
        _check_channel_names(paths.channels())
        return paths

    def channels(self) -> list[str]:
        """Every channel in converting or non-converting paths, sorted."""
        return sorted(set(self.touches["channel"].unique().to_list())
                      | set(self.non_converting["channel"].unique().to_list()))

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


# --- paths -------------------------------------------------------------------------------------------

def _prepare(touchpoints: pl.DataFrame, conversions: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    for name, frame, cols in (("touchpoints", touchpoints, ("unified_id", "occurred_at", "channel")),
                              ("conversions", conversions, ("unified_id", "converted_at", "conversion_id",
                                                            "value"))):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} is missing columns {missing}")
    for name, dtype in (("occurred_at", touchpoints.schema["occurred_at"]),
                        ("converted_at", conversions.schema["converted_at"])):
        if not isinstance(dtype, pl.Datetime):
            raise TypeError(f"{name} must be a Datetime column, got {dtype}")
    tz_t = touchpoints.schema["occurred_at"].time_zone
    tz_c = conversions.schema["converted_at"].time_zone
    if (tz_t is None) != (tz_c is None):
        raise TypeError(f"occurred_at ({tz_t}) and converted_at ({tz_c}) must both have a time zone or "
                        "both have none")
    campaign = (pl.col("campaign_id").cast(pl.String) if "campaign_id" in touchpoints.columns
                else pl.lit(None, pl.String)).alias("campaign_id")
    tp = (touchpoints.lazy()
          .select(pl.col("unified_id").cast(pl.String), _naive_utc("occurred_at", tz_t),
                  pl.col("channel").cast(pl.String), campaign)
          .drop_nulls(["unified_id", "occurred_at", "channel"])
          # user then time: the as-of join needs time order within a user, and every later step relies
          # on this order (see build_paths)
          .sort("unified_id", "occurred_at", "channel", "campaign_id", nulls_last=True)
          .collect())
    _check_channel_names(tp["channel"].unique().to_list())
    cv = (conversions.lazy()
          .select(pl.col("unified_id").cast(pl.String), _naive_utc("converted_at", tz_c),
                  pl.col("conversion_id").cast(pl.String),
                  pl.col("value").cast(pl.Float64).fill_null(0.0))
          .drop_nulls(["unified_id", "converted_at"])
          .sort("unified_id", "converted_at", "conversion_id", nulls_last=True)
          .with_row_index("_conv")
          # several conversions of one user at one instant: only the first can take touches
          .with_columns(_takes_touches=pl.struct("unified_id", "converted_at").is_first_distinct())
          .collect())
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
    joined = tp.join_asof(takers, left_on="occurred_at", right_on="converted_at", by="unified_id",
                          strategy="forward", allow_exact_matches=False, check_sortedness=False)
    lookback = timedelta(days=lookback_days)
    return joined.with_columns(
        _in_path=(pl.col("occurred_at") >= pl.col("converted_at") - lookback).fill_null(False))


def build_paths(touchpoints: pl.DataFrame, conversions: pl.DataFrame,
                settings: AttributionSettings = AttributionSettings()) -> Paths:
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
    touches = (assigned.filter("_in_path")
               .with_columns(path_id=pl.col("_conv").rle_id(), position=_run_position("_conv"),
                             days_before=(pl.col("converted_at") - pl.col("occurred_at"))
                             .dt.total_microseconds() / _US_PER_DAY))
    attributed = (touches.filter(pl.col("path_id").ne_missing(pl.col("path_id").shift(-1)))  # last touch
                  .select("path_id", "_conv", touches=pl.col("position") + 1))
    conv_out = (attributed.join(cv, on="_conv", how="left", maintain_order="left")
                .select(list(CONVERSIONS_SCHEMA)).cast(CONVERSIONS_SCHEMA))
    direct = (cv.join(attributed.select("_conv"), on="_conv", how="anti", maintain_order="left")
              .select(list(DIRECT_SCHEMA)).cast(DIRECT_SCHEMA))
    touches = touches.select(list(TOUCHES_SCHEMA)).cast(TOUCHES_SCHEMA)
    non_converting = _non_converting(assigned.filter(~pl.col("_in_path")), settings.lookback_days)
    return Paths(conversions=conv_out, touches=touches, non_converting=non_converting, direct=direct)


def build_non_converting_paths(touchpoints: pl.DataFrame, conversions: pl.DataFrame,
                               settings: AttributionSettings = AttributionSettings()) -> pl.DataFrame:
    """Only the non-converting paths of ``build_paths`` (``NON_CONVERTING_SCHEMA``): the touches no
    conversion took, per user and stretch between conversions, cut into consecutive ``lookback_days``
    windows from the stretch's first such touch."""
    tp, cv = _prepare(touchpoints, conversions)
    assigned = _assign(tp, cv, settings.lookback_days)
    return _non_converting(assigned.filter(~pl.col("_in_path")), settings.lookback_days)


def _run_start(key: pl.Expr) -> pl.Expr:
    """True on the first row of each run of equal ``key`` values (nulls compare equal)."""
    return key.ne_missing(key.shift(1)).fill_null(True)


def _run_position(*keys: str) -> pl.Expr:
    """0, 1, 2… within each run of equal ``keys`` (the frame is ordered so that runs are the groups)."""
    index = pl.int_range(pl.len(), dtype=pl.Int64)
    start = pl.when(_run_start(pl.struct(*keys))).then(index).forward_fill()
    return (index - start).cast(pl.UInt32)


def _non_converting(left_over: pl.DataFrame, lookback_days: float) -> pl.DataFrame:
    """Left-over touches, still in (user, time) order: a user's stretch before a given conversion (or
    after the last) is a run of (unified_id, _conv); its windows are runs too."""
    window_us = lookback_days * _US_PER_DAY
    new_stretch = _run_start(pl.struct("unified_id", "_conv"))
    stretch_start = pl.when(new_stretch).then(pl.col("occurred_at")).forward_fill()
    return (left_over
            .with_columns(_window=((pl.col("occurred_at") - stretch_start).dt.total_microseconds() / window_us)
                          .floor().cast(pl.Int64))
            .with_columns(path_id=pl.struct("unified_id", "_conv", "_window").rle_id(),
                          position=_run_position("unified_id", "_conv", "_window"))
            .select(list(NON_CONVERTING_SCHEMA)).cast(NON_CONVERTING_SCHEMA))


# --- rule-based models -------------------------------------------------------------------------------

def _rule_weights(settings: AttributionSettings) -> dict[str, pl.Expr]:
    pos, n = pl.col("position").cast(pl.Int64), pl.col("touches").cast(pl.Int64)
    first, last = settings.position_first, settings.position_last
    pair_first = first / (first + last) if first + last > 0 else 0.5
    return {
        "first_touch": (pos == 0).cast(pl.Float64),
        "last_touch": (pos == n - 1).cast(pl.Float64),
        "linear": 1.0 / n,
        "time_decay": pl.col("_decay") / pl.col("_decay").sum().over("path_id"),
        "position_based": (pl.when(n == 1).then(1.0)
                           .when(n == 2).then(pl.when(pos == 0).then(pair_first).otherwise(1.0 - pair_first))
                           .when(pos == 0).then(first)
                           .when(pos == n - 1).then(last)
                           .otherwise((1.0 - first - last) / (n - 2).cast(pl.Float64))),
    }


def _rule_based(paths: Paths, models: Sequence[str], settings: AttributionSettings) -> pl.DataFrame:
    expressions = _rule_weights(settings)
    frame = paths.touches.join(paths.conversions.select("path_id", "value", "touches"), on="path_id",
                               how="left")
    if "time_decay" in models:  # weight relative to the path's latest touch (1 there): no underflow
        frame = frame.with_columns(_decay=2.0 ** (-(pl.col("days_before") - pl.col("days_before").min()
                                                    .over("path_id")) / settings.time_decay_half_life_days))
    sums = (frame.lazy()
            .with_columns(**{f"w_{m}": expressions[m] for m in models})
            .group_by("channel", "campaign_id")
            .agg(*[pl.col(f"w_{m}").sum().alias(f"c_{m}") for m in models],
                 *[(pl.col(f"w_{m}") * pl.col("value")).sum().alias(f"v_{m}") for m in models])
            .collect())
    return pl.concat([
        sums.select(model=pl.lit(m), channel="channel", campaign_id="campaign_id",
                    attributed_conversions=f"c_{m}", attributed_value=f"v_{m}")
        for m in models
    ]).cast(OUTPUT_SCHEMA)


# --- Shapley -----------------------------------------------------------------------------------------

def channel_sets(paths: Paths) -> tuple[list[str], NDArray[np.bool_], NDArray[np.float64]]:
    """Distinct channel sets of the converting paths: channel names (n), membership matrix (P × n) and
    per set the number of conversions and their total value (P × 2)."""
    channels = sorted(paths.touches["channel"].unique().to_list())
    if not channels:
        return channels, np.zeros((0, 0), bool), np.zeros((0, 2))
    coded = paths.touches.select("path_id", code=pl.col("channel").cast(pl.Enum(channels)).to_physical())
    per_path = (coded.unique(maintain_order=True).group_by("path_id", maintain_order=True)
                .agg(pl.col("code").sort())
                .join(paths.conversions.select("path_id", "value"), on="path_id", maintain_order="left"))
    sets = (per_path.group_by("code", maintain_order=True)  # deterministic order: first appearance
            .agg(count=pl.len().cast(pl.Float64), value=pl.col("value").sum())
            .with_row_index("set"))
    members = sets.select("set", "code").explode("code")
    membership = np.zeros((sets.height, len(channels)), bool)
    membership[members["set"].to_numpy(), members["code"].to_numpy().astype(np.int64)] = True
    return channels, membership, sets.select("count", "value").to_numpy().astype(np.float64)


def shapley_exact(membership: ArrayLike, weights: ArrayLike) -> NDArray[np.float64]:
    """Exact Shapley values of v(S) = Σ weights of the sets ⊆ S.

    ``membership``: P × n booleans (set p contains channel i); ``weights``: P or P × k. Returns n or
    n × k. v over all 2^n coalitions comes from a subset-sum (zeta) transform, one vectorised pass per
    channel; φ_i then sums the marginal contributions v(S ∪ {i}) − v(S) with weight
    |S|!(n−|S|−1)!/n! = 1 / (n · C(n−1, |S|))."""
    member = np.asarray(membership, bool)
    w = np.asarray(weights, np.float64)
    squeeze = w.ndim == 1
    w = w.reshape(len(w), -1)
    n, k = member.shape[1], w.shape[1]
    if n > SHAPLEY_EXACT_LIMIT:
        raise ValueError(f"exact Shapley is limited to {SHAPLEY_EXACT_LIMIT} channels, got {n}")
    if n == 0:
        return np.zeros((0,) if squeeze else (0, k))
    masks = member.astype(np.int64) @ (np.int64(1) << np.arange(n, dtype=np.int64))
    v = np.zeros((1 << n, k))
    np.add.at(v, masks, w)
    for i in range(n):  # zeta transform: afterwards v[S] = Σ_{T ⊆ S} w_T
        view = v.reshape(1 << (n - 1 - i), 2, 1 << i, k)
        view[:, 1] += view[:, 0]
    size = np.bitwise_count(np.arange(1 << n, dtype=np.uint32)).astype(np.int64)
    coefficient = np.array([1.0 / (n * math.comb(n - 1, s)) for s in range(n)])
    phi = np.empty((n, k))
    for i in range(n):
        view = v.reshape(1 << (n - 1 - i), 2, 1 << i, k)
        without_i = size.reshape(1 << (n - 1 - i), 2, 1 << i)[:, 0]
        phi[i] = ((view[:, 1] - view[:, 0]) * coefficient[without_i][..., None]).sum(axis=(0, 1))
    return phi[:, 0] if squeeze else phi


def shapley_sampled(membership: ArrayLike, weights: ArrayLike, samples: int = 2000,
                    seed: int = 0) -> NDArray[np.float64]:
    """Shapley values of the same game by permutation sampling, rescaled so they sum exactly to v(N).

    In a permutation, set T adds its weight to v exactly when its last member (in permutation order)
    joins. Sets are grouped by size s into P_s × s arrays of members; per batch of permutations the
    members' ranks are gathered (batch × P_s × s) and each set's highest-ranked member counted as
    completing it (a one-channel set is always completed by its channel). φ_i = Σ completions × weight
    / samples. Each permutation distributes exactly v(N); the rescale by v(N) / Σφ only removes
    floating-point rounding. Deterministic for a given ``seed``."""
    member = np.asarray(membership, bool)
    w = np.asarray(weights, np.float64)
    squeeze = w.ndim == 1
    w = w.reshape(len(w), -1)
    n, k = member.shape[1], w.shape[1]
    phi = np.zeros((n, k))
    if n == 0 or len(w) == 0:
        return phi[:, 0] if squeeze else phi
    sets, codes = np.nonzero(member)  # row-major: each set's members are contiguous
    size = member.sum(axis=1)
    if (size == 0).any():
        raise ValueError("every channel set must contain at least one channel")
    starts = np.r_[0, np.cumsum(size)[:-1]]
    by_size = []  # (s, P_s × s indices into codes)
    for s in np.unique(size):
        by_size.append((int(s), starts[size == s][:, None] + np.arange(s)))
    completed = np.zeros(len(codes), np.int64)  # per (set, member): permutations it completed the set
    rng = np.random.default_rng(seed)
    rank_type = np.int16 if n <= np.iinfo(np.int16).max else np.int32
    batch = max(1, _SAMPLE_BATCH_ELEMENTS // len(codes))
    done = 0
    while done < samples:
        m = min(batch, samples - done)
        ranks = rng.permuted(np.tile(np.arange(n, dtype=rank_type), (m, 1)), axis=1)  # m × n
        for s, element in by_size:
            if s == 1:
                completed[element[:, 0]] += m
                continue
            member_ranks = ranks[:, codes[element]]  # m × P_s × s
            completed[element] += (member_ranks == member_ranks.max(axis=2, keepdims=True)).sum(axis=0)
        done += m
    for j in range(k):
        phi[:, j] = np.bincount(codes, weights=completed * w[sets, j], minlength=n)
    phi /= samples
    total, got = w.sum(axis=0), phi.sum(axis=0)
    scale = np.divide(total, got, out=np.ones_like(total), where=got != 0)
    phi *= scale
    return phi[:, 0] if squeeze else phi


def _shapley(paths: Paths, settings: AttributionSettings) -> pl.DataFrame:
    channels, membership, weights = channel_sets(paths)
    if len(channels) <= settings.shapley_exact_max_channels:
        phi = shapley_exact(membership, weights)
    else:
        phi = shapley_sampled(membership, weights, settings.shapley_samples, settings.seed)
    return _channel_frame("shapley", channels, phi[:, 0], phi[:, 1])


# --- Markov ------------------------------------------------------------------------------------------

def _transition_counts(paths: Paths) -> tuple[list[str], NDArray[np.float64]]:
    """States [(start), channels…, (conversion), (null)] and the matrix of observed transition counts."""
    channels = paths.channels()
    n = len(channels)
    states = [START, *channels, CONVERSION, NULL]
    size = n + 3
    counts = np.zeros(size * size)
    enum = pl.Enum(channels)
    for frame, absorbing in ((paths.touches, n + 1), (paths.non_converting, n + 2)):
        if frame.height == 0:
            continue
        ordered = frame.sort("path_id", "position")
        code = ordered["channel"].cast(enum).to_physical().to_numpy().astype(np.int64) + 1
        path = ordered["path_id"].to_numpy()
        last = np.r_[path[1:] != path[:-1], True]
        first = np.r_[True, last[:-1]]
        following = np.where(last, absorbing, np.r_[code[1:], 0])
        counts += np.bincount(code * size + following, minlength=size * size)
        counts[:size] += np.bincount(code[first], minlength=size)  # (start) is state 0: row 0
    return states, counts.reshape(size, size)


def markov_transition_matrix(paths: Paths) -> pl.DataFrame:
    """Observed first-order transitions: from_state, to_state, transitions (count), probability (share of
    from_state's outgoing transitions). States: (start), channels, (conversion), (null)."""
    states, counts = _transition_counts(paths)
    out = counts.sum(axis=1, keepdims=True)
    probability = np.divide(counts, out, out=np.zeros_like(counts), where=out > 0)
    i, j = np.nonzero(counts)
    names = np.array(states, dtype=object)
    return pl.DataFrame({"from_state": names[i].tolist(), "to_state": names[j].tolist(),
                         "transitions": counts[i, j].astype(np.int64), "probability": probability[i, j]},
                        schema={"from_state": pl.String, "to_state": pl.String, "transitions": pl.Int64,
                                "probability": pl.Float64})


def _conversion_probability(probability: NDArray[np.float64], transient: NDArray[np.int64],
                            conversion: int) -> float:
    """P(absorbed in (conversion) | (start)) with only ``transient`` states kept (others lead to null)."""
    q = probability[np.ix_(transient, transient)]
    r = probability[transient, conversion]
    return float(np.linalg.solve(np.eye(len(transient)) - q, r)[0])


def markov_removal_effects(paths: Paths) -> pl.DataFrame:
    """Per channel: removal_effect = 1 − P(conversion | channel removed) / P(conversion) and share (the
    removal effects normalised to sum to 1; 0 if nothing converts)."""
    states, counts = _transition_counts(paths)
    channels = states[1:-2]
    n = len(channels)
    out = counts.sum(axis=1, keepdims=True)
    probability = np.divide(counts, out, out=np.zeros_like(counts), where=out > 0)
    transient = np.arange(n + 1)
    base = _conversion_probability(probability, transient, n + 1) if n else 0.0
    effects = np.zeros(n)
    if base > 0:
        for c in range(1, n + 1):
            removed = _conversion_probability(probability, np.delete(transient, c), n + 1)
            effects[c - 1] = max(0.0, 1.0 - removed / base)  # clip -1e-16 style rounding
    total = effects.sum()
    share = effects / total if total > 0 else np.zeros(n)
    return pl.DataFrame({"channel": channels, "removal_effect": effects, "share": share},
                        schema={"channel": pl.String, "removal_effect": pl.Float64, "share": pl.Float64})


def _markov(paths: Paths) -> pl.DataFrame:
    effects = markov_removal_effects(paths)
    share = effects["share"].to_numpy()
    return _channel_frame("markov", effects["channel"].to_list(), share * paths.conversions.height,
                          share * float(paths.conversions["value"].sum()))


# --- entry point -------------------------------------------------------------------------------------

def _channel_frame(model: str, channels: Sequence[str], conversions: ArrayLike, value: ArrayLike) -> pl.DataFrame:
    return pl.DataFrame({"model": [model] * len(channels), "channel": list(channels),
                         "campaign_id": [None] * len(channels),
                         "attributed_conversions": np.asarray(conversions, np.float64),
                         "attributed_value": np.asarray(value, np.float64)}, schema=OUTPUT_SCHEMA)


def attribute(paths: Paths, settings: AttributionSettings = AttributionSettings(), *,
              include_direct: bool = False) -> pl.DataFrame:
    """Credit per (model, channel, campaign_id) for the models in ``settings.models`` (``OUTPUT_SCHEMA``).

    Per model, attributed_conversions sums to the number of converting paths and attributed_value to
    their total value. Shapley and Markov rows are per channel (campaign_id null). With
    ``include_direct``, each model also gets a ``(direct)`` row with the direct conversions, so the
    model's rows add up to all conversions."""
    parts = []
    rules = [m for m in settings.models if m in RULE_MODELS]
    if rules and paths.conversions.height:
        parts.append(_rule_based(paths, rules, settings))
    if "shapley" in settings.models and paths.conversions.height:
        parts.append(_shapley(paths, settings))
    if "markov" in settings.models and paths.conversions.height:
        parts.append(_markov(paths))
    if include_direct:
        parts.append(pl.DataFrame({
            "model": list(settings.models), "channel": DIRECT, "campaign_id": None,
            "attributed_conversions": float(paths.direct.height),
            "attributed_value": float(paths.direct["value"].sum())}, schema=OUTPUT_SCHEMA))
    result = pl.concat(parts) if parts else pl.DataFrame(schema=OUTPUT_SCHEMA)
    rank = {m: i for i, m in enumerate(settings.models)}
    return (result.with_columns(_rank=pl.col("model").replace_strict(rank, return_dtype=pl.Int32))
            .sort("_rank", "channel", "campaign_id", nulls_last=True).drop("_rank"))
