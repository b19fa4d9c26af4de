"""Probabilistic matching (recordlinkage) for what strong identifiers did not settle.

Matching compares *clusters*, not single records: each deterministic cluster gets a profile — per
compared kind, the set of its keys and its most frequent key — so evidence spread over a person's
records (a name on one receipt, the store on another) adds up. Candidate pairs come from several
blocking passes (clusters sharing a value combination of every kind of a pass; a combination
shared by too many clusters is skipped as too common to be evidence). Two clusters agree on a kind
when their key sets overlap or, for name / string / digit comparisons, when recordlinkage finds
their main keys similar enough. A Fellegi–Sunter model fitted without hand labels
(:mod:`assets.identity.scoring`) turns agreements into a match probability.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import polars as pl
import recordlinkage as rl

from assets.identity.scoring import FellegiSunter
from assets.identity.settings import IdentityConfig

PAIRS_SCHEMA = {
    "cluster_a": pl.Int64,
    "cluster_b": pl.Int64,
    "score": pl.Float64,
    "match_weight": pl.Float64,
    "evidence": pl.String,
}
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


def _similar(
    frame: pd.DataFrame, pairs: pd.MultiIndex, config: IdentityConfig, kinds: list[str]
) -> pd.DataFrame:
    """recordlinkage's string comparisons of single keys (1 similar, 0 not, NaN missing)."""
    comparer = rl.Compare()
    threshold = config.matching.string_threshold
    for kind in kinds:
        method = config.attribute_kinds[kind].compare
        if method == "exact":
            comparer.exact(kind, kind, missing_value=np.nan, label=kind)
        elif method in ("name", "string"):
            comparer.string(
                kind, kind, method="jarowinkler", threshold=threshold, missing_value=np.nan, label=kind
            )
        elif method == "digits":  # one mistyped digit in an 11-digit number still agrees
            comparer.string(kind, kind, method="levenshtein", threshold=0.9, missing_value=np.nan, label=kind)
    return comparer.compute(pairs, frame).reset_index(drop=True)


def compare_profiles(
    profile: pl.DataFrame, pairs: pl.DataFrame, config: IdentityConfig, kinds: list[str]
) -> pd.DataFrame:
    """Per pair and kind: 1 when the key sets overlap or the main keys are similar, 0 when both
    sides have keys and neither holds, NaN when a side has none."""
    a = pairs.join(profile, left_on="cluster_a", right_on="cluster", how="left")
    b = pairs.join(profile, left_on="cluster_b", right_on="cluster", how="left")
    left = a.select(kinds).to_pandas()
    right = b.select(kinds).to_pandas()
    frame = pd.concat([left, right], ignore_index=True)
    similar = (
        _similar(
            frame,
            pd.MultiIndex.from_arrays([np.arange(pairs.height), np.arange(pairs.height) + pairs.height]),
            config,
            kinds,
        )
        if pairs.height
        else pd.DataFrame(columns=kinds)
    )
    out = {}
    for kind in kinds:
        sets_a, sets_b = a.get_column(f"{kind}__set"), b.get_column(f"{kind}__set")
        overlap = (
            pl.DataFrame({"x": sets_a, "y": sets_b})
            .select(pl.col("x").list.set_intersection(pl.col("y")).list.len() > 0)
            .to_series()
            .to_numpy()
        )
        present = (sets_a.is_not_null() & sets_b.is_not_null()).to_numpy()
        agree = overlap.astype(bool) | (similar[kind].to_numpy() == 1)
        out[kind] = np.where(present, agree.astype(float), np.nan)
    return pd.DataFrame(out)


def _linked_pairs(keyed_nodes: pl.DataFrame) -> pl.DataFrame:
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


def _random_pairs(profile: pl.DataFrame) -> pl.DataFrame:
    """Random cluster pairs: almost surely different people."""
    clusters = profile.get_column("cluster").to_numpy()
    rng = np.random.default_rng(1)
    i, j = rng.integers(0, len(clusters), SAMPLE_PAIRS), rng.integers(0, len(clusters), SAMPLE_PAIRS)
    keep = i != j
    return pl.DataFrame(
        {"cluster_a": clusters[i[keep]], "cluster_b": clusters[j[keep]]},
        schema=dict.fromkeys(["cluster_a", "cluster_b"], pl.Int64),
    )


