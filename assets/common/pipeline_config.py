"""The deployment's run settings (``pipeline.yaml``): the first daily partition and its time
zone, the daily schedule, the landing sensor, how old a mart may get, how much memory dbt's
DuckDB may take, and the engine (DuckDB, or Spark and its session).

The file's sections are typed below, so every value (an hour of 25, an interval of ``soon``) is
reported as ``file:line: key: problem`` when the code location loads, not as a bare ``ValueError``
when Dagster builds the schedule."""

from __future__ import annotations

import os
import re
from dataclasses import field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, PlainValidator, model_validator
from pydantic.dataclasses import dataclass

from assets.common.configuration import (
    SETTINGS,
    ConfigError,
    a_date,
    fail_unless,
    number,
    one_of,
    problem,
    read_yaml,
    validated,
    whole,
)
from assets.common.paths import CONFIG_DIR


@dataclass(frozen=True, config=SETTINGS)
class Spark:
    """The Spark session the Spark engine runs in: ``master`` is ``local[N]`` on one machine or a
    cluster's URL; ``warehouse_dir`` holds its tables (default ``$CDP_DATA_DIR/spark``, where the
    metastore lives too); ``conf`` adds Spark settings (executor memory, shuffle partitions). The
    settings the models' SQL relies on are always set (assets/common/spark.py) and cannot be
    overridden here."""

    master: Annotated[str, Field(min_length=1)] = "local[2]"
    warehouse_dir: str | None = None
    conf: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PipelineConfig:
    partitions_start: str | None  # None: the landing zone's first day folder
    timezone: str
    schedule_hour: int
    schedule_minute: int
    sensor_interval_seconds: int
    freshness_warn_hours: float = 26
    freshness_fail_hours: float = 50
    dbt_memory_limit: str = "80%"
    identity_memory_limit: str = "80%"
    exports_memory_limit: str = "80%"
    engine: str = "duckdb"
    spark: Spark = field(default_factory=Spark)


ENGINES = ("duckdb", "spark")
START_HINT = "; leave it out to start at the landing zone's first day"


@dataclass(frozen=True, config=SETTINGS)
class Partitions:
    start_date: Annotated[date, a_date(hint=START_HINT)] | None = None
    timezone: Annotated[str, Field(min_length=1)] = "UTC"


@dataclass(frozen=True, config=SETTINGS)
class Schedule:
    hour: Annotated[int, whole(0, 23)] = 3
    minute: Annotated[int, whole(0, 59)] = 0


@dataclass(frozen=True, config=SETTINGS)
class Sensor:
    minimum_interval_seconds: Annotated[int, whole(1)] = 60


@dataclass(frozen=True, config=SETTINGS)
class Freshness:
    warn_after_hours: Annotated[float, number(0, low_open=True)] = 26
    fail_after_hours: Annotated[float, number(0, low_open=True)] = 50

    @model_validator(mode="after")
    def _warn_first(self) -> Freshness:
        """A mart flagged stale before it is flagged late would skip the warning the UI exists for."""
        if self.warn_after_hours >= self.fail_after_hours:
            raise problem(
                f"warn_after_hours ({self.warn_after_hours:g}) and fail_after_hours "
                f"({self.fail_after_hours:g}) must be positive numbers with "
                "warn_after_hours < fail_after_hours"
            )
        return self


MEMORY = re.compile(r"\d+(\.\d+)?\s*([KMGT]i?B)|\d{1,3}(\.\d+)?%", re.IGNORECASE)


def _memory(value: Any) -> str:
    return fail_unless(
        isinstance(value, str) and MEMORY.fullmatch(value.strip()) is not None,
        value,
        "must be an amount such as 4GB or 512MB, or a share of the machine's memory such as 50%",
    ).strip()


@dataclass(frozen=True, config=SETTINGS)
class Dbt:
    """dbt's DuckDB connection runs inside the pipeline's process: its memory limit bounds the run's
    peak (a model that needs more spills to disk instead). DuckDB's own default is 80 % of RAM."""

    memory_limit: Annotated[str, PlainValidator(_memory)] = "80%"


@dataclass(frozen=True, config=SETTINGS)
class Identity:
    """Identity resolves the graph in polars beside a DuckDB connection that loads and writes it: the
    connection's limit keeps DuckDB's buffers from adding their own gigabytes to the step's peak
    (a load or write that needs more spills to disk)."""

    memory_limit: Annotated[str, PlainValidator(_memory)] = "80%"


@dataclass(frozen=True, config=SETTINGS)
class Exports:
    """Writing the marts out (Parquet, above all a fact partitioned by day, and the analysts' file)
    buffers in DuckDB what it writes: its limit bounds the step's peak, at some speed."""

    memory_limit: Annotated[str, PlainValidator(_memory)] = "80%"


@dataclass(frozen=True, config=SETTINGS)
class PipelineFile:
    """``pipeline.yaml`` as written: one mapping per section, each optional."""

    partitions: Partitions = Partitions()
    schedule: Schedule = Schedule()
    sensor: Sensor = Sensor()
    freshness: Freshness = Freshness()
    dbt: Dbt = Dbt()
    identity: Identity = Identity()
    exports: Exports = Exports()
    engine: Annotated[str, one_of(ENGINES)] = "duckdb"
    spark: Spark = Spark()


def load_pipeline_config(path: Path | None = None) -> PipelineConfig:
    path = path or CONFIG_DIR / "pipeline.yaml"
    # A section left empty (`sensor:` with its keys commented out) means its defaults.
    raw = {key: value for key, value in read_yaml(path).items() if value is not None}
    file = validated(path, PipelineFile, raw)
    start = file.partitions.start_date
    return PipelineConfig(
        start.isoformat() if start else None,
        file.partitions.timezone,
        file.schedule.hour,
        file.schedule.minute,
        file.sensor.minimum_interval_seconds,
        file.freshness.warn_after_hours,
        file.freshness.fail_after_hours,
        file.dbt.memory_limit,
        file.identity.memory_limit,
        file.exports.memory_limit,
        file.engine,
        file.spark,
    )


@cache
def pipeline_config() -> PipelineConfig:
    return load_pipeline_config()


def engine_name(config: PipelineConfig | None = None) -> str:
    """The engine this process runs on: ``CDP_ENGINE`` when set (a one-off run on the other engine
    without editing the deployment), else ``pipeline.yaml``'s ``engine``."""
    chosen = os.environ.get("CDP_ENGINE", "").strip()
    if not chosen:
        return (config or pipeline_config()).engine
    if chosen not in ENGINES:
        problem = f"must be one of {list(ENGINES)}, got {chosen!r}"
        raise ConfigError(Path("environment"), "CDP_ENGINE", problem)
    return chosen
