"""Identity assets: resolve staged records and event actors into unified ids."""

from dataclasses import asdict

import dagster as dg

from assets.identity.stitching import stitch
from assets.ingest.assets import OWNERS
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
    })
    yield dg.MaterializeResult(asset_key=["identity", "guarded_values"], metadata={
        "dagster/row_count": guarded.height,
        "by_guard": dg.MetadataValue.json(dict(guarded.group_by("guard").len().iter_rows())),
    })


def identity_defs() -> dg.Definitions:
    return dg.Definitions(assets=[identity_resolution])