def name_frequencies(profile: pl.DataFrame, kinds: list[str]) -> dict[str, pl.DataFrame]:
    """Per name kind, the share of clusters holding each key (``kind``, ``u``)."""
    return {
        kind: (
            profile.select(pl.col(f"{kind}__set").alias(kind))
            .drop_nulls()
            .explode(kind)
            .group_by(kind)
            .len()
            .with_columns(u=pl.col("len") / profile.height)
            .select(kind, "u")
        )
        for kind in kinds
    }


def _term_frequencies(
    profile: pl.DataFrame, pairs: pl.DataFrame, frequencies: dict[str, pl.DataFrame]
) -> pd.DataFrame:
    """Per pair, the share of clusters holding the rarest shared value, for name kinds (NaN if none)."""
    out = {}
    for kind, freq in frequencies.items():
        column = f"{kind}__set"
        shared = (
            pairs.with_row_index("i")
            .join(
                profile.select("cluster", pl.col(column).alias("x")), left_on="cluster_a", right_on="cluster"
            )
            .join(
                profile.select("cluster", pl.col(column).alias("y")), left_on="cluster_b", right_on="cluster"
            )
            .select("i", pl.col("x").list.set_intersection(pl.col("y")).alias(kind))
            .explode(kind)
            .drop_nulls()
            .join(freq, on=kind)
            .group_by("i")
            .agg(pl.col("u").min())
        )
        u = np.full(pairs.height, np.nan)
        u[shared.get_column("i").to_numpy()] = shared.get_column("u").to_numpy()
        out[kind] = u
    return pd.DataFrame(out)


def match(keyed: pl.DataFrame, config: IdentityConfig) -> MatchResult:
    """Fit the model on this graph and score its candidate cluster pairs; keep those with at least
    the configured match probability.

    ``keyed``: (node, cluster, attribute_kind, key) for the compared kinds."""
    kinds = [
        k for k in config.compared_kinds if k in set(keyed.get_column("attribute_kind").unique().to_list())
    ]
    empty = pl.DataFrame(schema=PAIRS_SCHEMA)
    if not kinds:
        return MatchResult(empty, 0, 0, {})
    profile = profiles(keyed.select("cluster", "attribute_kind", "key"), kinds)
    pairs, skipped = candidate_pairs(profile, config.matching.blocking, config.matching.max_block_size)
    if pairs.is_empty():
        return MatchResult(empty, 0, skipped, {})

    linked_pairs = _linked_pairs(keyed)
    sampled = pl.concat(
        [linked_pairs.get_column("cluster_a"), linked_pairs.get_column("cluster_b")]
    ).implode()
    node_profile = profiles(
        keyed.filter(pl.col("node").is_in(sampled)).select(
            pl.col("node").alias("cluster"), "attribute_kind", "key"
        ),
        kinds,
    )
    linked = compare_profiles(node_profile, linked_pairs, config, kinds)
    random = compare_profiles(profile, _random_pairs(profile), config, kinds)
    # Prior: a fragment's person is one of the clusters, each equally likely a priori — so a pair
    # needs evidence worth about log2(clusters) bits before it becomes more likely than not.
    model = FellegiSunter.fit(linked, random, 1.0 / max(profile.height, 2), kinds)
    frequencies = name_frequencies(profile, [k for k in kinds if config.attribute_kinds[k].compare == "name"])
    return score_pairs(profile, pairs, model, frequencies, config, skipped)


def score_pairs(
    profile: pl.DataFrame,
    pairs: pl.DataFrame,
    model: FellegiSunter,
    frequencies: dict[str, pl.DataFrame],
    config: IdentityConfig,
    skipped: int = 0,
) -> MatchResult:
    """Score candidate pairs with a fitted model (an incremental run reuses the last full run's
    model and the graph-wide name frequencies); keep those reaching ``min_probability``."""
    kinds = [k for k in model.weights if f"{k}__set" in profile.columns]
    model = FellegiSunter({k: model.weights[k] for k in kinds}, model.prior)
    features = compare_profiles(profile, pairs, config, kinds)
    tf_u = _term_frequencies(profile, pairs, {k: f for k, f in frequencies.items() if k in kinds})
    weight = model.log2_bayes_factors(features, tf_u)
    score = model.probabilities(features, tf_u)
    keep = score >= config.matching.min_probability
    score = score[keep]
    contributions = model.contributions(features[keep], tf_u[keep]).where(features[keep].notna()).round(3)
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
