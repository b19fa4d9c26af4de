"""Probabilistic matching for what strong identifiers did not settle.

Matching compares *clusters*, not single records: each deterministic cluster gets a profile — per
compared kind, the set of its keys and its most frequent key — so evidence spread over a person's
records (a name on one receipt, the store on another) adds up. Candidate pairs come from several
blocking passes (clusters sharing a value combination of every kind of a pass; a combination
shared by too many clusters is skipped as too common to be evidence). Two clusters compare on a
kind at the best agreement level of their keys (:mod:`assets.identity.comparison`: exact, one
typo, similar name…). A Fellegi–Sunter model fitted on the deployment's own pairs without hand
labels (:mod:`assets.identity.scoring`, :mod:`assets.identity.estimation`) turns levels into a
match probability, names weighted by their frequency in their city or store
(:mod:`assets.identity.term_frequency`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import polars as pl

from assets.identity.comparison import LEVELS, level_function, set_level
from assets.identity.estimation import estimate
from assets.identity.scoring import FellegiSunter, posterior
from assets.identity.settings import IdentityConfig
from assets.identity.term_frequency import Frequencies, adjust

PAIRS_SCHEMA = pl.Schema(
    {
        "cluster_a": pl.Int64(),
        "cluster_b": pl.Int64(),
        "score": pl.Float64(),
        "match_weight": pl.Float64(),
        "evidence": pl.String(),
    }
)
SAMPLE_PAIRS = 100_000


@dataclass(frozen=True)
class MatchResult:
    """Scored cluster pairs with at least the configured match probability, and what the model learnt."""

    pairs: (
        pl.DataFrame
    )  # PAIRS_SCHEMA; score: posterior probability; evidence: JSON {kind: log2 Bayes factor}
    candidates: int
    skipped_blocks: int
    weights: dict[str, dict[str, float]]
    prior: float | None = None
    model: FellegiSunter | None = None
    fit: dict[str, float] = field(default_factory=dict)  # the EM's iterations and match share


def profiles(keyed: pl.DataFrame, kinds: list[str]) -> pl.DataFrame:
    """One row per cluster: ``<kind>`` its most frequent key, ``<kind>__set`` all its keys.

    ``keyed``: (cluster, attribute_kind, key) of the compared kinds, optionally with ``n``, how many
    records hold the key (pre-aggregated people of the stored graph)."""
    counts = pl.col("n").sum().alias("len") if "n" in keyed.columns else pl.len()
    grouped = (
        keyed.group_by("cluster", "attribute_kind", "key")
        .agg(counts)
        .sort("cluster", "attribute_kind", "len", "key", descending=[False, False, True, False])
        .group_by("cluster", "attribute_kind", maintain_order=True)
        .agg(pl.col("key").first().alias("main"), pl.col("key").alias("set"))
    )
    frame = grouped.select("cluster").unique().sort("cluster")
    for kind in kinds:
        part = grouped.filter(pl.col("attribute_kind") == kind).select(
            "cluster", pl.col("main").alias(kind), pl.col("set").alias(f"{kind}__set")
        )
        frame = frame.join(part, on="cluster", how="left")
    return frame


def block_keys(profile: pl.DataFrame, kinds: tuple[str, ...]) -> pl.DataFrame:
    """(cluster, <kind>...) for every value combination a cluster holds of the pass's kinds."""
    keyed = profile.select("cluster", *(pl.col(f"{k}__set").alias(k) for k in kinds)).drop_nulls()
    for kind in kinds:
        keyed = keyed.explode(kind)
    return keyed.unique()


def candidate_pairs(
    profile: pl.DataFrame,
    passes: tuple[tuple[str, ...], ...],
    max_block_size: int,
    too_common: dict[tuple[str, ...], pl.DataFrame] | None = None,
) -> tuple[pl.DataFrame, int]:
    """Cluster pairs (cluster_a < cluster_b) sharing a value of every kind of some pass.

    ``too_common``: per pass, combinations known to be over-common in the whole graph when the
    profile holds only part of it (an incremental run)."""
    found, skipped = [], 0
    for kinds in passes:
        if not all(f"{k}__set" in profile.columns for k in kinds):
            continue
        keyed = block_keys(profile, kinds)
        if too_common and kinds in too_common:
            keyed = keyed.join(too_common[kinds], on=list(kinds), how="anti")
        sizes = keyed.group_by(list(kinds)).len()
        skipped += sizes.filter(pl.col("len") > max_block_size).height
        keyed = keyed.join(
            sizes.filter((pl.col("len") > 1) & (pl.col("len") <= max_block_size)).drop("len"),
            on=list(kinds),
            how="semi",
        )
        found.append(
            keyed.join(keyed, on=list(kinds), suffix="_b")
            .filter(pl.col("cluster") < pl.col("cluster_b"))
            .select(pl.col("cluster").alias("cluster_a"), "cluster_b")
        )
    if not found:
        return pl.DataFrame(schema={"cluster_a": pl.Int64, "cluster_b": pl.Int64}), skipped
    return pl.concat(found).unique().sort("cluster_a", "cluster_b"), skipped


