"""Daily partitions of the landing zone: ``<landing>/<feed>/<YYYY-MM-DD>/<files>``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg

from assets.common.paths import DataPaths
from assets.common.pipeline_config import pipeline_config
from assets.ingest.feeds import FeedConfig, feeds_config


def first_partition_day(landing: Path, feeds: list[FeedConfig], declared: str | None) -> date:
    """The first daily partition: ``partitions.start_date`` when the deployment declares one, else the
    landing zone's first day folder (so older data needs no config edit), else today."""
    if declared:
        return date.fromisoformat(declared)
    return next(iter(landing_dates(landing, feeds)), date.today())


def _daily() -> dg.DailyPartitionsDefinition:
    config = pipeline_config()
    start = first_partition_day(
        DataPaths.from_env().landing, list(feeds_config().feeds.values()), config.partitions_start
    )
    return dg.DailyPartitionsDefinition(start_date=start.isoformat(), timezone=config.timezone)


def partition_files(landing: Path, feed: FeedConfig, day: date) -> list[Path]:
    """The files delivered for one feed and day, in a stable order; hidden and partial files skipped."""
    folder = landing / feed.path / day.isoformat()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith((".", "_", "~")))


def landing_dates(landing: Path, feeds: list[FeedConfig]) -> list[date]:
    """Every day that has a folder under any feed, ignoring names that are not dates."""
    days = set()
    for feed in feeds:
        root = landing / feed.path
        if root.is_dir():
            for child in root.iterdir():
                try:
                    days.add(date.fromisoformat(child.name))
                except ValueError:
                    continue
    return sorted(days)


# Dagster's run tags for a run over a range of partitions (quality checks read the range back).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def partition_range_tags(first: date, last: date) -> dict[str, str]:
    """Run tags that make one run cover every daily partition from ``first`` to ``last``."""
    return {RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat()}


DAILY = _daily()
