"""The Spark session the Spark engine runs in, with the settings the project's SQL relies on.

dbt-spark's ``session`` method runs every model in the session of the process it is invoked from,
so the pipeline builds this one first (dbt's ``getOrCreate`` then returns it). Tables are plain
Parquet in a Hive metastore kept in the warehouse folder (Derby, one process at a time, like the
DuckDB warehouse): Delta and Iceberg need JARs from Maven, which a cluster provides and this
machine cannot fetch.

pyspark is an optional dependency (``pip install -e ".[spark]"``) and needs Java 17; nothing here
imports it until a session is asked for."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from assets.common.pipeline_config import Spark

if TYPE_CHECKING:
    import polars as pl
    from pyspark.sql import DataFrame, SparkSession

REQUIRED_CONF = {
    # Without it Spark un-escapes string literals: the normalisers' '\s+' would match "s+" and
    # '\.' any character, with no error (a silent trap; tests/spark guards it).
    "spark.sql.parser.escapedStringLiterals": "true",
    # Timestamps without a time zone, as DuckDB's TIMESTAMP: the same instant reads the same.
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    "spark.sql.session.timeZone": "UTC",
    # dbt-spark switches ANSI mode off in its session; set here too, so every query sees one mode.
    "spark.sql.ansi.enabled": "false",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}
"""Settings the SQL's answers depend on: the deployment's ``spark.conf`` cannot override them."""

LOG_SETTINGS = """rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.metastore.name = org.apache.hadoop.hive.metastore.RetryingHMSHandler
logger.metastore.level = off
"""
"""Spark's own log at errors only: its start-up warnings (the host's address, Hadoop's native
library) say nothing an operator of this pipeline can act on. The metastore's handler logs an
error with its stack for every ``CREATE DATABASE IF NOT EXISTS`` of a database that exists, and
re-raises what is real to Spark, which reports it."""


def warehouse_folder(settings: Spark, data_dir: Path) -> Path:
    """Where the session's tables and metastore live."""
    return Path(settings.warehouse_dir) if settings.warehouse_dir else data_dir / "spark"


def session_conf(settings: Spark, data_dir: Path) -> dict[str, str]:
    """Every setting of the session: the deployment's, then the folders, then the required ones."""
    folder = warehouse_folder(settings, data_dir).resolve()
    logs = f"-Dlog4j2.configurationFile=file:{folder / 'log4j2.properties'}"
    java_options = f"-Dderby.system.home={folder / 'derby'} {logs}"
    # one machine: the driver listens on loopback only, not on the host's network
    local = {"spark.driver.bindAddress": "127.0.0.1", "spark.driver.host": "127.0.0.1"}
    return {
        "spark.sql.shuffle.partitions": "4",
        **(local if settings.master.startswith("local") else {}),
        **settings.conf,
        "spark.sql.warehouse.dir": str(folder / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={folder / 'metastore_db'};create=true"
        ),
        "spark.driver.extraJavaOptions": java_options,
        **REQUIRED_CONF,
    }


def missing_requirements() -> str | None:
    """What this machine lacks to start the Spark engine, said so that an operator can fix it."""
    if shutil.which("java") is None:
        return "the Spark engine needs Java 17 on PATH (Debian: apt-get install openjdk-17-jre-headless)"
    if importlib.util.find_spec("pyspark") is None:
        return (
            'the Spark engine needs pyspark and dbt-spark: pip install -e ".[spark]" (or make install-spark)'
        )
    return None


def spark_session(settings: Spark, data_dir: Path) -> SparkSession:
    """The process's Spark session, started with :func:`session_conf` (or the running one)."""
    missing = missing_requirements()
    if missing:
        raise RuntimeError(missing)
    from pyspark.sql import SparkSession

    # Python work on executors (identity's normalisers) runs in this interpreter, whose environment
    # holds the project; pyspark would start ``python3`` from PATH. A cluster's executors name their
    # own interpreter (``spark.pyspark.python`` in ``conf``), with the project installed there.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    folder = warehouse_folder(settings, data_dir).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "log4j2.properties").write_text(LOG_SETTINGS, encoding="utf-8")
    builder = SparkSession.builder.master(settings.master).appName("o2o-cdp")
    for key, value in session_conf(settings, data_dir).items():
        builder = builder.config(key, value)
    session = builder.enableHiveSupport().getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def to_polars(rows: DataFrame) -> pl.DataFrame:
    """A Spark result on the driver, through Arrow: for what the driver computes in Python (model
    fits, attribution), from inputs the engine has already reduced."""
    import polars as pl

    frame = pl.from_arrow(rows.toArrow())
    assert isinstance(frame, pl.DataFrame)
    return frame


def replace_table(spark: SparkSession, table: str, frame: pl.DataFrame) -> None:
    """``frame`` as the Spark table ``table`` (Parquet), replacing it. Arrow carries the types over:
    naive timestamps stay TIMESTAMP_NTZ, as the session's dbt models write them."""
    spark.createDataFrame(frame.to_arrow()).write.mode("overwrite").format("parquet").saveAsTable(table)
