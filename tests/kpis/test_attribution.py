"""Attribution engine: hand-worked cases for every model, reconciliation properties on random paths,
the Shapley implementations against the definition and each other, and path building."""

import itertools
import math
from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assets.kpis.attribution import (
    DIRECT,
    OUTPUT_SCHEMA,
    AttributionSettings,
    Paths,
    attribute,
    build_non_converting_paths,
    build_paths,
    channel_sets,
    markov_removal_effects,
    markov_transition_matrix,
    shapley_exact,
    shapley_sampled,
)

T0 = datetime(2026, 5, 1)
DAY = timedelta(days=1)


def credits(result: pl.DataFrame, model: str) -> dict[tuple[str, str | None], tuple[float, float]]:
    rows = result.filter(pl.col("model") == model).iter_rows(named=True)
    return {
        (r["channel"], r["campaign_id"]): (r["attributed_conversions"], r["attributed_value"]) for r in rows
    }


def assert_credits(result: pl.DataFrame, model: str, expected: dict) -> None:
    got = credits(result, model)
    assert set(got) == set(expected), model
    for key, (conversions, value) in expected.items():
        assert got[key] == pytest.approx((conversions, value), abs=1e-9), (model, key)


def frames(touches: list[tuple], conversions: list[tuple]) -> tuple[pl.DataFrame, pl.DataFrame]:
    tp = pl.DataFrame(
        touches,
        schema={
            "unified_id": pl.String,
            "occurred_at": pl.Datetime("us"),
            "channel": pl.String,
            "campaign_id": pl.String,
        },
        orient="row",
    )
    cv = pl.DataFrame(
        conversions,
        schema={
            "unified_id": pl.String,
            "converted_at": pl.Datetime("us"),
            "conversion_id": pl.String,
            "value": pl.Float64,
        },
        orient="row",
    )
    return tp, cv


# --- rule-based models, by hand ------------------------------------------------------------------------
#
# Three conversions, built from timestamps (Δ = days before the conversion):
#   u1, value 100:  A/c1 (Δ5) → B (Δ3) → C/c2 (Δ1)
#   u2, value  60:  B (Δ3) → A (Δ1)
#   u3, value  40:  A (Δ0.5)
# Time decay with half-life 2 days: weights 2^(−Δ/2)
#   u1: 2^−2.5 : 2^−1.5 : 2^−0.5 = 1 : 2 : 4  → 1/7, 2/7, 4/7
#   u2: 2^−1.5 : 2^−0.5          = 1 : 2      → 1/3, 2/3
#   u3: 1
# Position based (40/20/40): u1 → .4/.2/.4; u2 (two touches) → .5/.5; u3 → 1.
#
# Credits per (channel, campaign) as (conversions, value):
#   first_touch     A/c1 (1, 100)       B (1, 60)                 C/c2 (0, 0)         A (1, 40)
#   last_touch      A/c1 (0, 0)         B (0, 0)                  C/c2 (1, 100)       A (2, 100)  [u2 + u3]
#   linear          A/c1 (1/3, 100/3)   B (1/3+1/2, 100/3+30)     C/c2 (1/3, 100/3)   A (1/2+1, 30+40)
#   time_decay      A/c1 (1/7, 100/7)   B (2/7+1/3, 200/7+20)     C/c2 (4/7, 400/7)   A (2/3+1, 40+40)
#   position_based  A/c1 (.4, 40)       B (.2+.5, 20+30)          C/c2 (.4, 40)       A (.5+1, 30+40)
RULE_EXPECTED = {
    "first_touch": {("A", "c1"): (1, 100), ("B", None): (1, 60), ("C", "c2"): (0, 0), ("A", None): (1, 40)},
    "last_touch": {("A", "c1"): (0, 0), ("B", None): (0, 0), ("C", "c2"): (1, 100), ("A", None): (2, 100)},
    "linear": {
        ("A", "c1"): (1 / 3, 100 / 3),
        ("B", None): (5 / 6, 100 / 3 + 30),
        ("C", "c2"): (1 / 3, 100 / 3),
        ("A", None): (1.5, 70),
    },
    "time_decay": {
        ("A", "c1"): (1 / 7, 100 / 7),
        ("B", None): (2 / 7 + 1 / 3, 200 / 7 + 20),
        ("C", "c2"): (4 / 7, 400 / 7),
        ("A", None): (5 / 3, 80),
    },
    "position_based": {
        ("A", "c1"): (0.4, 40),
        ("B", None): (0.7, 50),
        ("C", "c2"): (0.4, 40),
        ("A", None): (1.5, 70),
    },
}


