"""One Dagster asset check per suite file in ``expectations/``: adding a suite adds a check."""

import dagster as dg

from assets.ingest.sql import ident, table
from assets.quality.expectations import SuiteFile, suite_columns, suite_files, validate
from pipelines.resources import Warehouse


def build_suite_check(suite: SuiteFile) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(suite.asset_key),
        name=f"gx_{suite.table}",
        blocking=True,
        description=f"Great Expectations suite expectations/{suite.path.name}: error-severity failures fail "
                    "the check and block downstream assets; warn-severity failures are recorded.",
    )
    def suite_check(warehouse: Warehouse) -> dg.AssetCheckResult:
        columns = ", ".join(ident(c) for c in suite_columns(suite.path)) or "*"
        with warehouse.connect() as con:
            frame = con.sql(f"SELECT {columns} FROM {table(suite.schema, suite.table)}").df()
        outcomes = validate(frame, suite.path)
        failed_errors = [o for o in outcomes if not o.success and o.severity == "error"]
        failed_warnings = [o for o in outcomes if not o.success and o.severity != "error"]
        return dg.AssetCheckResult(
            passed=not failed_errors,
            severity=dg.AssetCheckSeverity.ERROR if failed_errors else dg.AssetCheckSeverity.WARN,
            metadata={
                "rows": len(frame),
                "expectations": len(outcomes),
                "failed_error": len(failed_errors),
                "failed_warn": len(failed_warnings),
                "failures": dg.MetadataValue.json([
                    {"expectation": o.expectation, "column": o.column, "severity": o.severity,
                     "unexpected_count": o.unexpected_count, "unexpected_sample": o.unexpected_sample}
                    for o in failed_errors + failed_warnings]),
            },
        )

    return suite_check


def quality_defs() -> dg.Definitions:
    return dg.Definitions(asset_checks=[build_suite_check(s) for s in suite_files()])
