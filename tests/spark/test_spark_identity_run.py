"""A whole identity run on Spark (``spark_outputs.resolve_on_spark``) returns what the DuckDB
engine's ``resolve`` returns on the same graph: every resolved node with its method, rule,
confidence and unified id, the links with their evidence, the refused values, the review queue's
candidates, the pins' outcomes and the figures — on a first run, and on a second run that keeps the
first run's ids while new evidence merges people and records leave them (the history)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import polars as pl
import pytest

from assets.common.spark import to_polars
from assets.identity.engine import number_nodes, resolve
from assets.identity.results import Resolution
from assets.identity.settings import IdentityConfig
from assets.identity.spark_check import frame_differences
from assets.identity.spark_outputs import SparkResolution, resolve_on_spark
from tests.identity.helpers import SALT, frames
from tests.spark import NEEDS_SPARK
from tests.spark.identity_data import ROWS, partners_rows

pytestmark = [pytest.mark.slow(seconds=120), *NEEDS_SPARK]

FIRST_RUN, SECOND_RUN = datetime(2026, 3, 1, 6), datetime(2026, 3, 2, 6)
MOVER = [  # a member whose mobile is person 60's in the first run and person 3's in the second
    ("crm", "mover", "record", "mobile", "", "13900000060", 900),
    ("crm", "mover", "record", "mobile", "", "13900000003", 900),
]


def assert_same_run(expected: Resolution, got: SparkResolution) -> None:
    assert not frame_differences(expected.resolved, to_polars(got.resolved))
    assert not frame_differences(expected.links, to_polars(got.links))
    assert not frame_differences(expected.candidates, got.candidates)
    assert got.history.equals(expected.history)
    assert got.guarded.equals(expected.guarded)
    figures = {k: v for k, v in got.stats.items() if not k.startswith("seconds_")}
    want = {k: v for k, v in expected.stats.items() if not k.startswith("seconds_")}
    assert figures == pytest.approx(want, rel=1e-9)
    assert got.model is not None and expected.model is not None
    assert got.model.context_values == expected.model.context_values
    assert not frame_differences(expected.keys, to_polars(got.keys))


def graph(rows: list[tuple]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Nodes numbered over every run's records, as the stored graph numbers them once for good."""
    return number_nodes(*frames(rows))


def on_spark(
    spark: Any,
    nodes: pl.DataFrame,
    attributes: pl.DataFrame,
    config: IdentityConfig,
    previous: pl.DataFrame | None = None,
    **run: Any,
) -> SparkResolution:
    """``resolve_on_spark`` on the polars frames the DuckDB engine was given."""
    frame = spark.createDataFrame
    last = frame(previous.to_arrow()) if previous is not None else None
    return resolve_on_spark(
        spark, frame(nodes.to_arrow()), frame(attributes.to_arrow()), config, salt=SALT, previous=last, **run
    )


def test_a_first_run_on_spark_returns_the_duckdb_engines_resolution(
    spark: Any, config: IdentityConfig
) -> None:
    nodes, attributes = graph(ROWS + partners_rows(np.random.default_rng(5), 80))
    expected = resolve(nodes, attributes, config, salt=SALT, run_id="r1", resolved_at=FIRST_RUN)
    got = on_spark(spark, nodes, attributes, config, run_id="r1", resolved_at=FIRST_RUN, buckets=3)
    assert_same_run(expected, got)
    assert {"deterministic", "probabilistic", "singleton", "anonymous"} <= set(
        expected.resolved.get_column("method")
    )
    assert expected.candidates.height > 0 and expected.guarded.height > 0
    assert expected.history.filter(pl.col("event").is_in(["must_link", "cannot_link"])).height == 3


def test_a_second_run_on_spark_keeps_the_first_runs_ids_as_the_engine_does(
    spark: Any, config: IdentityConfig
) -> None:
    """Between the runs a member's mobile changes from one person's to another's and two
    orders are withdrawn: the larger part of each person keeps its id, merged people keep the older one, and
    the history says so on both engines."""
    nodes, attributes = graph(ROWS + partners_rows(np.random.default_rng(5), 80) + MOVER)
    mover = nodes.filter(pl.col("record_id") == "mover").get_column("node").item()
    first_attributes = attributes.filter((pl.col("node") != mover) | (pl.col("value") == MOVER[0][5]))
    first = resolve(nodes, first_attributes, config, salt=SALT, run_id="r1", resolved_at=FIRST_RUN)
    previous = first.resolved.select("node", "unified_id", "id_created_at", "first_linked_run")
    second_nodes = nodes.filter(~pl.col("record_id").is_in(["p7-0", "p62-0"]))  # withdrawn orders
    second_attributes = attributes.join(second_nodes.select("node"), on="node").filter(
        (pl.col("node") != mover) | (pl.col("value") == MOVER[1][5])
    )
    expected = resolve(
        second_nodes,
        second_attributes,
        config,
        salt=SALT,
        previous=previous,
        run_id="r2",
        resolved_at=SECOND_RUN,
    )
    got = on_spark(
        spark,
        second_nodes,
        second_attributes,
        config,
        previous=previous,
        run_id="r2",
        resolved_at=SECOND_RUN,
        buckets=2,
    )
    assert_same_run(expected, got)
    assert {"merge", "split"} <= set(expected.history.get_column("event"))
    kept = expected.resolved.join(previous, on="node").filter(
        pl.col("unified_id") == pl.col("unified_id_right")
    )
    assert kept.height > 0.8 * previous.height  # most people keep the ids of the first run
    # person 62 keeps its id although the record a fresh id would be derived from is gone
    fresh = resolve(second_nodes, second_attributes, config, salt=SALT, run_id="r2", resolved_at=SECOND_RUN)
    person_62 = [
        run.filter(pl.col("record_id") == "p62-1").get_column("unified_id").item()
        for run in (first.resolved, expected.resolved, fresh.resolved)
    ]
    assert person_62[0] == person_62[1] != person_62[2]


def test_an_empty_graph_gives_an_empty_run_and_no_error(spark: Any, config: IdentityConfig) -> None:
    """A deployment's first day may stage nothing: every output is empty, with its columns."""
    nodes, attributes = graph([])
    expected = resolve(nodes, attributes, config, salt=SALT, run_id="r1", resolved_at=FIRST_RUN)
    got = on_spark(spark, nodes, attributes, config, run_id="r1", resolved_at=FIRST_RUN)
    assert (
        to_polars(got.resolved).is_empty() and to_polars(got.links).is_empty() and got.candidates.is_empty()
    )
    assert to_polars(got.resolved).columns == expected.resolved.columns
    assert got.stats["users"] == got.stats["match_candidates"] == 0
