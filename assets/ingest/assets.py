"""Ingest assets, built from ``config/feeds.yaml``: one daily-partitioned asset per feed, the
reference tables, and the canonical views staging reads. Adding a feed adds an asset here."""

from dataclasses import asdict
from datetime import date

import dagster as dg
import duckdb
from dagster import AssetExecutionContext

from assets.common.engine_parity import publish_to_spark
from assets.common.metadata import OWNERS, markdown_table, row_count
from assets.common.paths import hash_salt
from assets.common.pipeline_config import pipeline_config
from assets.common.warehouse import Warehouse
from assets.ingest.batch import ensure_raw_table
from assets.ingest.canonical import VIEWS, create_views
from assets.ingest.feeds import FeedConfig, FeedsConfig, feeds_config
from assets.ingest.loader import FileLoad, load_feed_files
from assets.ingest.partitions import DAILY, partition_files
from assets.ingest.reference import load_reference
from assets.ingest.spark_raw import create_canonical_views_on_spark, publish_raw_partitions


def _load_summary(loads: list[FileLoad]) -> dict[str, int | dg.MetadataValue]:
    new = [f for f in loads if f.status != "already_loaded"]
    return {
        "files_seen": len(loads),
        "files_loaded": sum(f.status == "loaded" for f in new),
        "files_rejected": sum(f.status == "rejected" for f in new),
        "files_duplicate_content": sum(f.status == "duplicate_content" for f in new),
        "rows_in": sum(f.rows_in for f in new),
        "rows_loaded": sum(f.rows_loaded for f in new),
        "rows_quarantined": sum(f.rows_quarantined for f in new),
        "identical_rows": sum(f.identical_rows for f in new),
        "files": markdown_table(
            [
                {
                    k: v
                    for k, v in asdict(f).items()
                    if k
                    in (
                        "path",
                        "status",
                        "rows_in",
                        "rows_loaded",
                        "rows_quarantined",
                        "reason",
                        "extra_columns",
                    )
                }
                for f in new
            ]
        ),
    }


def build_feed_asset(feed: FeedConfig) -> dg.AssetsDefinition:
    @dg.asset(
        key=["raw", feed.name],
        group_name="ingest",
        partitions_def=DAILY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        description=f"{feed.description}\n\nLanding folder `{feed.path}/<YYYY-MM-DD>/`; "
        f"{feed.kind} feed{f', {feed.channel}' if feed.channel else ''}. Restricted: holds personal "
        "data in clear.",
        kinds={"python", "duckdb"},
        owners=OWNERS,
        tags={"feed_kind": feed.kind, **({"channel": feed.channel} if feed.channel else {})},
    )
    def ingest_feed(context: AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        days = [date.fromisoformat(key) for key in context.partition_keys]
        files = [(file, day) for day in days for file in partition_files(warehouse.paths.landing, feed, day)]
        with warehouse.connect() as con:
            loads = load_feed_files(
                con,
                feed,
                files,
                warehouse.paths.landing,
                salt=hash_salt(warehouse.paths),
                timezone=pipeline_config().timezone,
            )
            total = row_count(con, "raw", feed.name)
            if warehouse.on_spark:  # what the Spark engine's staging reads: the days' partitions
                publish_raw_partitions(
                    con, warehouse.spark(), feeds_config(), warehouse.spark_folder, days, [feed.name]
                )
        context.log.info(f"{feed.name}: {len(loads)} files over {len(days)} partitions")
        return dg.MaterializeResult(metadata={**_load_summary(loads), "dagster/row_count": total})

    return ingest_feed


def build_reference_asset(config: FeedsConfig) -> dg.AssetsDefinition:
    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                ["raw", ref.name],
                group_name="ingest",
                kinds={"python", "duckdb"},
                owners=OWNERS,
                description=f"Reference data from `reference/{ref.file}`, replaced on every load.",
            )
            for ref in config.reference.values()
        ],
        name="reference_data",
    )
    def reference_data(warehouse: Warehouse):
        with warehouse.connect() as con:
            for ref in config.reference.values():
                load = load_reference(con, ref, warehouse.paths.landing)
                if warehouse.on_spark:
                    publish_to_spark(con, warehouse.spark(), [("raw", ref.name)], warehouse.spark_folder)
                yield dg.MaterializeResult(
                    asset_key=["raw", ref.name],
                    metadata={
                        "status": load.status,
                        "rows_in": load.rows_in,
                        "rows_loaded": load.rows_loaded,
                        "rows_quarantined": load.rows_quarantined,
                        "dagster/row_count": row_count(con, "raw", ref.name),
                    },
                )

    return reference_data


# Views whose rows are not counted here, as counting a view runs it: identity_attributes aggregates
# every actor's sightings (3.2 s a run at 200 k people, half a daily run's ingest). The attributes'
# count is on stg_identity_attributes' materialisation, built from this view's rows.
COUNTED_DOWNSTREAM = {"identity_attributes"}


def build_canonical_views(config: FeedsConfig) -> dg.AssetsDefinition:
    descriptions = {
        "orders": "Every orders feed in the canonical order shape.",
        "events": "Every events feed in the canonical event shape.",
        "consents": "Every consent decision of every consents feed (purpose, decision, where captured).",
        "identity_records": "Every record of every identity-bearing feed.",
        "identity_attributes": "Identity attributes (raw values) of records and event actors.",
        "identity_attribute_deliveries": "Identity attributes (raw values) as delivered, one row per raw "
        "row and attribute, with its load time: what an incremental build of the attributes folds in.",
    }

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                ["raw", view],
                group_name="ingest",
                kinds={"duckdb"},
                owners=OWNERS,
                description=f"View. {descriptions[view]} Generated from config/feeds.yaml.",
                deps=[["raw", f] for f in config.feeds] + [["privacy", "retention"]],
            )
            for view in VIEWS
        ],
        name="canonical_views",
    )
    def canonical_views(warehouse: Warehouse):
        with warehouse.connect() as con:
            for feed in config.feeds.values():
                ensure_raw_table(con, feed.name, feed.columns)
            create_views(con, config)
            if warehouse.on_spark:
                _canonical_views_on_spark(con, warehouse, config)
            for view in VIEWS:
                counted = view not in COUNTED_DOWNSTREAM
                counts = {"dagster/row_count": row_count(con, "raw", view)} if counted else {}
                yield dg.MaterializeResult(asset_key=["raw", view], metadata=counts)

    return canonical_views


def _canonical_views_on_spark(
    con: duckdb.DuckDBPyConnection, warehouse: Warehouse, config: FeedsConfig
) -> None:
    """The canonical views in Spark SQL, over every feed's partitioned table (a feed no run has
    published yet, a new one or a Spark folder started afresh, is published whole first)."""
    spark = warehouse.spark()
    unpublished = [f for f in config.feeds if not spark.catalog.tableExists(f"raw.{f}")]
    if unpublished:
        publish_raw_partitions(con, spark, config, warehouse.spark_folder, feeds=unpublished)
    create_canonical_views_on_spark(spark, config)


def ingest_defs(config: FeedsConfig | None = None) -> dg.Definitions:
    config = config or feeds_config()
    return dg.Definitions(
        assets=[
            *(build_feed_asset(f) for f in config.feeds.values()),
            build_reference_asset(config),
            build_canonical_views(config),
        ]
    )
