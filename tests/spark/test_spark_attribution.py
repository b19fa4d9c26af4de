"""Attribution on Spark: the touchpoint events Spark hands the driver are those the rules take, the
same rows the DuckDB warehouse selects (tests/kpis/test_attribution_asset.py)."""

from __future__ import annotations

from typing import Any

from assets.kpis.attribution.config import AttributionConfig
from assets.kpis.attribution_spark import touchpoint_column
from tests.kpis.test_attribution_asset import FILTER_RULES, FILTERED_EVENTS
from tests.spark import NEEDS_SPARK

pytestmark = NEEDS_SPARK


def test_spark_hands_over_exactly_the_events_a_touchpoint_rule_takes(spark: Any):
    events = spark.createDataFrame(FILTERED_EVENTS.drop("occurred_at").to_pandas())
    taken = events.where(touchpoint_column(AttributionConfig(touchpoints=FILTER_RULES)))
    assert sorted(row.event_id for row in taken.select("event_id").collect()) == [1, 4, 5, 6]
