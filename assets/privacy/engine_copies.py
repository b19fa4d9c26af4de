"""Copies of the warehouse's personal data that the other engine holds.

``cdp parity`` writes, under the Spark folder, the feeds' raw rows as day partitions, Spark's
staging, identity and marts, and Spark's exports: personal data in clear, derived from the DuckDB
warehouse. On a DuckDB deployment they are a check's working copies, rebuilt whole by the next
``cdp parity``, so a deletion on request or a retention cut removes them whole rather than leave
the person (or the expired rows) there. On a Spark deployment that folder is the warehouse itself
and is never removed here."""

from __future__ import annotations

import shutil
from pathlib import Path

from assets.common.pipeline_config import engine_name, pipeline_config
from assets.common.spark import warehouse_folder


def drop_spark_copies(data_dir: Path) -> list[Path]:
    """Remove Spark's copies of a DuckDB deployment's data (and dbt-spark's artifacts beside them);
    the folders removed (none on the Spark engine)."""
    if engine_name() != "duckdb":
        return []
    folders = [warehouse_folder(pipeline_config().spark, data_dir), data_dir / "dbt-spark"]
    removed = [folder for folder in folders if folder.exists()]
    for folder in removed:
        shutil.rmtree(folder)
    return removed
