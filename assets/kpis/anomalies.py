"""Anomaly flags of ``marts.kpi_daily`` as materialisation metadata, so a strange day shows in the
Dagster UI (asset page, run) without anyone querying the mart."""

import dagster as dg
import duckdb

from assets.common.metadata import markdown_table

KPI_DAILY = dg.AssetKey(["marts", "kpi_daily"])


def anomaly_metadata(con: duckdb.DuckDBPyConnection, latest: int = 10) -> dict[str, dg.MetadataValue]:
    """How many rows and days are flagged, and the latest flagged rows with their z-scores."""
    zscores = [
        c
        for (c,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'marts' "
            "AND table_name = 'kpi_daily' AND column_name LIKE '%\\_zscore' ESCAPE '\\' "
            "ORDER BY ordinal_position"
        ).fetchall()
    ]
    rows, days = con.execute(
        "SELECT count(*), count(DISTINCT date) FROM marts.kpi_daily WHERE is_anomaly"
    ).fetchall()[0]
    scores = ", ".join(f"round({c}, 1) AS {c}" for c in zscores)
    flagged = con.sql(f"""SELECT date, channel, source, campaign_id{", " + scores if scores else ""}
                          FROM marts.kpi_daily WHERE is_anomaly
                          ORDER BY date DESC, channel, source, campaign_id LIMIT {int(latest)}""")
    recent = [dict(zip(flagged.columns, r, strict=True)) for r in flagged.fetchall()]
    return {
        "anomaly_rows": dg.MetadataValue.int(rows),
        "anomaly_days": dg.MetadataValue.int(days),
        "latest_anomalies": markdown_table(recent, latest),
    }