def _levels(
    left: pl.Series, right: pl.Series, overlap: np.ndarray, method: str, threshold: float
) -> np.ndarray:
    """Level per pair of key sets: 0 where they overlap, else the best level of their keys."""
    worst = len(LEVELS[method]) - 1
    out = np.where(overlap, 0.0, float(worst))
    if method == "exact":
        return out
    level = level_function(method, threshold)
    todo = np.flatnonzero(~overlap)
    for i, x, y in zip(todo, left.gather(todo).to_list(), right.gather(todo).to_list(), strict=False):
        out[i] = set_level(x, y, level, worst)
    return out


def _side_sets(pairs: pl.DataFrame, side: str, sets: pl.DataFrame) -> pl.Series:
    """The key sets (``sets``: cluster, <kind>__set) of each pair's ``side``, in the pairs' order."""
    joined = pairs.select(side).join(
        sets, left_on=side, right_on="cluster", how="left", maintain_order="left"
    )
    return joined.get_column(sets.columns[1])


def compare_profiles(
    profile: pl.DataFrame, pairs: pl.DataFrame, config: IdentityConfig, kinds: list[str]
) -> pd.DataFrame:
    """Per pair and kind the agreement level of the two clusters' keys (:mod:`comparison`): 0 when
    their key sets overlap, else the best level over their keys; NaN when a side has none.

    One kind's sets are joined to the pairs at a time: at 2 M people there are millions of pairs,
    and every kind's sets of both sides at once outgrew one machine's memory."""
    out = {}
    for kind in kinds:
        sets = profile.select("cluster", f"{kind}__set")
        sets_a, sets_b = (_side_sets(pairs, side, sets) for side in ("cluster_a", "cluster_b"))
        present = (sets_a.is_not_null() & sets_b.is_not_null()).to_numpy()
        overlap = (
            pl.DataFrame({"x": sets_a, "y": sets_b})
            .select(pl.col("x").list.set_intersection(pl.col("y")).list.len().fill_null(0) > 0)
            .to_series()
            .to_numpy()
        )
        both_a, both_b = sets_a.filter(pl.Series(present)), sets_b.filter(pl.Series(present))
        levels = np.full(pairs.height, np.nan)
        levels[present] = _levels(
            both_a,
            both_b,
            overlap[present],
            config.attribute_kinds[kind].compare or "exact",
            config.matching.string_threshold,
        )
        out[kind] = levels
    return pd.DataFrame(out)


def sample_linked_pairs(keyed_nodes: pl.DataFrame) -> pl.DataFrame:
    """Consecutive nodes of the same deterministic cluster: pairs known to be one person."""
    ordered = keyed_nodes.select("node", "cluster").unique().sort("cluster", "node")
    nodes, clusters = ordered.get_column("node").to_numpy(), ordered.get_column("cluster").to_numpy()
    same = np.flatnonzero(clusters[1:] == clusters[:-1])
    if len(same) > SAMPLE_PAIRS:
        same = np.sort(np.random.default_rng(0).choice(same, SAMPLE_PAIRS, replace=False))
    return pl.DataFrame(
        {"cluster_a": nodes[same], "cluster_b": nodes[same + 1]},
        schema=dict.fromkeys(["cluster_a", "cluster_b"], pl.Int64),
    )


def sample_random_pairs(profile: pl.DataFrame) -> pl.DataFrame:
    """Random cluster pairs: almost surely different people."""
    clusters = profile.get_column("cluster").to_numpy()
    rng = np.random.default_rng(1)
    i, j = rng.integers(0, len(clusters), SAMPLE_PAIRS), rng.integers(0, len(clusters), SAMPLE_PAIRS)
    keep = i != j
    return pl.DataFrame(
        {"cluster_a": clusters[i[keep]], "cluster_b": clusters[j[keep]]},
        schema=dict.fromkeys(["cluster_a", "cluster_b"], pl.Int64),
    )


@dataclass(frozen=True)
class Profiled:
    """What matching reads of the keyed nodes: once built, the keyed frame (tens of millions of
    rows at 2 M people) can be freed before the pairs are compared and scored."""

    kinds: list[str]  # the compared kinds present
    profile: pl.DataFrame  # per cluster (:func:`profiles`)
    linked_pairs: pl.DataFrame  # node pairs known to be one person (:func:`sample_linked_pairs`)
    node_profile: pl.DataFrame  # their nodes' profiles