def rule_case() -> Paths:
    t1, t2, t3 = T0 + 10 * DAY, T0 + 20 * DAY, T0 + 30 * DAY
    tp, cv = frames(
        [
            ("u1", t1 - 5 * DAY, "A", "c1"),
            ("u1", t1 - 3 * DAY, "B", None),
            ("u1", t1 - DAY, "C", "c2"),
            ("u2", t2 - 3 * DAY, "B", None),
            ("u2", t2 - DAY, "A", None),
            ("u3", t3 - DAY / 2, "A", None),
        ],
        [("u1", t1, "x1", 100.0), ("u2", t2, "x2", 60.0), ("u3", t3, "x3", 40.0)],
    )
    return build_paths(tp, cv, AttributionSettings(time_decay_half_life_days=2.0))


@pytest.mark.parametrize("model", list(RULE_EXPECTED))
def test_rule_based_models_by_hand(model):
    result = attribute(rule_case(), AttributionSettings(time_decay_half_life_days=2.0, models=(model,)))
    assert result.schema == pl.Schema(OUTPUT_SCHEMA)
    assert_credits(result, model, RULE_EXPECTED[model])


def test_position_based_spreads_the_middle_and_splits_pairs_in_proportion():
    # four touches: .4 / (.2 / 2) / (.2 / 2) / .4; with first .3, last .5 a pair splits .3 : .5 = 3/8 : 5/8
    paths = Paths.from_sequences([(["A", "B", "C", "D"], 10.0), (["E", "F"], 8.0)])
    result = attribute(paths, AttributionSettings(models=("position_based",)))
    assert_credits(
        result,
        "position_based",
        {
            ("A", None): (0.4, 4),
            ("B", None): (0.1, 1),
            ("C", None): (0.1, 1),
            ("D", None): (0.4, 4),
            ("E", None): (0.5, 4),
            ("F", None): (0.5, 4),
        },
    )
    skewed = attribute(
        paths, AttributionSettings(position_first=0.3, position_last=0.5, models=("position_based",))
    )
    assert credits(skewed, "position_based")[("E", None)] == pytest.approx((3 / 8, 3))
    assert credits(skewed, "position_based")[("B", None)] == pytest.approx((0.1, 1))


def test_time_decay_survives_old_touches():
    # Δ of 0 and 3000 days with a half-life of 1 day: 2^−3000 underflows to 0 without re-basing per path
    paths = Paths.from_sequences([([("A", 3000.0), ("B", 0.0)], 1.0), ([("A", 3001.0), ("B", 3000.0)], 1.0)])
    result = attribute(paths, AttributionSettings(time_decay_half_life_days=1.0, models=("time_decay",)))
    # second path: weights 2^−3001 : 2^−3000 = 1 : 2 → A 1/3, B 2/3; first path: B takes all
    assert_credits(result, "time_decay", {("A", None): (1 / 3, 1 / 3), ("B", None): (5 / 3, 5 / 3)})


# --- Shapley, by hand ----------------------------------------------------------------------------------
#
# Two channels. Paths: {A} twice (50 each), {B} once (50), B→A once (200) → per set (count, value):
#   {A}: (2, 100), {B}: (1, 50), {A,B}: (1, 200).
# v(∅) = 0, v(A) = 100, v(B) = 50, v(AB) = 100 + 50 + 200 = 350; coefficients 1/2, 1/2 for n = 2:
#   φ_A = ½ (v(A) − v(∅)) + ½ (v(AB) − v(B)) = 50 + 150 = 200
#   φ_B = ½ (v(B) − v(∅)) + ½ (v(AB) − v(A)) = 25 + 125 = 150      φ_A + φ_B = 350 = v(N)
# Counts: v(A) = 2, v(B) = 1, v(AB) = 4:  φ_A = ½·2 + ½·3 = 2.5,  φ_B = ½·1 + ½·2 = 1.5   (sum 4)
#
# Three channels. Sets {A}: 30, {A,B}: 60, {A,B,C}: 90, {C}: 12 (one conversion each).
# v: ∅ 0, A 30, B 0, C 12, AB 90, AC 42, BC 12, ABC 192; coefficients |S| = 0: 1/3, 1: 1/6, 2: 1/3.
#   φ_A = ⅓·30 + ⅙(90 − 0) + ⅙(42 − 12) + ⅓(192 − 12) = 10 + 15 + 5 + 60 = 90
#   φ_B = ⅓·0  + ⅙(90 − 30) + ⅙(12 − 12) + ⅓(192 − 42) = 0 + 10 + 0 + 50 = 60
#   φ_C = ⅓·12 + ⅙(42 − 30) + ⅙(12 − 0)  + ⅓(192 − 90) = 4 + 2 + 2 + 34  = 42    (sum 192)
# Counts: v: A 1, C 1, AB 2, AC 2, BC 1, ABC 4 →
#   φ_A = ⅓ + ⅙·2 + ⅙·1 + ⅓·3 = 11/6;  φ_B = ⅙·1 + 0 + ⅓·2 = 5/6;  φ_C = ⅓ + ⅙ + ⅙ + ⅓·2 = 4/3 (sum 4)


