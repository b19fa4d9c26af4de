"""Jobs: the whole pipeline, run for a range of daily partitions in one run."""

from __future__ import annotations

from datetime import date

import dagster as dg

from assets.ingest.partitions import DAILY

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

materialize_all = dg.define_asset_job(
    "materialize_all",
    selection=dg.AssetSelection.all(),
    partitions_def=DAILY,
    description="Ingest the selected days of every feed, then rebuild staging, identity, marts and exports.",
)


def partition_range_tags(first: date, last: date) -> dict[str, str]:
    """Run tags that make one run cover every daily partition from ``first`` to ``last``."""
    return {RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat()}
