"""Higher-order and value-weighted Markov chains against a brute-force reference, campaign-level
credits and open journeys worked by hand, and the journeys table."""

from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest

from assets.kpis.attribution import (
    DIRECT,
    AttributionSettings,
    Paths,
    attribute,
    build_paths,
    journeys_table,
    markov_transition_matrix,
)

T0 = datetime(2026, 5, 1)
DAY = timedelta(days=1)

# Hand-built paths with repeats, shared prefixes and a channel seen only on failures.
CONVERTING = [
    (["A", "B", "C"], 100.0),
    (["B", "C"], 40.0),
    (["A", "A", "C"], 70.0),
    (["C"], 10.0),
    (["B", "A", "B", "C"], 55.0),
    (["A", "B"], 25.0),
]
NON_CONVERTING = [["A", "B"], ["B", "B", "A"], ["D", "C"], ["A"], ["C", "A", "B"]]


def brute_force_markov(converting, non_converting, order):
    """Order-k chain built with dicts (state = tuple of the last k channels), absorption by iterating the
    chain until it settles; credits by (value) removal-effect shares. Independent of the engine."""
    counts, exits, worth = {}, {}, {}

    def add(a, b):
        counts[(a, b)] = counts.get((a, b), 0) + 1
        exits[a] = exits.get(a, 0) + 1

    for channels, value, end in [(c, v, "conv") for c, v in converting] + [
        (c, 0.0, "null") for c in non_converting
    ]:
        states = [tuple(channels[max(0, i - order + 1) : i + 1]) for i in range(len(channels))]
        for a, b in zip(["start", *states], [*states, end], strict=True):
            add(a, b)
        if end == "conv":
            worth[states[-1]] = worth.get(states[-1], 0.0) + value

    def absorbed(removed):
        alive = lambda s: s == "start" or removed not in s  # noqa: E731
        p = {s: 0.0 for s in exits}
        v = {s: 0.0 for s in exits}
        for _ in range(3000):
            p = {
                s: sum(
                    n / exits[s] * (1.0 if b == "conv" else p[b] if b in p and alive(b) else 0.0)
                    for (a, b), n in counts.items()
                    if a == s
                )
                for s in exits
            }
            v = {
                s: worth.get(s, 0.0) / exits[s]
                + sum(
                    n / exits[s] * (v[b] if b in v and alive(b) else 0.0)
                    for (a, b), n in counts.items()
                    if a == s and b != "conv"
                )
                for s in exits
            }
        return p["start"], v["start"]

    channels = sorted(
        {c for path, _ in converting for c in path} | {c for path in non_converting for c in path}
    )
    base = np.array(absorbed(None))
    effects = np.array([1 - np.array(absorbed(c)) / base for c in channels])
    shares = effects / effects.sum(axis=0)
    total = np.array([len(converting), sum(v for _, v in converting)])
    return {c: tuple(shares[i] * total) for i, c in enumerate(channels)}


@pytest.mark.parametrize("order", [1, 2, 3])
def test_markov_credits_of_every_order_equal_a_brute_force_chain(order):
    paths = Paths.from_sequences(CONVERTING, NON_CONVERTING)
    result = attribute(
        paths, AttributionSettings(models=("markov",), markov_orders=(order,), campaign_level=False)
    )
    name = "markov" if order == 1 else f"markov_{order}"
    got = {
        r["channel"]: (r["attributed_conversions"], r["attributed_value"])
        for r in result.filter(pl.col("model") == name).iter_rows(named=True)
    }
    expected = brute_force_markov(CONVERTING, NON_CONVERTING, order)
    assert set(got) == set(expected)
    for channel, credit in expected.items():
        assert got[channel] == pytest.approx(credit, rel=1e-9, abs=1e-9), channel


def test_orders_differ_where_history_matters():
    # After A, B converts; after C, B fails: order 1 cannot tell the two B's apart, order 2 can
    paths = Paths.from_sequences([(["A", "B"], 10.0)] * 3, [["C", "B"]] * 3)
    result = attribute(
        paths, AttributionSettings(models=("markov",), markov_orders=(1, 2), campaign_level=False)
    )
    credit = {(r["model"], r["channel"]): r["attributed_conversions"] for r in result.iter_rows(named=True)}
    assert credit[("markov", "C")] > 0 and credit[("markov_2", "C")] == pytest.approx(0)
    states = set(markov_transition_matrix(paths, order=2)["from_state"])
    assert states == {"(start)", "A", "C", "A > B", "C > B"}


