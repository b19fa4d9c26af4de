"""The attribution mart built from pipeline-shaped frames: touchpoint rules, reconciliation, ROAS."""

import random
from datetime import datetime

import duckdb
import polars as pl
import pytest

from assets.common.configuration import ConfigError
from assets.kpis.attribution import AttributionSettings
from assets.kpis.attribution.config import AttributionConfig, TouchpointRule, load_attribution_config
from assets.kpis.attribution_marts import (
    VALUE_DECIMALS,
    attribution_gaps,
    attribution_mart,
    touchpoint_filter,
    touchpoints_from_events,
)

T = datetime(2026, 6, 1, 12)
SETTINGS = AttributionSettings(markov_orders=(1, 2))
RULES = (
    TouchpointRule("ad_events", ("click",), "ad:{ad_channel}"),
    TouchpointRule("device_events", (), "store_visit"),
)


def events() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "unified_id": ["u1", "u1", "u1", "u2", "u2", None],
            "occurred_at": [T.replace(hour=9), T.replace(hour=10), T.replace(hour=11), T, T, T],
            "source": [
                "ad_events",
                "ad_events",
                "device_events",
                "ad_events",
                "social_interactions",
                "ad_events",
            ],
            "event_type": ["impression", "click", "beacon", "click", "like", "click"],
            "ad_channel": ["feed", "feed", None, None, None, "feed"],
            "campaign_id": ["C1", "C1", None, "C2", None, "C1"],
        }
    )


def test_rules_pick_events_and_label_channels():
    touches = touchpoints_from_events(events(), RULES).sort("unified_id", "occurred_at")
    assert touches.select("unified_id", "channel", "campaign_id").rows() == [
        ("u1", "ad:feed", "C1"),
        ("u1", "store_visit", None),
        ("u2", "ad:unknown", "C2"),
    ]


# Events of every shape a filter can get wrong: a type no rule takes, a null type, a source no rule
# names, a type with a quote, and one event two rules take.
FILTER_RULES = (
    TouchpointRule("ad_events", ("click", "it's"), "ad:{ad_channel}"),
    TouchpointRule("device_events", (), "store_visit"),
    TouchpointRule("ad_events", ("click",), "twice"),
)
FILTERED_EVENTS = pl.DataFrame(
    {
        "event_id": [1, 2, 3, 4, 5, 6, 7],
        "unified_id": ["u1"] * 7,
        "occurred_at": [T] * 7,
        "source": ["ad_events"] * 4 + ["device_events"] * 2 + ["pos"],
        "event_type": ["click", "impression", None, "it's", None, "beacon", "click"],
        "ad_channel": ["feed"] * 7,
        "campaign_id": [None] * 7,
    }
)


def test_the_warehouse_hands_over_exactly_the_events_a_touchpoint_rule_takes():
    """Only those are read (at 2 M people the sources' other events are 3.4 times as many)."""
    taken, params = touchpoint_filter(AttributionConfig(touchpoints=FILTER_RULES))

    def selected(where: str) -> list[int]:
        query = f"SELECT event_id FROM FILTERED_EVENTS WHERE {where} ORDER BY event_id"
        return duckdb.sql(query, params=params).pl()["event_id"].to_list()

    assert selected(taken) == [1, 4, 5, 6]
    assert selected(f"event_id <> 1 AND {taken}") == [4, 5, 6]  # one predicate, whatever precedes it
    labelled = FILTERED_EVENTS.with_columns(unified_id=pl.col("event_id").cast(pl.String))
    by_rules = touchpoints_from_events(labelled, FILTER_RULES)
    assert sorted(set(by_rules["unified_id"].cast(pl.Int64))) == selected(taken)
    assert by_rules.height == 5  # the click counts under both rules that take it


