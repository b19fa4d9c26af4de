"""Jobs: the whole pipeline, run for a range of daily partitions in one run."""

from __future__ import annotations

import dagster as dg

from assets.ingest.partitions import DAILY

materialize_all = dg.define_asset_job(
    "materialize_all",
    selection=dg.AssetSelection.all(),
    partitions_def=DAILY,
    description="Ingest the selected days of every feed, then rebuild staging, identity, marts and exports.",
)