def test_shapley_two_channels_by_hand():
    paths = Paths.from_sequences([(["A"], 50.0), (["A", "A"], 50.0), (["B"], 50.0), (["B", "A"], 200.0)])
    result = attribute(paths, AttributionSettings(models=("shapley",)))
    assert_credits(result, "shapley", {("A", None): (2.5, 200), ("B", None): (1.5, 150)})


def test_shapley_three_channels_by_hand():
    paths = Paths.from_sequences(
        [(["A"], 30.0), (["B", "A"], 60.0), (["C", "A", "B", "A"], 90.0), (["C"], 12.0)]
    )
    expected = {("A", None): (11 / 6, 90), ("B", None): (5 / 6, 60), ("C", None): (4 / 3, 42)}
    assert_credits(attribute(paths, AttributionSettings(models=("shapley",))), "shapley", expected)
    sampled = attribute(
        paths,
        AttributionSettings(
            models=("shapley",), shapley_exact_max_channels=0, shapley_samples=20_000, seed=3
        ),
    )
    got = credits(sampled, "shapley")
    for key, (conversions, value) in expected.items():
        assert got[key][0] == pytest.approx(conversions, abs=0.05)
        assert got[key][1] == pytest.approx(value, abs=2.5)


# --- Markov, by hand -----------------------------------------------------------------------------------
#
# Converting: A→B (100), B (20), A→C (35); non-converting: A, C→B.
# Transitions: (start) → A 3, B 1, C 1 (of 5);  A → B 1, C 1, (null) 1;  B → (conv) 2, (null) 1;
#              C → (conv) 1, B 1.
# Absorption in (conversion): x_B = 2/3;  x_C = ½ + ½·x_B = 5/6;  x_A = ⅓·x_B + ⅓·x_C = 2/9 + 5/18 = 1/2;
#   P = ⅗·½ + ⅕·⅔ + ⅕·⅚ = 9/30 + 4/30 + 5/30 = 3/5.
# Remove A (start → A goes to null):  P = ⅕·⅔ + ⅕·⅚ = 3/10                → RE_A = 1 − (3/10)/(3/5) = 1/2
# Remove B: x_C = ½, x_A = ⅓·½ = 1/6:  P = ⅗·⅙ + ⅕·½ = 1/5                → RE_B = 1 − (1/5)/(3/5) = 2/3
# Remove C: x_B = ⅔, x_A = ⅓·⅔ = 2/9:  P = ⅗·2/9 + ⅕·⅔ = 4/15             → RE_C = 1 − (4/15)/(3/5) = 5/9
# Σ RE = 9/18 + 12/18 + 10/18 = 31/18 → shares A 9/31, B 12/31, C 10/31;
# × 3 conversions → 27/31, 36/31, 30/31.
# Value-weighted chain: B → (conversion) is worth 120 over B's 3 exits (40 per visit), C → (conversion)
#   35 over C's 2 exits (17.5). v_B = 40;  v_C = 17.5 + ½·40 = 37.5;  v_A = ⅓·40 + ⅓·37.5 = 155/6;
#   V = ⅗·155/6 + ⅕·40 + ⅕·37.5 = 31 (= P × mean value 155/3).
# Remove A: V = ⅕·40 + ⅕·37.5 = 15.5                                      → RE^v_A = 1/2
# Remove B: v_C = 17.5, v_A = 35/6:  V = ⅗·35/6 + ⅕·17.5 = 7               → RE^v_B = 24/31
# Remove C: v_A = 40/3:  V = ⅗·40/3 + ⅕·40 = 16                           → RE^v_C = 15/31
# Σ RE^v = 109/62 → value shares A 31/109, B 48/109, C 30/109; × value 155.


