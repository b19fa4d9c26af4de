"""Shapley value of each channel (or campaign) in the game "value of the converting paths whose
channel set is a subset of the coalition".

v(S) = total value (and separately count) of converting paths whose channel *set* is a subset of S;
φ_i = Σ_{S ⊆ N\\{i}} |S|!(n−|S|−1)!/n! (v(S∪{i}) − v(S)). Exact for up to
``shapley_exact_max_channels`` players (v over all 2^n coalitions by a subset-sum / zeta transform on
bitmasks). Beyond that, permutation sampling with ``shapley_samples`` permutations and ``seed``: in
one permutation the marginal contributions telescope to v(N), so the sample mean already sums to v(N)
up to floating-point rounding; the credits are then rescaled by v(N) / Σφ so that the sum is exact.
Note: for this value function φ_i = Σ_{T ∋ i} v_T / |T| (Zhao et al. 2018's "simplified Shapley
value": a path's value is split evenly over its distinct channels); the tests use it as a check.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from numpy.typing import ArrayLike, NDArray

from assets.kpis.attribution.frames import level_frame
from assets.kpis.attribution.paths import Paths, touch_label
from assets.kpis.attribution.settings import SHAPLEY_EXACT_LIMIT, AttributionSettings

# Ranks gathered per batch of sampled permutations (permutations × memberships; int16: ~32 MB).
_SAMPLE_BATCH_ELEMENTS = 16_000_000


def channel_sets(
    paths: Paths, level: str = "channel"
) -> tuple[list[str], NDArray[np.bool_], NDArray[np.float64]]:
    """Distinct channel (or campaign, see ``touch_label``) sets of the converting paths: the labels (n),
    membership matrix (P × n) and per set the number of conversions and their total value (P × 2)."""
    labelled = paths.touches.select("path_id", label=touch_label(level))
    channels = sorted(labelled["label"].unique().to_list())
    if not channels:
        return channels, np.zeros((0, 0), bool), np.zeros((0, 2))
    coded = labelled.select("path_id", code=pl.col("label").cast(pl.Enum(channels)).to_physical())
    per_path = (
        coded.unique(maintain_order=True)
        .group_by("path_id", maintain_order=True)
        .agg(pl.col("code").sort())
        .join(paths.conversions.select("path_id", "value"), on="path_id", maintain_order="left")
    )
    sets = (
        per_path.group_by("code", maintain_order=True)  # deterministic order: first appearance
        .agg(count=pl.len().cast(pl.Float64), value=pl.col("value").sum())
        .with_row_index("set")
    )
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


def shapley_sampled(
    membership: ArrayLike, weights: ArrayLike, samples: int = 2000, seed: int = 0
) -> NDArray[np.float64]:
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


def shapley_credits(paths: Paths, settings: AttributionSettings, level: str = "channel") -> pl.DataFrame:
    """Shapley credit per channel (or campaign): exact up to ``shapley_exact_max_channels`` players,
    sampled beyond."""
    channels, membership, weights = channel_sets(paths, level)
    if len(channels) <= settings.shapley_exact_max_channels:
        phi = shapley_exact(membership, weights)
    else:
        phi = shapley_sampled(membership, weights, settings.shapley_samples, settings.seed)
    name = "shapley" if level == "channel" else "shapley_campaign"
    return level_frame(name, level, channels, phi[:, 0], phi[:, 1])
