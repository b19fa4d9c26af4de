"""How good the identity graph is: against ground truth when there is one, and always without.

Pairwise precision / recall / F1 count record pairs placed together; B-cubed scores average, per
record, how much of its cluster is its person and how much of its person is its cluster — so one
giant wrong cluster and many small splits both show. Records are evaluated where a truth exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import polars as pl


def _pairs(counts: pl.Expr) -> pl.Expr:
    return (counts * (counts - 1) / 2).sum()


def truth_scores(resolved: pl.DataFrame, truth: pl.DataFrame) -> dict[str, float | int]:
    """Scores of ``resolved`` (source, record_id, unified_id) against ``truth`` (source, record_id,
    person_id) over the records present in both."""
    joined = resolved.select(pl.col("source").cast(pl.String), "record_id", "unified_id").join(
        truth.select("source", "record_id", "person_id"), on=["source", "record_id"]
    )
    if joined.is_empty():
        return {"evaluated_records": 0}
    cells = joined.group_by("unified_id", "person_id").len("n")
    by_cluster = joined.group_by("unified_id").len("n")
    by_person = joined.group_by("person_id").len("n")
    tp = cells.select(_pairs(pl.col("n").cast(pl.Float64))).item()
    predicted = by_cluster.select(_pairs(pl.col("n").cast(pl.Float64))).item()
    actual = by_person.select(_pairs(pl.col("n").cast(pl.Float64))).item()
    precision = tp / predicted if predicted else 1.0
    recall = tp / actual if actual else 1.0
    # B-cubed: each record weighs |cluster ∩ person|² / |cluster| (precision) or / |person| (recall)
    b3 = (
        cells.join(by_cluster.rename({"n": "cluster_n"}), on="unified_id")
        .join(by_person.rename({"n": "person_n"}), on="person_id")
        .select(
            (pl.col("n") ** 2 / pl.col("cluster_n")).sum().alias("p"),
            (pl.col("n") ** 2 / pl.col("person_n")).sum().alias("r"),
        )
    )
    b3_p, b3_r = (v / joined.height for v in b3.row(0))
    persons_per_cluster = cells.group_by("unified_id").len("persons")
    clusters_per_person = cells.group_by("person_id").len("clusters")
    return {
        "evaluated_records": joined.height,
        "pairwise_precision": round(precision, 5),
        "pairwise_recall": round(recall, 5),
        "pairwise_f1": round(2 * precision * recall / (precision + recall), 5) if precision + recall else 0.0,
        "bcubed_precision": round(b3_p, 5),
        "bcubed_recall": round(b3_r, 5),
        "bcubed_f1": round(2 * b3_p * b3_r / (b3_p + b3_r), 5) if b3_p + b3_r else 0.0,
        "over_merged_clusters": persons_per_cluster.filter(pl.col("persons") > 1).height,
        "under_merged_people": clusters_per_person.filter(pl.col("clusters") > 1).height,
        "people": by_person.height,
        "largest_true_person": cast(int, by_person.get_column("n").max() or 0),
        "largest_cluster": cast(int, by_cluster.get_column("n").max() or 0),
    }


def health(resolved: pl.DataFrame, giant_threshold: int) -> dict[str, float | int]:
    """Label-free health of the graph: cluster sizes, singletons, giant components."""
    records = resolved.filter(pl.col("record_type") == "record")
    sizes = records.drop_nulls("unified_id").group_by("unified_id").len("n")
    return {
        "clusters": sizes.height,
        "singleton_share": round(sizes.filter(pl.col("n") == 1).height / max(sizes.height, 1), 4),
        "records_per_user": round(records.height / max(sizes.height, 1), 3),
        "largest_cluster": cast(int, sizes.get_column("n").max() or 0),
        "giant_clusters": sizes.filter(pl.col("n") > giant_threshold).height,
        "probabilistic_share": round(
            records.filter(pl.col("method") == "probabilistic").height / max(records.height, 1), 4
        ),
    }


CURVE_SCHEMA = pl.Schema(
    {
        "threshold": pl.Float64(),
        "accepted_pairs": pl.Int64(),
        "true_pairs": pl.Int64(),
        "precision": pl.Float64(),
        "recall": pl.Float64(),
        "f1": pl.Float64(),
    }
)


def threshold_curve(
    candidates: pl.DataFrame, truth: pl.DataFrame | None, thresholds: tuple[float, ...]
) -> pl.DataFrame:
    """Precision, recall and F1 of the match decisions if ``matching.min_probability`` were each of
    ``thresholds``: over the scored candidate pairs (:mod:`assets.identity.review`) whose two
    records have a truth, a pair accepted at t when its score reaches t, right when both records are
    one person. Pairs the conflict and ambiguity rules refused are left out: the threshold does not
    decide them. Recall is out of the true pairs among the candidates — what the threshold can reach
    (blocking and deterministic links are not its doing). Thresholds below the kept pairs' floor
    are left out. Without a truth (a deployment has none) the curve is empty."""
    if truth is None:
        return pl.DataFrame(schema=CURVE_SCHEMA)
    person = truth.select("source", "record_id", "person_id")
    labelled = (
        candidates.filter(pl.col("decision") != "refused")
        .select("source_a", "record_id_a", "source_b", "record_id_b", "score")
        .join(
            person.rename({"source": "source_a", "record_id": "record_id_a", "person_id": "person_a"}),
            on=["source_a", "record_id_a"],
        )
        .join(
            person.rename({"source": "source_b", "record_id": "record_id_b", "person_id": "person_b"}),
            on=["source_b", "record_id_b"],
        )
        .select("score", same=pl.col("person_a") == pl.col("person_b"))
    )
    if labelled.is_empty():
        return pl.DataFrame(schema=CURVE_SCHEMA)
    # polars types a column's aggregates for every dtype; these are a Float64's min and a Boolean's sum
    floor = cast(float, candidates.get_column("score").min())
    positives = cast(int, labelled.get_column("same").sum())
    rows = []
    for t in (t for t in thresholds if t >= floor):
        accepted = labelled.filter(pl.col("score") >= t)
        tp = int(accepted.get_column("same").sum())
        precision = tp / accepted.height if accepted.height else 1.0
        recall = tp / positives if positives else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append((t, accepted.height, tp, round(precision, 5), round(recall, 5), round(f1, 5)))
    return pl.DataFrame(rows, schema=CURVE_SCHEMA, orient="row")


def read_truth(landing: Path) -> pl.DataFrame | None:
    """The generator's (or a labelled sample's) truth in ``landing/_truth/records.csv``, read only
    for evaluation; None when the deployment has none."""
    path = landing / "_truth" / "records.csv"
    if not path.exists():
        return None
    return pl.read_csv(
        path, schema_overrides={"source": pl.String, "record_id": pl.String, "person_id": pl.String}
    )
