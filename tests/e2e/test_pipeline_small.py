"""The whole asset graph on a hand-built landing zone whose right answers are known: the session's
one ``cdp run`` of it (tests/e2e/shared_runs.py), read back from the warehouse and the run's events.
(Running it again is checked in test_safe_reruns, on the same landing zone.)"""

import re

import dagster as dg
import duckdb
import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest
import yaml

from assets.exports.publish import PARTITIONED_BY_DAY, exported_tables
from assets.kpis.attribution.config import load_attribution_config
from pipelines.dbt_vars import dbt_vars
from tests.e2e.dbt_cli import dbt
from tests.e2e.shared_runs import check_evaluations, the_only_run

pytestmark = pytest.mark.slow(seconds=55)
MOBILE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")  # not inside hex ids (run ids, hashes)


@pytest.fixture(scope="module")
def pipeline(small_run):
    return small_run.paths, small_run.truth, the_only_run()


def warehouse(paths):
    return duckdb.connect(str(paths.warehouse), read_only=True)


def test_every_asset_and_every_dbt_test_succeeds(pipeline):
    _, _, run = pipeline
    assert run.dagster_run.status == dg.DagsterRunStatus.SUCCESS
    checks = check_evaluations(run.dagster_run.run_id)
    assert len(checks) > 20
    assert [c.check_name for c in checks if not c.passed] == []


def test_records_resolve_to_the_known_people(pipeline):
    paths, truth, _ = pipeline
    with warehouse(paths) as con:
        mapped = {
            f"{s}/{r}": u
            for s, r, u in con.execute(
                "SELECT source, record_id, unified_id FROM marts.identity_map"
            ).fetchall()
        }
    assert set(mapped) == set(truth)
    people = {}
    for record, person in truth.items():
        people.setdefault(person, set()).add(mapped[record])
    assert all(len(ids) == 1 for ids in people.values())  # nobody split
    assert len({next(iter(ids)) for ids in people.values()}) == len(people)  # nobody merged


def test_events_reach_their_person_through_device_and_mobile(pipeline):
    paths, _, _ = pipeline
    with warehouse(paths) as con:
        users = dict(con.execute("""SELECT e.event_id, e.unified_id FROM marts.fct_events e""").fetchall())
        wang = con.execute("SELECT unified_id FROM marts.identity_map WHERE record_id = 'TM1'").fetchall()[0][
            0
        ]
    assert users["A1"] == users["A2"] == users["D1"] == wang
    assert users["A3"] is None  # the all-zero device id identifies nobody


def test_rows_in_equal_rows_loaded_plus_quarantined_for_every_file(pipeline):
    paths, _, _ = pipeline
    with warehouse(paths) as con:
        ledger = con.execute("SELECT path, rows_in, rows_loaded, rows_quarantined FROM raw._files").fetchall()
        loaded = con.execute(
            "SELECT sum(rows_loaded) FROM raw._files WHERE feed = 'pos_transactions'"
        ).fetchall()[0][0]
        raw_rows = con.execute("SELECT count(*) FROM raw.pos_transactions").fetchall()[0][0]
    assert len(ledger) == 6  # five files of build_small_landing and the expo registration
    assert all(rows_in == ok + bad for _, rows_in, ok, bad in ledger)
    assert loaded == raw_rows == 5


def test_marts_compute_order_values(pipeline):
    paths, _, _ = pipeline
    with warehouse(paths) as con:
        kpi = con.execute("""SELECT source, sum(orders), sum(gmv), sum(refunds),
                                    sum(impressions), sum(clicks), sum(cost)
                             FROM marts.kpi_daily GROUP BY source ORDER BY source""").fetchall()
        li = con.execute("""SELECT orders, gmv, net_spend, channel_preference FROM marts.dim_users
                            WHERE unified_id = (SELECT unified_id FROM marts.identity_map
                                                WHERE record_id = 'JD1')""").fetchall()
    by_source = {row[0]: row[1:] for row in kpi}
    assert by_source["pos_transactions"][:3] == (4, 119.0, 30.0)
    assert by_source["ecommerce_orders"][:3] == (2, 287.0, 88.0)
    assert by_source["ad_events"][3:] == (2, 1, pytest.approx(0.9))
    assert li == [(2, 118.0, 0.0, "omnichannel")]


