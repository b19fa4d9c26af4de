"""Export assets: Parquet files per mart, the analysts' read-only DuckDB file and the HTML report."""

import dagster as dg

from assets.common.metadata import OWNERS, markdown_table
from assets.common.pipeline_config import pipeline_config
from assets.common.warehouse import Warehouse
from assets.exports.analyst_db import publish_analyst_db
from assets.exports.publish import export_audiences, export_parquet, mart_tables
from assets.exports.report import render_report, report_path
from assets.exports.spark_publish import export_spark_marts, publish_spark_analyst_db, spark_marts


def _parquet_exports(mart_keys: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=["exports", "parquet"],
        group_name="exports",
        deps=mart_keys,
        kinds={"parquet"},
        owners=OWNERS,
        description="Every mart as zstd Parquet under `$CDP_DATA_DIR/exports/<table>/<table>.parquet`, "
        "swapped in atomically per table; the big facts by day, `exports/<fact>/<day column>=<day>/`, "
        "swapped in per day. A mart or a day whose content did not change keeps its file.",
    )
    def parquet_exports(warehouse: Warehouse) -> dg.MaterializeResult:
        if warehouse.on_spark:  # Spark writes its marts itself, with the same layout and fingerprints
            spark = warehouse.spark()
            exported = export_spark_marts(spark, warehouse.paths.exports, spark_marts(spark))
        else:
            with warehouse.connect(memory_limit=pipeline_config().exports_memory_limit) as con:
                exported = export_parquet(con, warehouse.paths.exports, mart_tables(con))
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(warehouse.paths.exports)),
                "tables": markdown_table(
                    [
                        {
                            "table": e.name,
                            "rows": e.rows,
                            "rewritten": e.rewritten,
                            "days rewritten": f"{e.days_rewritten} of {e.days}" if e.days else "",
                            "file": str(e.path),
                        }
                        for e in exported
                    ],
                    100,
                ),
                "days_rewritten": dg.MetadataValue.json(
                    {e.name: {"rewritten": e.days_rewritten, "held": e.days} for e in exported if e.days}
                ),
                "tables_rewritten": sum(e.rewritten for e in exported),
                "tables_unchanged": sum(not e.rewritten for e in exported),
                "dagster/row_count": sum(e.rows for e in exported),
            }
        )

    return parquet_exports


def _analyst_db(mart_keys: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=["exports", "analyst_db"],
        group_name="exports",
        deps=[*mart_keys, ["exports", "parquet"]],  # on Spark it is built from the exports
        kinds={"duckdb"},
        owners=OWNERS,
        description="The analysts' read-only `$CDP_DATA_DIR/marts.duckdb`: every mart, replaced atomically "
        "at the end of each run so open analyst connections never see partial results.",
    )
    def analyst_db(warehouse: Warehouse) -> dg.MaterializeResult:
        memory = pipeline_config().exports_memory_limit
        if warehouse.on_spark:  # built from the exports Spark wrote, as the DuckDB engine builds its own
            spark, paths = warehouse.spark(), warehouse.paths
            tables = spark_marts(spark)
            replaced = publish_spark_analyst_db(spark, paths.exports, paths.analyst_db, memory)
        else:
            with warehouse.connect(memory_limit=memory) as con:
                tables = mart_tables(con)
                replaced = publish_analyst_db(con, warehouse.paths.analyst_db, tables)
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(warehouse.paths.analyst_db)),
                "tables": len(tables),
                "replaced": replaced,  # false: it already held exactly these marts
            }
        )

    return analyst_db


@dg.asset(
    key=["exports", "audiences"],
    group_name="exports",
    deps=[["marts", "audience_members"]],
    kinds={"parquet"},
    owners=OWNERS,
    description="Each audience of config/audiences.yaml as its own zstd Parquet folder, "
    "`$CDP_DATA_DIR/exports/audiences/<audience>/<audience>.parquet`, for activation.",
)
def audience_exports(warehouse: Warehouse) -> dg.MaterializeResult:
    root = warehouse.paths.exports / "audiences"
    with warehouse.connect(memory_limit=pipeline_config().exports_memory_limit) as con:
        exported = export_audiences(con, root)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(root)),
            "audiences": markdown_table(
                [{"audience": e.name, "rows": e.rows, "file": str(e.path)} for e in exported], 100
            ),
            "dagster/row_count": sum(e.rows for e in exported),
        }
    )


@dg.asset(
    key=["exports", "report"],
    group_name="exports",
    deps=[["exports", "analyst_db"]],
    kinds={"python", "html"},
    owners=OWNERS,
    description="The HTML report for managers at `$CDP_DATA_DIR/reports/report.html`: KPI trends, "
    "funnel, retention, RFM, attribution, O2O and identity charts as inline SVG, built "
    "from the analysts' marts.duckdb. Self-contained: it opens without a network.",
)
def report(warehouse: Warehouse) -> dg.MaterializeResult:
    out = report_path(warehouse.paths)
    sections = render_report(warehouse.paths.analyst_db, out)
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.path(str(out)),
            "open": dg.MetadataValue.url(out.as_uri()),
            "sections": ", ".join(sections),
            "bytes": out.stat().st_size,
        }
    )


def build_export_assets(mart_keys: list[dg.AssetKey]) -> list[dg.AssetsDefinition]:
    """The export assets; the Parquet files and the analysts' database wait for every mart."""
    return [_parquet_exports(mart_keys), _analyst_db(mart_keys), audience_exports, report]
