"""Deleting rows from the Spark engine's tables, for a deletion on request.

Spark's plain Parquet tables have no ``DELETE`` (Delta and Iceberg do; this machine cannot fetch
them), and Spark cannot overwrite a table it is reading. The table is mounted in the warehouse's
DuckDB file (assets/common/spark_mount.py), so DuckDB writes the rows that stay into a folder beside
the table's, in the table's own layout (its partition folders included), the two folders are
swapped and Spark is told to read the table again. The person's rows are then gone from the files
themselves, not hidden behind a filter."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import duckdb

from assets.common.spark_mount import spark_location
from assets.common.sql import fetch_value, ident, table

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def delete_spark_rows(
    con: duckdb.DuckDBPyConnection, spark: SparkSession, schema: str, name: str, where: str
) -> int:
    """Delete the rows of the Spark table ``schema.name`` (mounted in ``con``) matching ``where``;
    how many were deleted. A table without such rows is left as it is."""
    mounted = table(schema, name)
    doomed = fetch_value(con, f"SELECT count(*) FROM {mounted} WHERE {where}")
    if not doomed:
        return 0
    relation = f"{schema}.`{name}`"
    location = spark_location(spark, relation)
    partitions = [c.name for c in spark.catalog.listColumns(f"{schema}.{name}") if c.isPartition]
    staged = location.with_name(location.name + ".kept")
    shutil.rmtree(staged, ignore_errors=True)
    layout = f", PARTITION_BY ({', '.join(map(ident, partitions))})" if partitions else ""
    target = staged if partitions else staged / "part-0.parquet"
    staged.mkdir(parents=True)
    con.execute(
        f"COPY (SELECT * FROM {mounted} WHERE ({where}) IS NOT TRUE) TO '{target}' (FORMAT parquet{layout})"
    )
    shutil.rmtree(location)
    staged.rename(location)
    if partitions:  # a day left without rows is a partition no longer: dropped from the catalog
        spark.sql(f"MSCK REPAIR TABLE {relation} SYNC PARTITIONS")
    spark.catalog.refreshTable(relation)
    return int(doomed)
