"""The warehouse resource every stage's assets use: the DuckDB file and the runtime folders
around it, all under one data directory (``CDP_DATA_DIR``)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import duckdb

from assets.common.paths import DataPaths, hash_salt
from assets.common.pipeline_config import engine_name, pipeline_config

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class Warehouse(dg.ConfigurableResource):
    """The DuckDB warehouse and the runtime folders around it; on the Spark engine, also the Spark
    session and its warehouse folder, with the DuckDB file as the control layer beside it
    (assets/common/spark_mount.py).

    DuckDB allows one writer process per file, so connections are opened per step, inside ``with``
    blocks, and retried briefly when another process (a leftover analyst shell) holds the lock."""

    data_dir: str | None = None  # default: $CDP_DATA_DIR when the run starts (so tests can move it)

    @property
    def paths(self) -> DataPaths:
        return DataPaths(Path(self.data_dir).resolve()) if self.data_dir else DataPaths.from_env()

    @property
    def on_spark(self) -> bool:
        """Whether the deployment runs on Spark (``engine`` in pipeline.yaml, or ``CDP_ENGINE``)."""
        return engine_name() == "spark"

    def spark(self) -> SparkSession:
        """The process's Spark session, started on first use: a run's steps execute in one process
        (the in-process executor), so they share it, and dbt-spark's ``session`` method runs in it."""
        from assets.common.spark import spark_session

        return spark_session(pipeline_config().spark, self.paths.root)

    @property
    def spark_folder(self) -> Path:
        """Where the Spark engine keeps its tables, the feeds' day partitions and its metastore."""
        from assets.common.spark import warehouse_folder

        return warehouse_folder(pipeline_config().spark, self.paths.root)

    def mount_spark_tables(self) -> None:
        """Spark's derived tables as views of this warehouse's file, for the steps that read them
        through DuckDB; after every step that writes Spark tables."""
        from assets.common.spark_mount import mount_spark_tables

        spark = self.spark()
        with self.connect() as con:
            mount_spark_tables(con, spark)

    @contextmanager
    def connect(
        self, attempts: int = 10, memory_limit: str | None = None
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """``memory_limit``: DuckDB's for this connection (default: DuckDB's own, 80 % of RAM)."""
        self.paths.root.mkdir(parents=True, exist_ok=True)
        settings: dict[str, str | bool | int | float | list[str]] = (
            {"memory_limit": memory_limit} if memory_limit else {}
        )
        for attempt in range(attempts):
            try:
                con = duckdb.connect(str(self.paths.warehouse), config=settings)
                break
            except duckdb.IOException:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.5 * (attempt + 1))
        try:
            yield con
        finally:
            con.close()

    def dbt_variables(self) -> dict[str, str]:
        """The environment dbt reads: this warehouse, its memory limit and salt (its profile and
        project read them), and ``buildable`` indirect selection, which keeps a test that spans two
        dbt steps (every staged record is mapped) out of the first step, whose models it cannot see
        yet."""
        return {
            "CDP_WAREHOUSE_PATH": str(self.paths.warehouse),
            "CDP_DBT_MEMORY_LIMIT": pipeline_config().dbt_memory_limit,
            "CDP_HASH_SALT": hash_salt(self.paths),
            "DBT_INDIRECT_SELECTION": "buildable",
            "DO_NOT_TRACK": "1",
        }

    @contextmanager
    def dbt_environment(self) -> Iterator[None]:
        """:meth:`dbt_variables` set for dbt (which runs in this process inside this block), and the
        process environment put back afterwards: they are dbt's interface, not state the rest of the
        process should see."""
        scoped = self.dbt_variables()
        saved = {name: os.environ.get(name) for name in scoped}
        os.environ.update(scoped)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