def profiled(keyed: pl.DataFrame, config: IdentityConfig) -> Profiled:
    """The profiles :func:`match_profiled` takes. ``keyed``: as :func:`match` takes it."""
    kinds = [
        k for k in config.compared_kinds if k in set(keyed.get_column("attribute_kind").unique().to_list())
    ]
    profile = profiles(keyed.select("cluster", "attribute_kind", "key"), kinds)
    linked_pairs = sample_linked_pairs(keyed)
    sampled = pl.concat(
        [linked_pairs.get_column("cluster_a"), linked_pairs.get_column("cluster_b")]
    ).implode()
    node_profile = profiles(
        keyed.filter(pl.col("node").is_in(sampled)).select(
            pl.col("node").alias("cluster"), "attribute_kind", "key"
        ),
        kinds,
    )
    return Profiled(kinds, profile, linked_pairs, node_profile)


def match(keyed: pl.DataFrame, config: IdentityConfig) -> MatchResult:
    """Fit the model on this graph and score its candidate cluster pairs; keep those with at least
    the configured match probability.

    ``keyed``: (node, cluster, attribute_kind, key) for the compared kinds."""
    return match_profiled(profiled(keyed, config), config)


def match_profiled(inputs: Profiled, config: IdentityConfig) -> MatchResult:
    """:func:`match` from the profiles :func:`profiled` built."""
    kinds, profile = inputs.kinds, inputs.profile
    empty = pl.DataFrame(schema=PAIRS_SCHEMA)
    if not kinds:
        return MatchResult(empty, 0, 0, {})
    pairs, skipped = candidate_pairs(profile, config.matching.blocking, config.matching.max_block_size)
    if pairs.is_empty():
        return MatchResult(empty, 0, skipped, {})
    linked = compare_profiles(inputs.node_profile, inputs.linked_pairs, config, kinds)
    random = compare_profiles(profile, sample_random_pairs(profile), config, kinds)
    # Prior: a fragment's person is one of the clusters, each equally likely a priori — so a pair
    # needs evidence worth about log2(clusters) bits before it becomes more likely than not.
    seed = FellegiSunter.fit(
        linked,
        random,
        1.0 / max(profile.height, 2),
        {k: config.attribute_kinds[k].compare or "exact" for k in kinds},
    )
    features = compare_profiles(profile, pairs, config, kinds)
    frequencies = Frequencies.of_profile(
        profile, name_kinds(config, kinds), list(config.matching.term_frequency_context)
    )
    tf_u, folded = adjust(profile, pairs, frequencies)
    model, fit = estimate(
        seed, features, tf_u, folded[[c for c in folded.columns if c in kinds]], config.matching.blocking
    )
    model = dataclasses.replace(model, context_shares=frequencies.shares())
    scored = score_pairs(profile, pairs, model, frequencies, config, skipped, (features, tf_u, folded))
    return dataclasses.replace(scored, fit=fit)


def name_kinds(config: IdentityConfig, kinds: list[str]) -> list[str]:
    return [k for k in kinds if config.attribute_kinds[k].compare == "name"]


def score_pairs(
    profile: pl.DataFrame,
    pairs: pl.DataFrame,
    model: FellegiSunter,
    frequencies: Frequencies,
    config: IdentityConfig,
    skipped: int = 0,
    compared: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None = None,
) -> MatchResult:
    """Score candidate pairs with a fitted model (an incremental run reuses the last full run's
    model and the graph-wide frequencies); keep those reaching ``min_probability``. ``compared``:
    the pairs' features and term-frequency adjustment when already computed."""
    kinds = [k for k in model.weights if f"{k}__set" in profile.columns]
    model = FellegiSunter({k: model.weights[k] for k in kinds}, model.prior, model.context_shares)
    if compared is None:
        compared = (compare_profiles(profile, pairs, config, kinds), *adjust(profile, pairs, frequencies))
    features, tf_u, folded = compared
    features, folded = features[kinds], folded[[c for c in folded.columns if c in kinds]]
    weight = model.log2_bayes_factors(features, tf_u, folded)
    score = posterior(weight, model.prior)
    keep = score >= config.matching.min_probability
    score = score[keep]
    contributions = (
        model.contributions(features[keep], tf_u[keep], folded[keep]).where(features[keep].notna()).round(3)
    )
    evidence = (
        pl.from_pandas(contributions.reset_index(drop=True))
        .select(pl.struct(pl.all()).struct.json_encode())
        .to_series()
    )
    scored = (
        pairs.filter(pl.Series(keep))
        .with_columns(
            score=pl.Series(score, dtype=pl.Float64), match_weight=pl.Series(weight[keep]), evidence=evidence
        )
        .cast(PAIRS_SCHEMA)
    )
    return MatchResult(scored, pairs.height, skipped, model.describe(), model.prior, model)
