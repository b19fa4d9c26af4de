"""Day fingerprints (assets/exports/days.py): the dated profile snapshots gain a day of every user each
run, so a publish hashes only the days the build wrote and those whose row count or columns changed
(``cdp forget`` deletes rows), not the whole history; the Parquet export and the analysts' file then
take exactly the changed days. Every other mart exported by day is hashed whole each time."""

from datetime import date
from pathlib import Path

import duckdb
import pytest

from assets.exports.analyst_db import publish_analyst_db
from assets.exports.days import day_fingerprints
from assets.exports.publish import export_parquet
from tests.marts_builder import profile_history

DAYS = ["2026-05-01", "2026-05-02", "2026-05-03"]


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    """Three days of snapshots of 40 users; the profile date (dim_users) is the third."""
    return profile_history(users=40, days=3)


def snapshot_days(con, held=None):
    return day_fingerprints(con, "dim_users_snapshot", "as_of", held)


def test_only_the_written_day_and_days_that_lost_rows_are_hashed_again(con) -> None:
    _, held = snapshot_days(con)
    con.execute("UPDATE marts.dim_users_snapshot SET rfm_segment = 'lost' WHERE as_of = '2026-05-02'")
    con.execute("DELETE FROM marts.dim_users_snapshot WHERE as_of = '2026-05-01' AND unified_id = 'u1'")
    con.execute("UPDATE marts.dim_users_snapshot SET rfm_segment = 'champions' WHERE as_of = '2026-05-03'")

    rows, now = snapshot_days(con, held)
    _, every_day = snapshot_days(con)  # nothing held: each day hashed
    assert rows == {"2026-05-01": 39, "2026-05-02": 40, "2026-05-03": 40}
    assert now["2026-05-01"] == every_day["2026-05-01"] != held["2026-05-01"]  # a row deleted
    assert now["2026-05-03"] == every_day["2026-05-03"] != held["2026-05-03"]  # the day the build wrote
    # an older day edited in place (no build does that) keeps its kept fingerprint: it was not hashed
    assert now["2026-05-02"] == held["2026-05-02"] != every_day["2026-05-02"]


def test_new_columns_or_a_day_not_held_are_hashed(con) -> None:
    _, held = snapshot_days(con)
    del held["2026-05-01"]
    con.execute("ALTER TABLE marts.dim_users_snapshot ADD COLUMN member_tier VARCHAR DEFAULT 'gold'")
    _, now = snapshot_days(con, held)
    assert now == snapshot_days(con)[1] and set(now) == set(DAYS)
    assert all(now[day] != held[day] for day in held)


def test_a_fact_exported_by_day_is_hashed_whole_every_time(con) -> None:
    con.execute("CREATE TABLE marts.fct_orders AS SELECT * FROM marts.dim_users_snapshot")
    con.execute("ALTER TABLE marts.fct_orders RENAME COLUMN as_of TO order_date")
    _, held = day_fingerprints(con, "fct_orders", "order_date")
    con.execute("UPDATE marts.fct_orders SET rfm_segment = 'lost' WHERE order_date = '2026-05-01'")
    _, now = day_fingerprints(con, "fct_orders", "order_date", held)
    assert now["2026-05-01"] != held["2026-05-01"]  # re-resolution edits older facts in place


def test_the_export_and_the_analysts_copy_take_the_new_day_and_the_deleted_rows(con, tmp_path: Path) -> None:
    target, exports = tmp_path / "marts.duckdb", tmp_path / "exports"
    export_parquet(con, exports, ["dim_users_snapshot"])
    assert publish_analyst_db(con, target, ["dim_users_snapshot"])
    con.execute(
        "INSERT INTO marts.dim_users_snapshot "
        "SELECT DATE '2026-05-04', 'u' || range, 'at_risk' FROM range(40)"
    )
    con.execute("UPDATE marts.dim_users SET profile_as_of = DATE '2026-05-04'")
    con.execute("DELETE FROM marts.dim_users_snapshot WHERE unified_id = 'u7'")  # cdp forget

    [exported] = export_parquet(con, exports, ["dim_users_snapshot"])
    assert (exported.rows, exported.days, exported.days_rewritten) == (156, 4, 4)
    assert publish_analyst_db(con, target, ["dim_users_snapshot"])
    everything = "SELECT * FROM {} ORDER BY ALL"
    in_warehouse = con.execute(everything.format("marts.dim_users_snapshot")).fetchall()
    with duckdb.connect(str(target), read_only=True) as analysts:
        assert analysts.execute(everything.format("dim_users_snapshot")).fetchall() == in_warehouse
    parquet = f"read_parquet('{exports}/dim_users_snapshot/*/*.parquet', hive_partitioning = true)"
    assert (
        con.execute(f"SELECT as_of, unified_id, rfm_segment FROM {parquet} ORDER BY ALL").fetchall()
        == in_warehouse
    )
    assert not publish_analyst_db(con, target, ["dim_users_snapshot"])  # nothing changed since


def test_rows_without_a_day_are_a_day_of_their_own(con) -> None:
    con.execute("INSERT INTO marts.dim_users_snapshot VALUES (NULL, 'u1', 'lost'), (NULL, 'u2', 'lost')")
    _, held = snapshot_days(con)
    con.execute("DELETE FROM marts.dim_users_snapshot WHERE as_of IS NULL AND unified_id = 'u1'")
    rows, now = snapshot_days(con, held)
    assert rows["__HIVE_DEFAULT_PARTITION__"] == 1
    assert (
        now == snapshot_days(con)[1]
        and now["__HIVE_DEFAULT_PARTITION__"] != held["__HIVE_DEFAULT_PARTITION__"]
    )


def test_an_empty_history_publishes_and_then_takes_its_first_day(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts")
    con.execute("CREATE TABLE marts.dim_users_snapshot (as_of DATE, unified_id VARCHAR, rfm_segment VARCHAR)")
    con.execute("CREATE TABLE marts.dim_users (unified_id VARCHAR, profile_as_of DATE)")
    target, exports = tmp_path / "marts.duckdb", tmp_path / "exports"
    assert export_parquet(con, exports, ["dim_users_snapshot"])[0].rows == 0
    assert publish_analyst_db(con, target, ["dim_users_snapshot"])
    con.execute("INSERT INTO marts.dim_users VALUES ('u1', '2026-05-01')")
    con.execute("INSERT INTO marts.dim_users_snapshot VALUES ('2026-05-01', 'u1', 'new')")

    [exported] = export_parquet(con, exports, ["dim_users_snapshot"])
    assert (exported.rows, exported.days, exported.days_rewritten) == (1, 1, 1)
    assert publish_analyst_db(con, target, ["dim_users_snapshot"])
    with duckdb.connect(str(target), read_only=True) as analysts:
        assert analysts.execute("SELECT * FROM dim_users_snapshot").fetchall() == [
            (date(2026, 5, 1), "u1", "new")
        ]
