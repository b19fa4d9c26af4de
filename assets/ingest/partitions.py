"""Daily partitions of the landing zone: ``<landing>/<feed>/<YYYY-MM-DD>/<files>``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg

from pipelines.config import FeedConfig, pipeline_config

DAILY = dg.DailyPartitionsDefinition(start_date=pipeline_config().partitions_start,
                                     timezone=pipeline_config().timezone)


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