def markov_case() -> Paths:
    return Paths.from_sequences(
        [(["A", "B"], 100.0), (["B"], 20.0), (["A", "C"], 35.0)], non_converting=[["A"], ["C", "B"]]
    )


def test_markov_by_hand():
    paths = markov_case()
    effects = markov_removal_effects(paths)
    assert effects["channel"].to_list() == ["A", "B", "C"]
    assert effects["removal_effect"].to_list() == pytest.approx([1 / 2, 2 / 3, 5 / 9])
    assert effects["share"].to_list() == pytest.approx([9 / 31, 12 / 31, 10 / 31])
    assert effects["value_removal_effect"].to_list() == pytest.approx([1 / 2, 24 / 31, 15 / 31])
    result = attribute(paths, AttributionSettings(models=("markov",)))
    assert_credits(
        result,
        "markov",
        {
            ("A", None): (27 / 31, 155 * 31 / 109),
            ("B", None): (36 / 31, 155 * 48 / 109),
            ("C", None): (30 / 31, 155 * 30 / 109),
        },
    )


def test_markov_transition_matrix_by_hand():
    matrix = markov_transition_matrix(markov_case())
    got = {
        (r["from_state"], r["to_state"]): (r["transitions"], r["probability"])
        for r in matrix.iter_rows(named=True)
    }
    expected = {
        ("(start)", "A"): (3, 3 / 5),
        ("(start)", "B"): (1, 1 / 5),
        ("(start)", "C"): (1, 1 / 5),
        ("A", "B"): (1, 1 / 3),
        ("A", "C"): (1, 1 / 3),
        ("A", "(null)"): (1, 1 / 3),
        ("B", "(conversion)"): (2, 2 / 3),
        ("B", "(null)"): (1, 1 / 3),
        ("C", "(conversion)"): (1, 1 / 2),
        ("C", "B"): (1, 1 / 2),
    }
    assert set(got) == set(expected)
    for key, (count, probability) in expected.items():
        assert got[key][0] == count and got[key][1] == pytest.approx(probability)


def test_markov_conversion_probability_matches_iterating_the_chain():
    # independent of the linear solve: push the start distribution through the chain until absorbed
    paths = markov_case()
    matrix = markov_transition_matrix(paths)
    states = ["(start)", "A", "B", "C", "(conversion)", "(null)"]
    p = np.zeros((6, 6))
    for r in matrix.iter_rows(named=True):
        p[states.index(r["from_state"]), states.index(r["to_state"])] = r["probability"]
    p[4, 4] = p[5, 5] = 1.0
    distribution = np.eye(6)[0] @ np.linalg.matrix_power(p, 200)
    assert distribution[4] == pytest.approx(3 / 5)


def test_markov_self_transitions_change_nothing():
    repeated = Paths.from_sequences(
        [(["A", "A", "B"], 100.0), (["B", "B"], 20.0), (["A", "C", "C"], 35.0)],
        non_converting=[["A", "A"], ["C", "B"]],
    )
    assert markov_removal_effects(repeated)["removal_effect"].to_list() == pytest.approx(
        [1 / 2, 2 / 3, 5 / 9]
    )


def test_markov_credits_a_channel_seen_only_on_non_converting_paths():
    # X → A → (null) and A → (conversion): from X half the walks convert, so removing X loses conversions
    paths = Paths.from_sequences([(["A"], 10.0)], non_converting=[["X", "A"]])
    effects = dict(markov_removal_effects(paths).select("channel", "removal_effect").iter_rows())
    # (start): A ½, X ½; A: conv ½, null ½ → x_A = ½, x_X = ½, P = ½;  without X: P = ¼ → RE_X = ½;
    # without A: P = 0 → RE_A = 1
    assert effects == pytest.approx({"A": 1.0, "X": 0.5})


# --- reconciliation properties --------------------------------------------------------------------------

