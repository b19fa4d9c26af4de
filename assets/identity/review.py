"""The candidate pairs a reviewer should look at, and what the threshold does to them.

A full run scores its candidate pairs down to ``review.floor`` instead of the merge threshold
(``matching.min_probability``); the pairs reaching the threshold go on to merging as before and
every pair kept is recorded with its decision:

* ``accepted``: at or above the threshold, and the two clusters ended as one person;
* ``refused``: at or above the threshold, but kept apart (ambiguous, conflicting, pinned apart);
* ``rejected``: below the threshold.

Its distance to the threshold is measured in bits of evidence (``margin_bits``: the pair's
log-odds minus the threshold's), since probabilities crowd near 0 and 1. The pairs closest to the
threshold on each side (``review.pairs`` of each) are the review queue (``marts.identity_review``);
those within ``review.margin_bits`` are counted in ``kpi_identity`` as the links just above and
just below; with ground truth, all of them give the precision / recall curve over the threshold
(:func:`assets.identity.evaluation.threshold_curve`)."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import cast

import numpy as np
import polars as pl

from assets.identity.link_rows import first_nodes
from assets.identity.results import CANDIDATES_SCHEMA, NODE_KEYS
from assets.identity.settings import IdentityConfig

EPSILON = 1e-12


def scoring_config(config: IdentityConfig) -> IdentityConfig:
    """``config`` scoring pairs down to the review floor (the threshold is applied after)."""
    floor = min(config.review.floor, config.matching.min_probability)
    return dataclasses.replace(config, matching=dataclasses.replace(config.matching, min_probability=floor))


def above_threshold(scored: pl.DataFrame, config: IdentityConfig) -> pl.DataFrame:
    """The scored pairs that may merge: those reaching ``matching.min_probability``."""
    return scored.filter(pl.col("score") >= config.matching.min_probability)


def log2_odds(p: np.ndarray | float) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), EPSILON, 1 - EPSILON)
    return np.log2(p / (1 - p))


def candidate_rows(
    scored: pl.DataFrame, final: pl.DataFrame, nodes: pl.DataFrame, config: IdentityConfig, run_id: str
) -> pl.DataFrame:
    """The pairs kept for review (:data:`~assets.identity.results.CANDIDATES_SCHEMA`).

    ``scored``: (cluster_a, cluster_b, score, evidence) of deterministic clusters; ``final``: (node,
    det, cluster) after matching; ``nodes``: (node, source, record_id, record_type)."""
    threshold, review = config.matching.min_probability, config.review
    kept = pl.concat(
        [
            scored.filter(pl.col("score") >= threshold),
            scored.filter(pl.col("score") < threshold)
            .sort("score", "cluster_a", "cluster_b", descending=[True, False, False])
            .head(review.max_candidates),
        ]
    )
    if kept.is_empty():
        return pl.DataFrame(schema=CANDIDATES_SCHEMA)
    involved = pl.concat([kept.get_column("cluster_a"), kept.get_column("cluster_b")])
    final = final.filter(pl.col("det").is_in(involved.implode()))  # 22 M nodes at 2 M people
    cluster = final.select("det", "cluster").unique("det")
    first = first_nodes(final, nodes, involved).join(nodes.select("node", *NODE_KEYS), on="node").drop("node")
    margin = log2_odds(kept.get_column("score").to_numpy()) - float(log2_odds(threshold))
    agreed, disagreed = _evidence_kinds(kept.get_column("evidence").to_list())
    rows = (
        kept.with_columns(margin_bits=pl.Series(np.round(margin, 3)), agreed=agreed, disagreed=disagreed)
        .join(cluster.rename({"det": "cluster_a", "cluster": "final_a"}), on="cluster_a")
        .join(cluster.rename({"det": "cluster_b", "cluster": "final_b"}), on="cluster_b")
        .with_columns(
            decision=pl.when(pl.col("score") < threshold)
            .then(pl.lit("rejected"))
            .when(pl.col("final_a") == pl.col("final_b"))
            .then(pl.lit("accepted"))
            .otherwise(pl.lit("refused"))
        )
        .join(first.rename({k: f"{k}_a" for k in NODE_KEYS}), left_on="cluster_a", right_on="det")
        .join(first.rename({k: f"{k}_b" for k in NODE_KEYS}), left_on="cluster_b", right_on="det")
    )
    return (
        rows.sort(pl.col("margin_bits").abs(), "cluster_a", "cluster_b")
        .with_columns(
            near_threshold=pl.col("margin_bits").abs() <= review.margin_bits,
            review_rank=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over(pl.col("score") >= threshold),
            threshold=pl.lit(threshold),
            run_id=pl.lit(run_id),
        )
        .with_columns(in_review=pl.col("review_rank") <= review.pairs)
        .select(list(CANDIDATES_SCHEMA))
        .cast(CANDIDATES_SCHEMA)
        .sort("in_review", "review_rank", "decision", descending=[True, False, False])
    )


def _evidence_kinds(evidence: list[str | None]) -> tuple[pl.Series, pl.Series]:
    """The kinds that spoke for the pair (positive log2 Bayes factor) and against it (negative)."""
    agreed, disagreed = [], []
    for text in evidence:
        weights = {k: v for k, v in json.loads(text or "{}").items() if v is not None and not math.isnan(v)}
        agreed.append(sorted(k for k, v in weights.items() if v > 0))
        disagreed.append(sorted(k for k, v in weights.items() if v < 0))
    return pl.Series(agreed, dtype=pl.List(pl.String)), pl.Series(disagreed, dtype=pl.List(pl.String))


def threshold_figures(candidates: pl.DataFrame) -> dict[str, float | int]:
    """What the threshold does without ground truth: the expected precision of the accepted pairs
    (the mean of their match probabilities: each is right with its probability, if the model is
    calibrated) and how many pairs sit just above and just below it (``near_threshold``) — the
    ones a reviewer should sample."""
    accepted = candidates.filter(pl.col("decision") == "accepted").get_column("score")
    near = candidates.filter(pl.col("near_threshold"))
    return {
        "expected_precision_accepted": round(cast(float, accepted.mean()), 5) if accepted.len() else 1.0,
        "pairs_just_above_threshold": near.filter(pl.col("margin_bits") >= 0).height,
        "pairs_just_below_threshold": near.filter(pl.col("margin_bits") < 0).height,
        "pairs_in_review": candidates.filter(pl.col("in_review")).height,
    }
