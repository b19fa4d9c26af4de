"""Identity assets: resolve staged records and event actors into unified ids."""

from dataclasses import asdict

import dagster as dg
from dagster import AssetExecutionContext

from assets.identity.stitching import stitch
from assets.ingest.assets import OWNERS
from pipelines.config import identity_config
from pipelines.resources import Warehouse


@dg.asset(
    key=["identity", "resolved_records"],
    group_name="identity",
    deps=[["staging", "stg_identity_records"], ["staging", "stg_identity_attributes"]],
    kinds={"python", "duckdb"},
    owners=OWNERS,
    description="The unified id of every identity-bearing record and every identifiable event actor, "
                "by deterministic stitching on strong identifiers (rules and guards in config/identity.yaml).",
)
def resolved_records(context: AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        records = con.sql("SELECT source, record_id, observed_at FROM staging.stg_identity_records").pl()
        attributes = con.sql("""SELECT source, record_id, record_type, attribute_kind, namespace, value, observed_at
                                FROM staging.stg_identity_attributes WHERE is_valid""").pl()
        resolved, stats = stitch(records, attributes, identity_config())
        con.execute("CREATE SCHEMA IF NOT EXISTS identity")
        con.execute("CREATE OR REPLACE TABLE identity.resolved_records AS SELECT * FROM resolved")
    context.log.info(f"identity: {stats}")
    sizes = resolved.filter(resolved["record_type"] == "record").group_by("unified_id").len()
    return dg.MaterializeResult(metadata={
        **asdict(stats),
        "dagster/row_count": resolved.height,
        "records": records.height,
        "users_with_records": sizes.height,
        "records_per_user": round(records.height / max(sizes.height, 1), 3),
    })


def identity_defs() -> dg.Definitions:
    return dg.Definitions(assets=[resolved_records])
