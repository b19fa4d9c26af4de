"""``cdp forget`` on either engine: the person deleted from every layer, then the analysts' file and
the exports published again without them.

On DuckDB every layer is the warehouse file. On Spark the file holds the raw layer and the
control tables, and the derived tables are Spark's, mounted there: they are rewritten without the
person (assets/privacy/spark_rows.py), the feeds' day partitions are published again from the
trimmed raw rows, and Spark writes the exports the analysts' file is built from."""

from __future__ import annotations

from pathlib import Path

from assets.activation.settings import load_activation_config
from assets.common.paths import hash_salt
from assets.common.pipeline_config import pipeline_config
from assets.common.spark_mount import mount_spark_tables
from assets.common.warehouse import Warehouse
from assets.exports.analyst_db import publish_analyst_db
from assets.exports.publish import export_parquet, mart_tables
from assets.exports.spark_publish import export_spark_marts, publish_spark_analyst_db, spark_marts
from assets.identity.settings import identity_config
from assets.ingest.feeds import feeds_config
from assets.ingest.spark_raw import publish_raw_partitions
from assets.privacy.engine_copies import drop_spark_copies
from assets.privacy.forget import ForgetReport, forget


def forget_person(warehouse: Warehouse, kind: str, value: str) -> tuple[ForgetReport, list[Path]]:
    """Delete the person ``kind``=``value`` names and republish; the report, and the folders of
    ``cdp parity``'s Spark copies removed (a DuckDB deployment's, rebuilt by the next check)."""
    feeds = feeds_config()
    spark = warehouse.spark() if warehouse.on_spark else None
    with warehouse.connect() as con:
        if spark is not None:
            mount_spark_tables(con, spark)
        report = forget(
            con,
            feeds,
            kind,
            value,
            hash_salt(warehouse.paths),
            set(identity_config().attribute_kinds),
            load_activation_config().destinations,
            spark,
        )
        if spark is None:
            tables = mart_tables(con)
            # built afresh: no deleted row may linger in the free blocks of a patched copy
            publish_analyst_db(con, warehouse.paths.analyst_db, tables, fresh=True)
            export_parquet(con, warehouse.paths.exports, tables)
            return report, drop_spark_copies(warehouse.paths.root)
        trimmed = [f for f in feeds.feeds if report.rows_deleted.get(f"raw.{f}")]
        if trimmed:
            publish_raw_partitions(con, spark, feeds, warehouse.spark_folder, feeds=trimmed)
        mount_spark_tables(con, spark)
    if not spark.catalog.databaseExists("marts"):  # no run has built marts: nothing to republish
        return report, []
    paths = warehouse.paths
    export_spark_marts(spark, paths.exports, spark_marts(spark))
    publish_spark_analyst_db(spark, paths.exports, paths.analyst_db, pipeline_config().exports_memory_limit)
    return report, []
