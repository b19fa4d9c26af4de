"""The daily schedule and the sensor that notices new landing files."""

import json
from datetime import date
from pathlib import Path

import dagster as dg

from assets.common.paths import DataPaths
from assets.common.pipeline_config import pipeline_config
from assets.ingest.feeds import feeds_config
from assets.ingest.partitions import partition_files, partition_range_tags
from pipelines.jobs import materialize_all

daily_schedule = dg.build_schedule_from_partitioned_job(
    materialize_all,
    hour_of_day=pipeline_config().schedule_hour,
    minute_of_hour=pipeline_config().schedule_minute,
    name="daily_pipeline",
    description="Every night: yesterday's partition of every feed, then everything downstream.",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)


def scan_landing(landing: Path, since_ns: int) -> tuple[list[date], int]:
    """Days with a file modified after ``since_ns``, and the newest modification time seen."""
    days: set[date] = set()
    newest = since_ns
    for feed in feeds_config().feeds.values():
        root = landing / feed.path
        if not root.is_dir():
            continue
        for folder in root.iterdir():
            try:
                day = date.fromisoformat(folder.name)
            except ValueError:
                continue
            for file in partition_files(landing, feed, day):
                mtime = file.stat().st_mtime_ns
                if mtime > since_ns:
                    days.add(day)
                    newest = max(newest, mtime)
    return sorted(days), newest


@dg.sensor(
    job=materialize_all,
    minimum_interval_seconds=pipeline_config().sensor_interval_seconds,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Starts one run over the days that received new landing files since the last tick. "
    "Files already in the ledger are skipped by ingestion, so a re-sent file costs nothing.",
)
def new_landing_files(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    cursor = json.loads(context.cursor) if context.cursor else {"mtime_ns": 0}
    days, newest = scan_landing(DataPaths.from_env().landing, cursor["mtime_ns"])
    if not days:
        return dg.SkipReason("no new landing files")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(run_key=f"landing-{newest}", tags=partition_range_tags(days[0], days[-1]))
        ],
        cursor=json.dumps({"mtime_ns": newest}),
    )