def test_every_model_reconciles_to_all_conversions_and_roas_uses_campaign_cost():
    touches = touchpoints_from_events(events(), RULES)
    conversions = pl.DataFrame(
        {
            "conversion_id": ["o1", "o2", "o3"],
            "unified_id": ["u1", "u2", "u3"],
            "converted_at": [T.replace(hour=13)] * 3,
            "value": [100.0, 50.0, 30.0],
        }
    )
    costs = pl.DataFrame({"campaign_id": ["C1"], "campaign_cost": [20.0]})
    mart, summary, journeys = attribution_mart(touches, conversions, costs, AttributionSettings())
    assert summary == {
        "conversions": 3,
        "attributed_conversions": 2,
        "direct_conversions": 1,
        "total_value": 180.0,
        "direct_value": 30.0,
        "non_converting_paths": 0,
        "open_paths": 0,
    }
    assert journeys.filter(pl.col("level") == "channel").select("path", "conversions", "value").rows() == [
        ("(direct)", 1, 30.0),
        ("ad:feed > store_visit", 1, 100.0),
        ("ad:unknown", 1, 50.0),
    ]
    totals = mart.group_by("model").agg(
        pl.col("attributed_conversions").sum(), pl.col("attributed_value").sum()
    )
    assert totals.height == len(AttributionSettings().output_models())
    for _, conversions_sum, value_sum in totals.iter_rows():
        assert conversions_sum == pytest.approx(3) and value_sum == pytest.approx(180)
    last = mart.filter((pl.col("model") == "last_touch") & (pl.col("campaign_id") == "C1")).row(0, named=True)
    assert last["attributed_value"] == 0.0 and last["roas"] == 0.0  # u1's last touch is the store visit
    first = mart.filter((pl.col("model") == "first_touch") & (pl.col("campaign_id") == "C1")).row(
        0, named=True
    )
    assert first["attributed_value"] == 100.0 and first["roas"] == pytest.approx(5.0)


def test_credits_do_not_depend_on_the_row_order_of_the_facts():
    """A rebuild reads the facts in another physical order; the mart it writes must be the same to
    the last stored bit (the incremental-vs-full checksums compare it), so credits are rounded far
    below any reported precision."""
    rng = random.Random(3)
    users = [f"u{i}" for i in range(300)]
    touches = pl.DataFrame(
        {
            "unified_id": [rng.choice(users) for _ in range(3000)],
            "occurred_at": [T.replace(minute=rng.randrange(60), second=s) for s in range(60)] * 50,
            "channel": [rng.choice(["ad:feed", "ad:search", "store_visit", "kol"]) for _ in range(3000)],
            "campaign_id": [rng.choice(["C1", "C2", "C3", None]) for _ in range(3000)],
        }
    )
    conversions = pl.DataFrame(
        {
            "conversion_id": [f"o{i}" for i in range(400)],
            "unified_id": [rng.choice(users) for _ in range(400)],
            "converted_at": [T.replace(hour=13)] * 400,
            "value": [round(rng.uniform(1, 999), 2) / 3 for _ in range(400)],
        }
    )
    costs = pl.DataFrame({"campaign_id": ["C1", "C2"], "campaign_cost": [20.0, 7.0]})
    marts = [
        attribution_mart(shuffled, conversions, costs, SETTINGS)[0]
        for shuffled in (touches.sample(fraction=1.0, shuffle=True, seed=seed) for seed in range(3))
    ]
    assert marts[0].equals(marts[1]) and marts[0].equals(marts[2])
    value = marts[0]["attributed_value"]
    assert (value == value.round(VALUE_DECIMALS)).all()


def test_shipped_configuration_loads():
    config = load_attribution_config()
    assert config.settings.lookback_days == 30 and config.settings.markov_orders == (1, 2, 3)
    assert {r.source for r in config.touchpoints} >= {"ad_events", "device_events"}


def test_reconciliation_check_names_the_model_that_is_off():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts")
    con.execute("""CREATE TABLE marts.fct_orders AS SELECT * FROM (VALUES
        ('u1', 'sale', false, 100.0), ('u2', 'sale', false, 50.0), ('u2', 'sale', true, 999.0),
        (NULL, 'sale', false, 7.0)
    ) AS t(unified_id, order_type, is_cancelled, gross_amount)""")
    con.execute("""CREATE TABLE marts.kpi_attribution AS SELECT * FROM (VALUES
        ('linear', 1.5, 75.0), ('linear', 1.5, 82.0), ('shapley', 2.0, 140.0)
    ) AS t(model, attributed_conversions, attributed_value)""")
    # the anonymous sale counts too (a direct conversion); the cancelled one does not
    assert attribution_gaps(con) == [
        {
            "model": "shapley",
            "credited_conversions": 2.0,
            "sales": 3,
            "credited_value": 140.0,
            "sales_value": 157.0,
        }
    ]


