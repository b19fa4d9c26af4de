"""A small hand-made analysts' database (marts.duckdb) with the shape of the real marts, for
tests of what reads the marts (the report) without running the pipeline."""

from pathlib import Path

import duckdb


def build_marts(path: Path, *, with_o2o: bool = True) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("""CREATE TABLE kpi_daily AS
            SELECT DATE '2026-05-01' + (i % 30)::int AS date, CASE WHEN i < 30 THEN 'online' ELSE 'offline' END AS channel,
                   'feed' AS source, 10.0 * i AS gmv, i AS orders, 2 * i AS active_users, 9.0 * i AS net_revenue,
                   false AS is_anomaly
            FROM range(60) t(i)""")
        con.execute("""CREATE TABLE kpi_funnel AS SELECT * FROM (VALUES
            ('online', '(none)', 1, 'exposure', 100), ('online', '(none)', 2, 'click', 40),
            ('offline', '(none)', 1, 'exposure', 50), ('offline', '(none)', 2, 'click', 10))
            t(entry_channel, entry_campaign, step_no, step, users)""")
        con.execute("""CREATE TABLE kpi_retention AS SELECT * FROM (VALUES
            ('month', DATE '2026-05-01', 0, 1.0), ('month', DATE '2026-05-01', 1, 0.3), ('month', DATE '2026-06-01', 0, 1.0))
            t(cohort_grain, cohort_start, period, retention_rate)""")
        con.execute("""CREATE TABLE user_rfm AS SELECT 'u' || i AS unified_id,
            CASE WHEN i % 3 = 0 THEN 'champions' ELSE 'lost' END AS segment, 10.0 * i AS monetary FROM range(30) t(i)""")
        con.execute("""CREATE TABLE kpi_attribution AS SELECT * FROM (VALUES
            ('last_touch', 'ad:feed', 'c1', 100.0), ('linear', 'ad:feed', 'c1', 60.0), ('linear', 'store_visit', NULL, 40.0))
            t(model, channel, campaign_id, attributed_value)""")
        con.execute("""CREATE TABLE identity_map AS SELECT 'r' || i AS record_id, 'u' || (i % 7) AS unified_id,
            CASE WHEN i % 7 = 0 THEN 'singleton' ELSE 'deterministic' END AS method, 3 AS cluster_size FROM range(40) t(i)""")
        con.execute("CREATE TABLE dim_users AS SELECT 'u' || i AS unified_id FROM range(7) t(i)")
        con.execute("CREATE TABLE audience_whatever AS SELECT 1 AS x")
        if with_o2o:
            con.execute("""CREATE TABLE kpi_o2o AS SELECT * FROM (VALUES ('S1', 120.5), ('(all)', 300.0))
                           t(store_id, platform_driven_revenue)""")
