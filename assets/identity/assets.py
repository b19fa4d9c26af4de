"""Identity assets: resolve staged records and event actors into unified ids."""

from dataclasses import asdict

import dagster as dg
import polars as pl

from assets.identity.stitching import stitch
from assets.ingest.assets import OWNERS
from assets.metadata import markdown_table
from pipelines.config import identity_config
from pipelines.resources import Warehouse

STAGED = [["staging", "stg_identity_records"], ["staging", "stg_identity_attributes"]]


@dg.multi_asset(
    name="identity_resolution",
    specs=[
        dg.AssetSpec(["identity", "resolved_records"], group_name="identity", deps=STAGED, kinds={"python", "duckdb"},
                     owners=OWNERS,
                     description="The unified id of every identity-bearing record and every identifiable event "
                                 "actor, by deterministic stitching on strong identifiers "
                                 "(rules and guards in config/identity.yaml)."),
        dg.AssetSpec(["identity", "guarded_values"], group_name="identity", deps=STAGED, kinds={"python", "duckdb"},
                     owners=OWNERS,
                     description="Restricted. Identifier values never used as merge keys: configured placeholders "
                                 "and values shared by several people (family phones, front-desk numbers)."),
    ],
)
def identity_resolution(context: dg.AssetExecutionContext, warehouse: Warehouse):
    with warehouse.connect() as con:
        records = con.sql("SELECT source, record_id, observed_at FROM staging.stg_identity_records").pl()
        attributes = con.sql("""SELECT source, record_id, record_type, attribute_kind, namespace, value, observed_at
                                FROM staging.stg_identity_attributes WHERE is_valid""").pl()
        result = stitch(records, attributes, identity_config())
        resolved, guarded = result.resolved, result.guarded
        con.execute("CREATE SCHEMA IF NOT EXISTS identity")
        con.execute("BEGIN TRANSACTION")
        con.execute("CREATE OR REPLACE TABLE identity.resolved_records AS SELECT * FROM resolved")
        con.execute("CREATE OR REPLACE TABLE identity.guarded_values AS SELECT * FROM guarded")
        con.execute("COMMIT")
    context.log.info(f"identity: {result.stats}")
    users = resolved.filter(resolved["record_type"] == "record").get_column("unified_id").n_unique()
    yield dg.MaterializeResult(asset_key=["identity", "resolved_records"], metadata={
        **asdict(result.stats),
        "dagster/row_count": resolved.height,
        "records": records.height,
        "users_with_records": users,
        "records_per_user": round(records.height / max(users, 1), 3),
        "cluster_sizes": cluster_size_chart(resolved.filter(pl.col("record_type") == "record")),
    })
    yield dg.MaterializeResult(asset_key=["identity", "guarded_values"], metadata={
        "dagster/row_count": guarded.height,
        "by_guard": dg.MetadataValue.json(dict(guarded.group_by("guard").len().iter_rows())),
    })


CLUSTER_BUCKETS = ((1, 1, "1"), (2, 2, "2"), (3, 3, "3"), (4, 5, "4-5"), (6, 10, "6-10"), (11, None, "11+"))


def cluster_size_chart(records: pl.DataFrame, width: int = 40) -> dg.MetadataValue:
    """Unified ids by number of records, as a Markdown bar chart: a long tail of huge clusters is
    the first sign of over-merging, a spike at 1 of under-merging."""
    sizes = records.group_by("unified_id").len()["len"]
    rows = []
    for low, high, label in CLUSTER_BUCKETS:
        n = int(((sizes >= low) & (sizes <= (high or sizes.max() or low))).sum()) if sizes.len() else 0
        rows.append((label, n))
    top = max((n for _, n in rows), default=0) or 1
    return markdown_table([{"records per id": label, "ids": n, "": "█" * round(width * n / top)}
                           for label, n in rows])


def identity_defs() -> dg.Definitions:
    return dg.Definitions(assets=[identity_resolution])