CHANNELS = list("ABCDEF")
path_strategy = st.lists(st.tuples(st.sampled_from(CHANNELS), st.floats(0, 60)), min_size=1, max_size=6)
converting_strategy = st.lists(st.tuples(path_strategy, st.floats(0, 1e4)), min_size=1, max_size=25)
non_converting_strategy = st.lists(st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=5), max_size=10)


@settings(max_examples=40, deadline=None)
@given(
    converting=converting_strategy, non_converting=non_converting_strategy, exact_max=st.sampled_from([0, 12])
)
def test_every_model_reconciles(converting, non_converting, exact_max):
    converting = [(sorted(touches, key=lambda t: -t[1]), value) for touches, value in converting]
    paths = Paths.from_sequences(converting, non_converting, direct=[7.0])
    config = AttributionSettings(
        shapley_exact_max_channels=exact_max, shapley_samples=50, seed=1, markov_orders=(1, 2, 3)
    )
    result = attribute(paths, config, include_direct=True)
    total_value = sum(value for _, value in converting)
    sums = (
        result.filter(pl.col("channel").ne_missing(DIRECT))
        .group_by("model")
        .agg(
            pl.col("attributed_conversions").sum(),
            pl.col("attributed_value").sum(),
            pl.col("attributed_conversions").min().alias("min_credit"),
        )
    )
    assert sorted(sums["model"]) == sorted(config.output_models())
    for row in sums.iter_rows(named=True):
        assert row["attributed_conversions"] == pytest.approx(len(converting), rel=1e-9), row
        assert row["attributed_value"] == pytest.approx(total_value, rel=1e-9, abs=1e-6), row
        assert row["min_credit"] >= -1e-12, row
    direct_rows = result.filter(pl.col("channel") == DIRECT)
    assert direct_rows.height == len(config.output_models()) and set(direct_rows["attributed_value"]) == {7.0}


