"""A small hand-made analysts' database (marts.duckdb) with the shape of the real marts, for
tests of what reads the marts (the report) without running the pipeline."""

from pathlib import Path

import duckdb


def build_marts(path: Path, *, with_o2o: bool = True) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("""CREATE TABLE kpi_daily AS
            SELECT DATE '2026-05-01' + (i % 30)::int AS date,
                   CASE WHEN i < 30 THEN 'online' ELSE 'offline' END AS channel,
                   'feed' AS source, 10.0 * i AS gmv, i AS orders, 2 * i AS active_users,
                   9.0 * i AS net_revenue,
                   false AS is_anomaly
            FROM range(60) t(i)""")
        con.execute("""CREATE TABLE kpi_funnel AS SELECT * FROM (VALUES
            ('online', '(none)', 1, 'exposure', 100), ('online', '(none)', 2, 'click', 40),
            ('offline', '(none)', 1, 'exposure', 50), ('offline', '(none)', 2, 'click', 10))
            t(entry_channel, entry_campaign, step_no, step, users)""")
        con.execute("""CREATE TABLE kpi_retention AS SELECT * FROM (VALUES
            ('month', DATE '2026-05-01', 0, 1.0), ('month', DATE '2026-05-01', 1, 0.3),
            ('month', DATE '2026-06-01', 0, 1.0))
            t(cohort_grain, cohort_start, period, retention_rate)""")
        con.execute("""CREATE TABLE user_rfm AS SELECT 'u' || i AS unified_id,
            CASE WHEN i % 3 = 0 THEN 'champions' ELSE 'lost' END AS segment, 10.0 * i AS monetary
            FROM range(30) t(i)""")
        con.execute("""CREATE TABLE kpi_attribution AS SELECT * FROM (VALUES
            ('last_touch', 'ad:feed', 'c1', 100.0), ('linear', 'ad:feed', 'c1', 60.0),
            ('linear', 'store_visit', NULL, 40.0), ('markov', 'ad:feed', NULL, 70.0),
            ('markov', 'store_visit', NULL, 30.0), ('markov_2', 'ad:feed', NULL, 80.0),
            ('markov_2', 'store_visit', NULL, 20.0), ('markov_campaign', NULL, 'c1', 90.0),
            ('markov_campaign', NULL, NULL, 10.0), ('linear', '(direct)', NULL, 5.0))
            t(model, channel, campaign_id, attributed_value)""")
        con.execute("""CREATE TABLE attribution_paths AS SELECT * FROM (VALUES
            ('channel', 'ad:feed > store_visit', 2, 1, 100.0, 3, 1), ('channel', '(direct)', 0, 1, 5.0, 0, 0))
            t(level, path, touches, conversions, value, nulls, open)""")
        con.execute("""CREATE TABLE clv_holdout_tracking AS
            SELECT m.model, w AS week, DATE '2026-09-05' + (7 * w)::int AS period_end, 10.0 + w AS actual,
                   11.0 AS expected,
                   sum(10.0 + w) OVER (PARTITION BY m.model ORDER BY w) AS actual_cumulative,
                   11.0 * w AS expected_cumulative
            FROM (VALUES ('bgnbd'), ('pareto_nbd')) m(model), range(1, 9) t(w)""")
        con.execute("""CREATE TABLE clv_holdout_frequency AS SELECT * FROM (VALUES
            ('bgnbd', 0, '0', 50, 0.2, 0.25), ('bgnbd', 1, '1+', 20, 1.1, 1.0),
            ('pareto_nbd', 0, '0', 50, 0.2, 0.3))
            t(model, bucket, calibration_frequency, customers, actual_mean, expected_mean)""")
        con.execute("""CREATE TABLE clv_model_fits AS SELECT * FROM (VALUES
            (DATE '2026-10-31', 'calibration', 'bgnbd', true, 'r', 0.7, -100.0, 1.09, 1.65, -0.097),
            (DATE '2026-10-31', 'calibration', 'pareto_nbd', false, 'r', 0.5, -101.0, 1.10, 1.66, -0.075),
            (DATE '2026-10-31', 'prediction', 'bgnbd', true, 'r', 0.69, -150.0, NULL, NULL, NULL),
            (DATE '2026-10-31', 'prediction', 'gamma_gamma', true, 'p', 12.1, -90.0, NULL, NULL, NULL))
            t(as_of, fit, model, chosen, parameter, estimate, log_likelihood, holdout_mae, holdout_rmse,
              holdout_total_error)""")
        con.execute("""CREATE TABLE identity_map AS
            SELECT 'r' || i AS record_id, 'u' || (i % 7) AS unified_id,
                   CASE WHEN i % 7 = 0 THEN 'singleton' ELSE 'deterministic' END AS method, 3 AS cluster_size
            FROM range(40) t(i)""")
        con.execute("CREATE TABLE dim_users AS SELECT 'u' || i AS unified_id FROM range(7) t(i)")
        con.execute("CREATE TABLE audience_whatever AS SELECT 1 AS x")
        if with_o2o:
            con.execute("""CREATE TABLE kpi_o2o AS SELECT * FROM (VALUES ('S1', 120.5), ('(all)', 300.0))
                           t(store_id, platform_driven_revenue)""")


def profile_history(users: int, days: int) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse holding ``days`` days (from 2026-05-01) of ``users`` users' profile
    snapshots (``marts.dim_users_snapshot``) and ``marts.dim_users`` as of the last of them."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts")
    con.execute(
        f"""CREATE TABLE marts.dim_users_snapshot AS
           SELECT DATE '2026-05-01' + CAST(range // {users} AS INTEGER) AS as_of,
                  'u' || (range % {users}) AS unified_id, 'loyal' AS rfm_segment
           FROM range({users * days})"""
    )
    con.execute(
        "CREATE TABLE marts.dim_users AS SELECT 'u' || range AS unified_id, "
        f"DATE '2026-05-01' + {days - 1} AS profile_as_of FROM range({users})"
    )
    return con
