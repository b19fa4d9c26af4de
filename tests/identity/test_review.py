"""The review queue and the threshold figures: which scored pairs are kept, with what decision and
evidence, what the threshold does without and with ground truth, and the marts masking them."""

import dataclasses

import polars as pl
import pytest

from assets.identity.evaluation import threshold_curve
from assets.identity.pin_settings import ReviewConfig
from assets.identity.review import threshold_figures
from assets.identity.settings import identity_config
from tests.identity.helpers import StagedWarehouse, ids, run
from tests.identity.test_matching import population, store_rows

PEOPLE = population(400)
(P0, NAME0, STORE0), (P1, NAME1, STORE1) = PEOPLE[:2]
# walkin: a name-only receipt at P0's store (accepted); doubt: P1's name at P1's store, but another
# birth date (rejected, just below the threshold); two members share a name at one store (refused)
ROWS = store_rows(PEOPLE) + [
    ("pos", "walkin", "record", "person_name", "", NAME0, 50),
    ("pos", "walkin", "record", "store", "", STORE0, 50),
    ("pos", "walkin", "record", "mobile", "", "13912345678", 50),
    ("pos", f"{P1}-card0", "record", "birth_date", "", "1980-01-02", 0),
    ("pos", "doubt", "record", "person_name", "", NAME1, 51),
    ("pos", "doubt", "record", "store", "", STORE1, 51),
    ("pos", "doubt", "record", "birth_date", "", "1991-05-06", 51),
    ("pos", "doubt", "record", "email", "", "doubt@example.cn", 51),
    ("pos", "twin", "record", "member_id", "", "MTWIN", 52),
    ("pos", "twin", "record", "person_name", "", NAME0, 52),
    ("pos", "twin", "record", "store", "", STORE0, 52),
]


def pair(candidates: pl.DataFrame, record: str) -> dict:
    return candidates.filter((pl.col("record_id_a") == record) | (pl.col("record_id_b") == record)).row(
        0, named=True
    )


def test_a_full_run_keeps_its_pairs_near_the_threshold_with_decision_and_evidence():
    result = run(ROWS[:-3])
    found, candidates = ids(result), result.candidates
    assert found["pos/walkin"] == found[f"pos/{P0}-card0"] and found["pos/doubt"] != found[f"pos/{P1}-card0"]
    walkin, doubt = pair(candidates, "walkin"), pair(candidates, "doubt")
    assert (walkin["decision"], walkin["agreed"], walkin["disagreed"]) == (
        "accepted",
        ["person_name", "store"],
        [],
    )
    assert (doubt["decision"], doubt["agreed"], doubt["disagreed"]) == (
        "rejected",
        ["person_name", "store"],
        ["birth_date"],
    )
    assert doubt["score"] < doubt["threshold"] == 0.5 <= walkin["score"]
    assert doubt["margin_bits"] < 0 < walkin["margin_bits"]
    assert {doubt["record_id_a"], doubt["record_id_b"]} == {"doubt", f"{P1}-card0"}  # shown between records
    assert candidates.get_column("score").min() >= identity_config().review.floor
    assert walkin["review_rank"] == doubt["review_rank"] == 1 and walkin["in_review"] and doubt["in_review"]


def test_pairs_above_the_threshold_kept_apart_are_refused():
    candidates = run(ROWS).candidates
    assert pair(candidates, "twin")["decision"] == "refused"


def test_the_review_queue_is_bounded_and_takes_the_closest_pairs_of_each_side():
    config = dataclasses.replace(identity_config(), review=ReviewConfig(pairs=1, max_candidates=1))
    candidates = run(ROWS, config).candidates
    rejected = candidates.filter(pl.col("decision") == "rejected")
    assert rejected.height == 1  # max_candidates: the highest-scored rejected pair only
    queue = candidates.filter(pl.col("in_review"))
    assert queue.height == 2 and sorted(queue.get_column("review_rank")) == [1, 1]
    above = candidates.filter(pl.col("score") >= 0.5).with_columns(m=pl.col("margin_bits").abs())
    assert (
        queue.filter(pl.col("score") >= 0.5).get_column("margin_bits").abs().item()
        == above.get_column("m").min()
    )


def test_without_truth_the_threshold_figures_are_the_expected_precision_and_the_pairs_around_it():
    config = dataclasses.replace(identity_config(), review=ReviewConfig(margin_bits=1.0))
    candidates = run(ROWS[:-3], config).candidates
    figures = threshold_figures(candidates)
    accepted = candidates.filter(pl.col("decision") == "accepted").get_column("score")
    assert figures["expected_precision_accepted"] == pytest.approx(accepted.mean(), abs=1e-5)
    assert figures["expected_precision_accepted"] < 1
    assert figures["pairs_just_below_threshold"] == 1  # doubt, 0.9 bits short
    assert figures["pairs_just_above_threshold"] == 0  # walkin has 2.4 bits to spare


def test_with_truth_the_curve_trades_precision_for_recall_over_the_threshold():
    candidates = pl.DataFrame(
        {
            "source_a": ["s"] * 4,
            "record_id_a": ["a1", "a2", "a3", "a4"],
            "source_b": ["s"] * 4,
            "record_id_b": ["b1", "b2", "b3", "b4"],
            "score": [0.95, 0.7, 0.4, 0.2],
            "decision": ["accepted", "accepted", "rejected", "rejected"],
        }
    )
    truth = pl.DataFrame(
        {
            "source": ["s"] * 8,
            "record_id": ["a1", "b1", "a2", "b2", "a3", "b3", "a4", "b4"],
            "person_id": ["p1", "p1", "p2", "x", "p3", "p3", "p4", "y"],
        }
    )
    refused = candidates.head(1).with_columns(
        record_id_a=pl.lit("a4"), record_id_b=pl.lit("b1"), decision=pl.lit("refused")
    )
    assert threshold_curve(pl.concat([candidates, refused]), truth, (0.9,)).row(0) == (
        0.9,
        1,
        1,
        1.0,
        0.5,
        0.66667,
    )
    curve = threshold_curve(candidates, truth, (0.1, 0.2, 0.5, 0.9))
    rows = {r["threshold"]: r for r in curve.iter_rows(named=True)}
    assert 0.1 not in rows  # below the lowest kept score: pairs there were not kept
    assert (rows[0.2]["precision"], rows[0.2]["recall"]) == (0.5, 1.0)
    assert (rows[0.5]["precision"], rows[0.5]["recall"]) == (0.5, 0.5)
    assert (rows[0.9]["precision"], rows[0.9]["recall"], rows[0.9]["accepted_pairs"]) == (1.0, 0.5, 1)
    assert rows[0.2]["f1"] == pytest.approx(2 / 3, abs=1e-4)


def test_the_candidates_are_stored_by_a_full_run_and_kept_by_an_increment(tmp_path):
    warehouse = StagedWarehouse(tmp_path / "warehouse.duckdb")
    warehouse.add(ROWS)
    warehouse.resolve()
    stored = warehouse.table("match_candidates")
    # walkin is ambiguous between P0 and the twin: refused
    assert stored.height > 0 and set(stored.get_column("decision")) == {"refused", "rejected"}
    assert warehouse.table("threshold_curve").is_empty()
    warehouse.add([("pos", "late", "record", "email", "", "late@x.cn", 90)])
    warehouse.resolve(
        dataclasses.replace(
            identity_config(),
            incremental=dataclasses.replace(identity_config().incremental, max_changed_share=1.0),
        )
    )
    assert warehouse.table("match_candidates").equals(stored)
