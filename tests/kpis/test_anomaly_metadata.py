"""Anomaly flags of kpi_daily reach the asset's metadata."""

from datetime import date

import duckdb

from assets.kpis.anomalies import anomaly_metadata


def test_counts_flagged_rows_and_days_and_lists_the_latest_first():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts")
    con.execute("""CREATE TABLE marts.kpi_daily AS SELECT * FROM (VALUES
        (DATE '2026-06-01', 'online', 'shop', '(none)', 0.5, false),
        (DATE '2026-06-02', 'online', 'shop', '(none)', 5.26, true),
        (DATE '2026-06-02', 'offline', 'pos', '(none)', -4.5, true),
        (DATE '2026-06-03', 'offline', 'pos', 'C1', 4.04, true)
    ) AS t(date, channel, source, campaign_id, gmv_zscore, is_anomaly)""")
    metadata = anomaly_metadata(con, latest=2)
    assert metadata["anomaly_rows"].value == 3
    assert metadata["anomaly_days"].value == 2
    table = metadata["latest_anomalies"].value
    lines = table.splitlines()
    assert lines[0] == "| date | channel | source | campaign_id | gmv_zscore |"
    assert lines[2] == f"| {date(2026, 6, 3)} | offline | pos | C1 | 4.0 |"
    assert lines[3] == f"| {date(2026, 6, 2)} | offline | pos | (none) | -4.5 |"
    assert len(lines) == 4  # header, rule and the latest two