def test_attribution_credits_the_ad_click_and_reconciles(pipeline):
    paths, _, _ = pipeline
    with warehouse(paths) as con:
        totals = con.execute("""SELECT model, sum(attributed_conversions), sum(attributed_value)
                                FROM marts.kpi_attribution GROUP BY model""").fetchall()
        sales = con.execute("""SELECT count(*), sum(gross_amount) FROM marts.fct_orders
                               WHERE order_type = 'sale' AND NOT is_cancelled""").fetchall()[0]
        wang = con.execute("""SELECT channel, attributed_value FROM marts.kpi_attribution
                              WHERE model = 'last_touch' AND attributed_value > 0
                              ORDER BY channel""").fetchall()
    assert len(totals) == len(load_attribution_config().settings.output_models())
    assert all(c == pytest.approx(sales[0]) and v == pytest.approx(sales[1]) for _, c, v in totals)
    # Wang clicked a feed ad at 09:00, logged in to the store Wi-Fi at 14:00 and bought online at
    # 10:00 and in store at 15:00: the online order goes to the ad, the store ticket to the visit.
    assert ("ad:feed", 199.0) in wang and ("store_visit", 59.0) in wang


def test_kpi_daily_materialisation_reports_its_anomaly_flags(pipeline):
    paths, _, run = pipeline
    event = dg.DagsterInstance.get().get_latest_materialization_event(dg.AssetKey(["marts", "kpi_daily"]))
    assert event.run_id == run.dagster_run.run_id
    metadata = event.asset_materialization.metadata
    with warehouse(paths) as con:
        flagged = con.execute("SELECT count(*) FROM marts.kpi_daily WHERE is_anomaly").fetchall()[0][0]
    assert metadata["anomaly_rows"].value == flagged
    assert {"anomaly_days", "latest_anomalies"} <= set(metadata)


def test_exports_are_readable_by_pyarrow_polars_duckdb_and_pandas(pipeline):
    paths, _, _ = pipeline
    with duckdb.connect(str(paths.analyst_db), read_only=True) as con:
        tables = {
            name: con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0]
            for (name,) in con.execute("SHOW TABLES").fetchall()
        }
    assert {
        "identity_map",
        "dim_users",
        "fct_orders",
        "fct_events",
        "kpi_daily",
        "user_rfm",
        "user_tags",
        "user_clv",
        "kpi_attribution",
        "attribution_paths",
    } <= set(tables)
    for name, rows in tables.items():
        by_day = name in PARTITIONED_BY_DAY  # a folder of day folders, read as one table
        file = paths.exports / name / ("" if by_day else f"{name}.parquet")
        assert pq.read_table(file).num_rows == rows
        assert pl.read_parquet(file / "*" / "*.parquet" if by_day else file).height == rows
        assert len(pd.read_parquet(file)) == rows
        assert (
            duckdb.sql(f"SELECT count(*) FROM {exported_tables(paths.exports)[name]}").fetchall()[0][0]
            == rows
        )
        first = next(file.glob("*/*.parquet")) if by_day else file
        assert pq.ParquetFile(first).metadata.row_group(0).column(0).compression == "ZSTD" if rows else True


def test_no_clear_text_mobile_leaves_the_restricted_layer(pipeline):
    paths, _, _ = pipeline
    for name, relation in exported_tables(paths.exports).items():
        frame = duckdb.sql(f"SELECT * FROM {relation}").pl()
        for column in frame.select(pl.col(pl.String)).columns:
            leaked = [v for v in frame[column].drop_nulls() if MOBILE.search(v)]
            assert leaked == [], f"{name}.{column} holds mobiles: {leaked[:3]}"


def test_profile_unit_tests_pass_and_can_fail(pipeline):
    """The hand-built cases of _profiles_unit_tests.yml pass, and fail when a threshold moves."""
    paths, _, _ = pipeline
    ok = dbt(["test", "--select", "test_type:unit"], paths.warehouse)
    assert ok.returncode == 0, ok.stdout[-3000:]
    assert int(re.search(r"PASS=(\d+)", ok.stdout).group(1)) >= 8 and "ERROR=0" in ok.stdout
    profiles = dbt_vars()["profiles"]
    moved = {**profiles, "lifecycle": {**profiles["lifecycle"], "new_max_days": 8}}
    shifted = dbt(
        [
            "test",
            "--select",
            "user_lifecycle,test_type:unit",
            "--vars",
            yaml.safe_dump({**dbt_vars(), "profiles": moved}),
        ],
        paths.warehouse,
    )
    assert shifted.returncode != 0 and "lifecycle_boundaries" in shifted.stdout
