"""Shared helpers for the metadata every materialisation carries (row counts, previews)."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
import duckdb

from assets.common.sql import fetch_value, table

OWNERS = ["team:data-engineering"]
"""Who answers for the Python-built assets (dbt models are owned by analytics engineering)."""


def row_count(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> int:
    return fetch_value(con, f"SELECT count(*) FROM {table(schema, name)}")


def markdown_table(rows: Sequence[dict], limit: int = 30) -> dg.MetadataValue:
    """A small Markdown table for the Dagster UI; long lists are cut with a note."""
    if not rows:
        return dg.MetadataValue.md("_none_")
    headers = list(rows[0])
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(r[h]).replace("|", "\\|") for h in headers) + " |" for r in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"\n_{len(rows) - limit} more not shown_")
    return dg.MetadataValue.md("\n".join(lines))


# Schemas whose tables may be previewed in the UI: marts carry masked values and salted hashes only.
# Raw, staging, intermediate and identity tables hold personal data in clear: row counts only.
PREVIEW_SCHEMAS = {"marts"}
PREVIEW_ROWS = 5


def table_preview(
    con: duckdb.DuckDBPyConnection, schema: str, name: str, limit: int = PREVIEW_ROWS
) -> dg.MetadataValue:
    """The first rows of a masked mart as a Markdown table; refuses tables outside the masked marts."""
    if schema not in PREVIEW_SCHEMAS:
        raise ValueError(f"{schema}.{name} is not a masked mart: no preview of personal data")
    cursor = con.execute(f"SELECT * FROM {table(schema, name)} LIMIT {int(limit)}")
    columns = [d[0] for d in cursor.description or []]
    rows = [
        dict(zip(columns, ("" if v is None else v for v in row), strict=True)) for row in cursor.fetchall()
    ]
    return markdown_table(rows, limit)


# Headline numbers shown on the materialisation of KPI marts: one row, each column a figure.
HEADLINES = {
    "kpi_daily": "SELECT min(date)::varchar AS first_day, max(date)::varchar AS last_day, "
    "round(sum(gmv), 2) AS gmv, "
    "round(sum(net_revenue), 2) AS net_revenue, sum(orders) AS orders, "
    "count(*) FILTER (WHERE is_anomaly) AS anomalous_days FROM marts.kpi_daily",
    "kpi_funnel": "SELECT sum(users) FILTER (WHERE step_no = 1) AS entered, "
    "sum(users) FILTER (WHERE step_no = (SELECT max(step_no) FROM marts.kpi_funnel)) AS completed "
    "FROM marts.kpi_funnel",
    "kpi_retention": "SELECT round(avg(retention_30d), 4) AS mean_retention_30d FROM marts.kpi_retention "
    "WHERE cohort_grain = 'month' AND period = 0",
}


def table_metadata(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> dict[str, object]:
    """Row count of any warehouse table, plus a preview when it is a masked mart and the headline
    figures of a KPI mart."""
    metadata: dict[str, object] = {"dagster/row_count": row_count(con, schema, name)}
    if schema in PREVIEW_SCHEMAS:
        metadata["preview"] = table_preview(con, schema, name)
    if schema == "marts" and name in HEADLINES:
        cursor = con.execute(HEADLINES[name])
        row = cursor.fetchall()[0]
        metadata.update({d[0]: v for d, v in zip(cursor.description, row, strict=True) if v is not None})
    return metadata
