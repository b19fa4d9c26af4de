"""Dagster wrappers of activation: the audiences delivered to their destinations (with each
destination's suppression list) and the retention of raw personal data. Logic lives in
:mod:`assets.activation.deliver` and :mod:`assets.privacy.retention`."""

import dagster as dg

from assets.activation.deliver import deliver
from assets.activation.settings import load_activation_config
from assets.common.metadata import OWNERS, markdown_table
from assets.common.warehouse import Warehouse
from assets.ingest.feeds import FeedsConfig, feeds_config
from assets.ingest.spark_raw import publish_raw_partitions
from assets.privacy.engine_copies import drop_spark_copies
from assets.privacy.retention import apply_retention

ACTIVATION_FOLDER = "activation"


@dg.asset(
    key=["exports", "activation"],
    group_name="exports",
    kinds={"python", "csv"},
    owners=OWNERS,
    deps=[["marts", "audience_members"], ["marts", "user_consent"], ["marts", "dim_users"]],
    description="Each audience with a consent purpose, for each of its destinations "
    "(config/audiences.yaml), under `$CDP_DATA_DIR/exports/activation/<audience>/<destination>/`: "
    "the platform's files (identifiers spelled and hashed its way), the delta since the last "
    "export and a manifest; and per destination `_suppression/<destination>/`: the people who "
    "withdrew a purpose it serves or were deleted on request. Nothing in clear but platform ids.",
)
def activation_exports(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    activation = load_activation_config()
    root = warehouse.paths.exports / ACTIVATION_FOLDER
    with warehouse.connect() as con:
        as_of = con.execute("SELECT max(as_of) FROM marts.audience_members").fetchall()[0][0]
        delivery = deliver(
            con,
            root,
            activation.audiences,
            activation.destinations,
            activation.purposes,
            {"run_id": context.run.run_id, "as_of": str(as_of) if as_of else None},
        )
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(root)),
            "exports": markdown_table(
                [
                    {
                        "audience": e.audience,
                        "destination": e.destination,
                        "files (rows, +added / -removed)": ", ".join(
                            f"{f.name} {f.rows} (+{f.added} / -{f.removed})" for f in e.files
                        ),
                    }
                    for e in delivery.exports
                ],
                100,
            ),
            "suppressed": markdown_table(
                [
                    {"destination": d, "values": ", ".join(f"{k} {n}" for k, n in files.items())}
                    for d, files in delivery.suppressed.items()
                ]
            ),
            "dagster/row_count": sum(f.rows for e in delivery.exports for f in e.files),
        }
    )


def build_retention_asset(config: FeedsConfig) -> dg.AssetsDefinition:
    limits = {f.name: f.retention_days for f in config.feeds.values() if f.retention_days}

    @dg.asset(
        key=["privacy", "retention"],
        group_name="ingest",
        kinds={"python", "duckdb"},
        owners=OWNERS,
        deps=[["raw", f] for f in config.feeds],
        description="Deletes raw rows older than their feed's `retention_days` (by delivery day), with "
        "their quarantined and kept-aside values; audited in privacy.retention_audit. "
        + (f"Limits: {limits}." if limits else "No feed declares a limit."),
    )
    def retention(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        with warehouse.connect() as con:
            report = apply_retention(con, limits, run_id=context.run.run_id)
            trimmed = [feed for feed, tables in report.deleted.items() if sum(tables.values())]
            if warehouse.on_spark and trimmed:  # the Spark engine reads the feeds' day partitions
                publish_raw_partitions(con, warehouse.spark(), config, warehouse.spark_folder, feeds=trimmed)
        dropped = drop_spark_copies(warehouse.paths.root) if report.total else []
        return dg.MaterializeResult(
            metadata={
                "rows_deleted": report.total,
                "spark_copies_removed": ", ".join(map(str, dropped)) or "none",
                "feeds": markdown_table(
                    [
                        {"feed": feed, "cutoff": str(report.cutoffs[feed]), **tables}
                        for feed, tables in report.deleted.items()
                    ]
                ),
            }
        )

    return retention


def activation_defs(config: FeedsConfig | None = None) -> dg.Definitions:
    return dg.Definitions(assets=[activation_exports, build_retention_asset(config or feeds_config())])
