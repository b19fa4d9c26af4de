"""Match-quality scores on clusterings whose scores are worked out by hand."""

import polars as pl
import pytest

from assets.identity.evaluation import health, truth_scores

TRUTH = pl.DataFrame(
    {"source": ["s"] * 6, "record_id": list("abcdef"), "person_id": ["P", "P", "P", "Q", "Q", "R"]}
)


def resolved(clusters: dict[str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "source": ["s"] * len(clusters),
            "record_id": list(clusters),
            "unified_id": list(clusters.values()),
            "record_type": ["record"] * len(clusters),
            "method": ["deterministic"] * len(clusters),
        }
    )


def test_a_perfect_clustering_scores_one():
    scores = truth_scores(resolved({"a": "1", "b": "1", "c": "1", "d": "2", "e": "2", "f": "3"}), TRUTH)
    assert scores["pairwise_f1"] == 1 and scores["bcubed_f1"] == 1
    assert scores["over_merged_clusters"] == scores["under_merged_people"] == 0


def test_one_split_and_one_wrong_merge():
    # P split into {a,b} and {c}; c wrongly merged with Q's {d,e}
    scores = truth_scores(resolved({"a": "1", "b": "1", "c": "2", "d": "2", "e": "2", "f": "3"}), TRUTH)
    # predicted pairs: ab, cd, ce, de = 4, correct: ab, de = 2; true pairs: ab, ac, bc, de = 4
    assert scores["pairwise_precision"] == pytest.approx(0.5) and scores["pairwise_recall"] == pytest.approx(
        0.5
    )
    # B-cubed precision per record: a,b 1; c 1/3; d,e 2/3; f 1 -> (2 + 1/3 + 4/3 + 1) / 6
    assert scores["bcubed_precision"] == pytest.approx((2 + 1 / 3 + 4 / 3 + 1) / 6, abs=1e-5)
    # B-cubed recall: a,b 2/3; c 1/3; d,e 1; f 1 -> (4/3 + 1/3 + 3) / 6
    assert scores["bcubed_recall"] == pytest.approx((4 / 3 + 1 / 3 + 3) / 6, abs=1e-5)
    assert scores["over_merged_clusters"] == 1 and scores["under_merged_people"] == 1
    assert scores["largest_cluster"] == 3 and scores["largest_true_person"] == 3


def test_health_counts_singletons_and_giants():
    figures = health(
        resolved({"a": "1", "b": "1", "c": "1", "d": "2", "e": "3", "f": "4"}), giant_threshold=2
    )
    assert figures["clusters"] == 4 and figures["singleton_share"] == 0.75 and figures["giant_clusters"] == 1