def test_a_bad_markov_order_is_reported_with_file_line_and_key(tmp_path):
    config = tmp_path / "kpis.yaml"
    config.write_text(
        "attribution:\n  settings:\n    markov_orders: [1, 4]\n"
        "  touchpoints:\n    - {source: ad_events, channel: ad}\n",
        encoding="utf-8",
    )
    with pytest.raises(
        ConfigError, match=r"kpis.yaml:3: attribution.settings.markov_orders: must be distinct"
    ):
        load_attribution_config(config)


def test_no_touchpoints_or_no_orders_give_empty_credits_not_a_crash():
    no_touches = touchpoints_from_events(events().clear(), RULES)
    no_sales = pl.DataFrame(
        schema={
            "conversion_id": pl.String,
            "unified_id": pl.String,
            "converted_at": pl.Datetime("us"),
            "value": pl.Float64,
        }
    )
    costs = pl.DataFrame(schema={"campaign_id": pl.String, "campaign_cost": pl.Float64})
    mart, summary, journeys = attribution_mart(no_touches, no_sales, costs, AttributionSettings())
    assert mart["attributed_conversions"].sum() == 0 and journeys.height == 0 and summary["conversions"] == 0
    sales = pl.DataFrame({"conversion_id": ["o1"], "unified_id": ["u1"], "converted_at": [T], "value": [9.0]})
    mart, summary, journeys = attribution_mart(no_touches, sales, costs, AttributionSettings())
    assert set(mart["channel"]) == {"(direct)"} and summary["direct_conversions"] == 1
    assert journeys.select("path", "conversions").rows() == [("(direct)", 1), ("(direct)", 1)]  # both levels


def test_credits_from_either_engines_inputs_do_not_depend_on_the_order_it_returned_rows_in():
    """DuckDB and Spark hand the attribution the same rows in different orders; the mart is the same."""
    from assets.kpis.attribution.config import AttributionConfig
    from assets.kpis.attribution_marts import EVENT_COLUMNS, attribution_from_inputs

    rng = random.Random(5)
    users = [f"u{i}" for i in range(200)]
    events = pl.DataFrame(
        {
            "unified_id": [rng.choice(users) for _ in range(2000)],
            "occurred_at": [T.replace(minute=rng.randrange(60), second=s % 60) for s in range(2000)],
            "source": [rng.choice(["ad_events", "device_events"]) for _ in range(2000)],
            "event_type": [rng.choice(["click", "impression", "beacon"]) for _ in range(2000)],
            "platform": None,
            "ad_channel": [rng.choice(["feed", "search", None]) for _ in range(2000)],
            "store_id": None,
            "campaign_id": [rng.choice(["C1", "C2", None]) for _ in range(2000)],
        },
        schema_overrides={"platform": pl.String, "store_id": pl.String},
    ).select(EVENT_COLUMNS)
    conversions = pl.DataFrame(
        {
            "conversion_id": [f"o{i}" for i in range(300)],
            "unified_id": [rng.choice(users) for _ in range(300)],
            "converted_at": [T.replace(hour=13)] * 300,
            "value": [rng.uniform(1, 999) / 7 for _ in range(300)],
        }
    )
    costs = pl.DataFrame({"campaign_id": ["C2", "C1"], "campaign_cost": [7.0, 20.0]})
    config = AttributionConfig(touchpoints=RULES, settings=SETTINGS)
    marts = [
        attribution_from_inputs(
            touchpoints_from_events(events.sample(fraction=1.0, shuffle=True, seed=seed), RULES),
            conversions.sample(fraction=1.0, shuffle=True, seed=seed + 10),
            costs.reverse() if seed else costs,
            config,
        )[0].drop("computed_at")
        for seed in range(5)
    ]
    assert marts[0].height > 0
    assert all(marts[0].equals(mart) for mart in marts[1:])
