"""The deployment's run settings (``pipeline.yaml``): the first daily partition and its time
zone, the daily schedule, the landing sensor and how old a mart may get."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from assets.common.configuration import ConfigError, read_yaml
from assets.common.paths import CONFIG_DIR


@dataclass(frozen=True)
class PipelineConfig:
    partitions_start: str | None  # None: the landing zone's first day folder
    timezone: str
    schedule_hour: int
    schedule_minute: int
    sensor_interval_seconds: int
    freshness_warn_hours: float = 26
    freshness_fail_hours: float = 50


def load_pipeline_config(path: Path | None = None) -> PipelineConfig:
    path = path or CONFIG_DIR / "pipeline.yaml"
    raw = read_yaml(path)
    partitions, schedule, sensor = raw.get("partitions") or {}, raw.get("schedule") or {}, raw.get("sensor") or {}
    freshness = raw.get("freshness") or {}
    start = partitions.get("start_date")
    try:
        start = start if start is None else date.fromisoformat(str(start)).isoformat()
    except ValueError:
        raise ConfigError(path, "partitions.start_date", f"must be a date (YYYY-MM-DD), got {start!r}; "
                                                         "leave it out to start at the landing zone's first day") from None
    warn, fail = freshness.get("warn_after_hours", 26), freshness.get("fail_after_hours", 50)
    if not all(isinstance(v, (int, float)) and v > 0 for v in (warn, fail)) or warn >= fail:
        raise ConfigError(path, "freshness", f"warn_after_hours ({warn!r}) and fail_after_hours ({fail!r}) must be "
                                             "positive numbers with warn_after_hours < fail_after_hours")
    return PipelineConfig(start, str(partitions.get("timezone", "UTC")),
                          int(schedule.get("hour", 3)), int(schedule.get("minute", 0)),
                          int(sensor.get("minimum_interval_seconds", 60)), float(warn), float(fail))


@cache
def pipeline_config() -> PipelineConfig:
    return load_pipeline_config()