def naive_shapley(membership: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The definition, coalition by coalition."""
    n = membership.shape[1]
    sets = [frozenset(np.flatnonzero(row)) for row in membership]

    def v(coalition: frozenset) -> float:
        return sum(w for s, w in zip(sets, weights, strict=True) if s <= coalition)

    phi = np.zeros(n)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for size in range(n):
            for subset in itertools.combinations(others, size):
                s = frozenset(subset)
                coefficient = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
                phi[i] += coefficient * (v(s | {i}) - v(s))
    return phi


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 5), data=st.data())
def test_shapley_exact_matches_the_definition_and_the_closed_form(n, data):
    rows = data.draw(
        st.lists(st.lists(st.booleans(), min_size=n, max_size=n).filter(any), min_size=1, max_size=12)
    )
    membership = np.array(rows, bool)
    weights = np.array(data.draw(st.lists(st.floats(0, 1e3), min_size=len(rows), max_size=len(rows))))
    phi = shapley_exact(membership, weights)
    assert phi == pytest.approx(naive_shapley(membership, weights), abs=1e-7)
    # Zhao et al.'s simplified Shapley: each set's weight split evenly over its members
    assert phi == pytest.approx((membership / membership.sum(1, keepdims=True)).T @ weights, abs=1e-7)
    assert phi.sum() == pytest.approx(weights.sum(), abs=1e-7)  # efficiency: Σφ = v(N)


def random_six_channel_paths(seed: int = 11, count: int = 300) -> Paths:
    rng = np.random.default_rng(seed)
    popularity = np.array([0.35, 0.2, 0.15, 0.12, 0.1, 0.08])
    converting = []
    for _ in range(count):
        length = int(rng.integers(1, 5))
        touches = [str(c) for c in rng.choice(list("ABCDEF"), size=length, p=popularity)]
        converting.append((touches, float(rng.gamma(2.0, 150.0))))
    return Paths.from_sequences(converting)


def test_sampled_shapley_sums_exactly_and_is_close_to_exact():
    paths = random_six_channel_paths()
    channels, membership, weights = channel_sets(paths)
    assert channels == list("ABCDEF")
    exact = shapley_exact(membership, weights)
    sampled = shapley_sampled(membership, weights, samples=4000, seed=5)
    total = weights.sum(axis=0)
    assert exact.sum(axis=0) == pytest.approx(total, rel=1e-12)
    assert sampled.sum(axis=0) == pytest.approx(total, rel=1e-12)
    assert (np.abs(sampled - exact).max(axis=0) / total < 0.01).all()
    # deterministic for a seed, different for another
    assert np.array_equal(sampled, shapley_sampled(membership, weights, samples=4000, seed=5))
    assert not np.array_equal(sampled, shapley_sampled(membership, weights, samples=4000, seed=6))
    # and through attribute(), forcing the sampler with a low exact limit
    forced = attribute(
        paths, AttributionSettings(models=("shapley",), shapley_exact_max_channels=3, campaign_level=False)
    )
    assert forced["attributed_value"].sum() == pytest.approx(total[1], rel=1e-12)
    assert forced["attributed_conversions"].sum() == pytest.approx(300, rel=1e-12)


# --- path building ---------------------------------------------------------------------------------------


def path_channels(paths: Paths) -> dict[str, list[str]]:
    joined = paths.touches.join(paths.conversions.select("path_id", "conversion_id"), on="path_id")
    return {
        cid: group.sort("position")["channel"].to_list() for (cid,), group in joined.group_by("conversion_id")
    }


def check_path_tables(paths: Paths) -> None:
    """path_id dense from 0, rows ordered by (path_id, position), positions 0..k-1, k = touches."""
    for frame in (paths.touches, paths.non_converting):
        ids, positions = frame["path_id"].to_list(), frame["position"].to_list()
        assert sorted(set(ids)) == list(range(len(set(ids))))
        assert list(zip(ids, positions, strict=True)) == sorted(zip(ids, positions, strict=True))
        counts = frame.group_by("path_id").agg(
            n=pl.len(), top=pl.col("position").max(), distinct=pl.col("position").n_unique()
        )
        assert (counts["top"] + 1 == counts["n"]).all() and (counts["distinct"] == counts["n"]).all()
    sizes = paths.touches.group_by("path_id").agg(n=pl.len()).sort("path_id")
    assert paths.conversions["path_id"].to_list() == list(range(paths.conversions.height))
    assert paths.conversions["touches"].to_list() == sizes["n"].to_list()


def test_lookback_window_bounds():
    t = T0 + 40 * DAY + timedelta(hours=12)
    tiny = timedelta(microseconds=1)
    tp, cv = frames(
        [
            ("u", t - 30 * DAY - tiny, "too_old", None),
            ("u", t - 30 * DAY, "oldest_in", None),
            ("u", t - tiny, "latest_in", None),
            ("u", t, "same_instant", None),
            ("u", t + DAY, "after", None),
        ],
        [("u", t, "x", 1.0)],
    )
    paths = build_paths(tp, cv)
    assert path_channels(paths) == {"x": ["oldest_in", "latest_in"]}
    assert paths.touches["days_before"].to_list() == pytest.approx([30.0, 1 / 86_400e6])
    # left-overs form non-converting paths: the one too old; the two at/after the conversion are
    # within the lookback of the data's end (the "after" touch), so still open
    assert sorted(paths.non_converting["channel"]) == ["too_old"]
    assert sorted(paths.open["channel"]) == ["after", "same_instant"]
    assert path_channels(build_paths(tp, cv, AttributionSettings(lookback_days=7))) == {"x": ["latest_in"]}


def test_touches_are_not_reused_across_conversions():
    c1, c2 = T0 + 10 * DAY, T0 + 20 * DAY
    tp, cv = frames(
        [
            ("u", T0 + 5 * DAY, "A", None),
            ("u", c1, "B", None),
            ("u", T0 + 15 * DAY, "C", None),
            ("v", T0 + 15 * DAY, "D", None),
        ],
        [("u", c2, "second", 2.0), ("u", c1, "first", 1.0)],
    )
    paths = build_paths(tp, cv)
    # A only counts for the first conversion (although 15 days before the second); B, at the first
    # conversion's instant, is not strictly before it, so it starts the second path
    assert path_channels(paths) == {"first": ["A"], "second": ["B", "C"]}
    assert paths.touches.select("path_id", "position", "channel").rows() == [
        (0, 0, "A"),
        (1, 0, "B"),
        (1, 1, "C"),
    ]
    assert paths.conversions.select("path_id", "conversion_id", "touches").rows() == [
        (0, "first", 1),
        (1, "second", 2),
    ]
    assert paths.non_converting.height == 0 and paths.open["channel"].to_list() == [
        "D"
    ]  # 5 days before the end


def test_direct_conversions_are_reported_apart():
    tp, cv = frames(
        [
            ("u1", T0 + DAY, "A", None),
            ("u2", T0 + 20 * DAY, "B", None),  # after u2's conversion
            ("u3", T0, "C", None),
        ],  # 40 days before u3's conversion
        [
            ("u1", T0 + 2 * DAY, "p", 10.0),
            ("u2", T0 + 10 * DAY, "d1", 5.0),
            ("u3", T0 + 40 * DAY, "d2", 3.0),
            ("u4", T0, "d3", None),
        ],
    )
    paths = build_paths(tp, cv)
    assert sorted(paths.direct["conversion_id"]) == ["d1", "d2", "d3"]
    # B (20 days before the data's end, after u2's last conversion) is open; C (before u3's
    # conversion, out of its window) is a closed non-converting path
    assert paths.summary() == {
        "conversions": 4,
        "attributed_conversions": 1,
        "direct_conversions": 3,
        "attributed_value": 10.0,
        "direct_value": 8.0,
        "converting_touches": 1,
        "non_converting_paths": 1,
        "non_converting_touches": 1,
        "open_paths": 1,
    }
    result = attribute(
        paths, AttributionSettings(models=("linear", "markov"), campaign_level=False), include_direct=True
    )
    assert result.rows() == [
        ("linear", DIRECT, None, 3.0, 8.0),
        ("linear", "A", None, 1.0, 10.0),
        ("markov", DIRECT, None, 3.0, 8.0),
        ("markov", "A", None, 1.0, 10.0),
        ("markov", "C", None, 0.0, 0.0),
    ]


def test_conversions_at_the_same_instant_share_no_touches():
    tp, cv = frames([("u", T0, "A", None)], [("u", T0 + DAY, "b", 1.0), ("u", T0 + DAY, "a", 2.0)])
    paths = build_paths(tp, cv)
    assert path_channels(paths) == {"a": ["A"]}
    assert paths.direct["conversion_id"].to_list() == ["b"]


def test_ties_are_ordered_by_channel_then_campaign():
    tp, cv = frames(
        [("u", T0, "B", None), ("u", T0, "A", "k2"), ("u", T0, "A", "k1")], [("u", T0 + DAY, "x", 1.0)]
    )
    touches = build_paths(tp, cv).touches
    assert touches.select("channel", "campaign_id").rows() == [("A", "k1"), ("A", "k2"), ("B", None)]


def test_non_converting_paths_are_cut_into_lookback_windows():
    # no conversion: days 0, 10, 29.9 | 31 | 70 → windows from the first touch [0, 30) [30, 60) [60, 90);
    # the data end on day 70, so the last window (its touch 0 days before the end) is still open
    days = [0, 10, 29.9, 31, 70]
    tp, cv = frames(
        [("u", T0 + d * DAY, f"ch{i}", None) for i, d in enumerate(days)] + [("w", T0, "x", None)],
        [("w", T0 + DAY, "conv", 1.0)],
    )
    nc = build_non_converting_paths(tp, cv)
    groups = nc.group_by("path_id", maintain_order=True).agg("unified_id", "channel").sort("path_id")
    assert [(u[0], c) for u, c in groups.select("unified_id", "channel").rows()] == [
        ("u", ["ch0", "ch1", "ch2"]),
        ("u", ["ch3"]),
    ]
    assert nc.select("path_id", "position").rows() == [(0, 0), (0, 1), (0, 2), (1, 0)]
    paths = build_paths(tp, cv)
    assert nc.equals(paths.non_converting)
    assert paths.open.select("path_id", "position", "channel").rows() == [(0, 0, "ch4")]


def test_time_zone_aware_inputs_are_compared_in_utc():
    tp, cv = frames([("u", T0, "A", None)], [("u", T0 + DAY, "x", 1.0)])
    tp = tp.with_columns(pl.col("occurred_at").dt.replace_time_zone("Asia/Shanghai"))
    cv = cv.with_columns(
        pl.col("converted_at").dt.replace_time_zone("Asia/Shanghai").dt.convert_time_zone("UTC")
    )
    assert build_paths(tp, cv).touches["days_before"].to_list() == pytest.approx([1.0])
    with pytest.raises(TypeError, match="time zone"):
        build_paths(tp, cv.with_columns(pl.col("converted_at").dt.replace_time_zone(None)))


event_strategy = st.lists(st.tuples(st.sampled_from(["u", "v"]), st.integers(0, 60)), max_size=25)


@settings(max_examples=60, deadline=None)
@given(touch_events=event_strategy, conversion_events=event_strategy, lookback=st.integers(1, 20))
def test_paths_match_a_brute_force_reference(touch_events, conversion_events, lookback):
    """Times in whole days, so ties at window bounds, at conversions and between conversions are common."""
    tp, cv = frames(
        [(u, T0 + d * DAY, f"ch{i}", None) for i, (u, d) in enumerate(touch_events)],
        [(u, T0 + d * DAY, f"c{i:02d}", 1.0) for i, (u, d) in enumerate(conversion_events)],
    )
    paths = build_paths(tp, cv, AttributionSettings(lookback_days=lookback))
    check_path_tables(paths)

    expected, taken = {}, set()
    for i, (user, day) in enumerate(conversion_events):
        previous = [
            d
            for j, (u, d) in enumerate(conversion_events)
            if u == user and (d < day or (d == day and f"c{j:02d}" < f"c{i:02d}"))
        ]
        start = max([day - lookback, *previous])  # in the window, and at or after the previous conversion
        touches = sorted(
            (d, f"ch{k}") for k, (u, d) in enumerate(touch_events) if u == user and start <= d < day
        )
        if touches:
            expected[f"c{i:02d}"] = [name for _, name in touches]
            taken.update(name for _, name in touches)
    assert path_channels(paths) == expected
    assert sorted(paths.direct["conversion_id"]) == sorted(
        set(f"c{i:02d}" for i in range(len(conversion_events))) - set(expected)
    )
    # every touch is in exactly one converting, non-converting or open path
    assert sorted(
        paths.touches["channel"].to_list()
        + paths.non_converting["channel"].to_list()
        + paths.open["channel"].to_list()
    ) == sorted(f"ch{i}" for i in range(len(touch_events)))
    assert not taken & set(paths.non_converting["channel"].to_list())
    # left-overs: per user and next conversion (None after the last), in lookback windows from the first
    stretches: dict = {}
    for k, (user, day) in enumerate(touch_events):
        if f"ch{k}" not in taken:
            following = min((d for u, d in conversion_events if u == user and d > day), default=None)
            stretches.setdefault((user, following), []).append((day, f"ch{k}"))
    # ... open when after the user's last conversion with the last touch less than lookback before the end
    data_end = max(day for _, day in touch_events + conversion_events) if touch_events else None
    expected_nc, expected_open = [], []
    for (_, following), touches in stretches.items():
        first = min(day for day, _ in touches)
        windows: dict = {}
        for day, name in sorted(touches):
            windows.setdefault((day - first) // lookback, []).append((day, name))
        for window in windows.values():
            is_open = following is None and data_end - window[-1][0] < lookback
            (expected_open if is_open else expected_nc).append(tuple(name for _, name in window))
    for frame, expected_paths in ((paths.non_converting, expected_nc), (paths.open, expected_open)):
        got = frame.group_by("path_id").agg(pl.col("channel").sort_by("position"))
        assert sorted(tuple(c) for c in got["channel"].to_list()) == sorted(expected_paths)


# --- settings ---------------------------------------------------------------------------------------------


def test_settings_round_trip_and_validation():
    config = AttributionSettings(lookback_days=14, models=("linear", "shapley"))
    assert AttributionSettings.from_dict(config.as_dict()) == config
    assert AttributionSettings(models=["linear"]).models == ("linear",)
    for bad in (
        {"lookback_days": 0},
        {"time_decay_half_life_days": -1},
        {"position_first": 0.7},
        {"shapley_exact_max_channels": 21},
        {"shapley_samples": 0},
        {"models": ("last_click",)},
    ):
        with pytest.raises(ValueError):
            AttributionSettings(**bad)
    with pytest.raises(ValueError, match="unknown"):
        AttributionSettings.from_dict({"lookback": 7})


def test_empty_and_reserved_inputs():
    empty = Paths.from_sequences([], direct=[3.0])
    assert attribute(empty).height == 0
    assert attribute(empty, include_direct=True)["attributed_value"].to_list() == [3.0] * len(
        AttributionSettings().output_models()
    )
    with pytest.raises(ValueError, match="reserved"):
        Paths.from_sequences([(["(null)"], 1.0)])