# --- per campaign, by hand --------------------------------------------------------------------------------
#
# Converting: A/c1 → B/c2 (100), B/c2 (20), A/- (30); non-converting: A/c1. Campaign states c1, c2, (none).
# Shapley: sets {c1,c2}: 100, {c2}: 20, {none}: 30 → c1 50, c2 70, none 30; conversions ½, 1½, 1.
# Markov (order 1): (start) → c1 2/4, c2 1/4, none 1/4;  c1 → c2 ½, (null) ½;  c2 → (conversion);
#   none → (conversion). x_c2 = 1, x_c1 = ½, x_none = 1 → P = ¼ + ¼ + ¼ = ¾.
#   Remove c1: P = ½ → RE ⅓;  c2: P = ¼ → RE ⅔;  none: P = ½ → RE ⅓; shares ¼, ½, ¼ of 3 conversions.
#   Value: c2 → (conversion) worth 120 / 2 exits = 60, none → 30. v_c1 = 30, V = ½·30 + ¼·60 + ¼·30 = 37.5.
#   Remove c1: V = 22.5 → 0.4;  c2: V = 7.5 → 0.8;  none: V = 30 → 0.2; shares 2/7, 4/7, 1/7 of 150.


def campaign_case() -> Paths:
    return Paths.from_sequences(
        [([("A", 0, "c1"), ("B", 0, "c2")], 100.0), ([("B", 0, "c2")], 20.0), (["A"], 30.0)],
        non_converting=[[("A", 0, "c1")]],
    )


def test_shapley_and_markov_per_campaign_by_hand():
    result = attribute(campaign_case(), AttributionSettings(models=("shapley", "markov")))
    by_model = {}
    for r in result.iter_rows(named=True):
        for measure in ("attributed_conversions", "attributed_value"):
            by_model.setdefault(r["model"], {})[(r["channel"], r["campaign_id"], measure)] = r[measure]

    def expect(credits):
        return pytest.approx(
            {
                (None, campaign, measure): value
                for campaign, pair in credits.items()
                for measure, value in zip(("attributed_conversions", "attributed_value"), pair, strict=True)
            }
        )

    assert by_model["shapley_campaign"] == expect({"c1": (0.5, 50.0), "c2": (1.5, 70.0), None: (1.0, 30.0)})
    assert by_model["markov_campaign"] == expect(
        {"c1": (0.75, 300 / 7), "c2": (1.5, 600 / 7), None: (0.75, 150 / 7)}
    )
    assert {key[:2] for key in by_model["markov"]} == {("A", None), ("B", None)}  # the channel level stays


# --- open journeys, by hand --------------------------------------------------------------------------------


def frames(touches, conversions):
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


def open_case() -> Paths:
    # u converts on day 10 after A (day 8); v saw B on day 0 and nothing for 50 days (a failure);
    # w saw C on day 45, 5 days before the data end (day 50): it may still convert; x bought directly.
    tp, cv = frames(
        [("u", T0 + 8 * DAY, "A", "k1"), ("v", T0, "B", None), ("w", T0 + 45 * DAY, "C", None)],
        [("u", T0 + 10 * DAY, "o1", 80.0), ("x", T0 + 50 * DAY, "o2", 20.0)],
    )
    return build_paths(tp, cv)


def test_open_journeys_stay_out_of_the_null_state():
    paths = open_case()
    assert paths.non_converting["channel"].to_list() == ["B"] and paths.open["channel"].to_list() == ["C"]
    matrix = markov_transition_matrix(paths)
    assert set(matrix["from_state"]) == {"(start)", "A", "B"}
    # (start) → A ½, B ½; A converts, B fails: P = ½; without A: 0 (RE 1), without B: ½ (RE 0)
    result = attribute(
        paths, AttributionSettings(models=("markov",), campaign_level=False), include_direct=True
    )
    assert result.rows() == [
        ("markov", DIRECT, None, 1.0, 20.0),
        ("markov", "A", None, 1.0, 80.0),
        ("markov", "B", None, 0.0, 0.0),
    ]
    # had C counted as a failure, (null) would take 2 of 3 journeys
    assert paths.summary()["open_paths"] == 1 and paths.summary()["non_converting_paths"] == 1


def test_journeys_table_counts_conversions_nulls_and_open_paths_per_level():
    table = journeys_table(open_case())
    assert table.rows() == [
        ("campaign", "(direct)", 0, 1, 20.0, 0, 0),
        ("campaign", "k1", 1, 1, 80.0, 0, 0),
        ("campaign", "(no campaign)", 1, 0, 0.0, 1, 1),
        ("channel", "(direct)", 0, 1, 20.0, 0, 0),
        ("channel", "A", 1, 1, 80.0, 0, 0),
        ("channel", "B", 1, 0, 0.0, 1, 0),
        ("channel", "C", 1, 0, 0.0, 0, 1),
    ]
    paths = Paths.from_sequences(CONVERTING, NON_CONVERTING)
    channel = journeys_table(paths, ("channel",))
    assert channel.filter(pl.col("path") == "A > B").row(0, named=True) == {
        "level": "channel",
        "path": "A > B",
        "touches": 2,
        "conversions": 1,
        "value": 25.0,
        "nulls": 1,
        "open": 0,
    }
    assert channel["conversions"].sum() == len(CONVERTING) and channel["nulls"].sum() == len(NON_CONVERTING)


def test_journeys_table_of_nothing_is_empty():
    assert journeys_table(Paths.from_sequences([])).height == 0
