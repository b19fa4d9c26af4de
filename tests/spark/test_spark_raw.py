"""The raw layer on Spark (``assets/ingest/spark_raw.py``): the hand-built partners' files loaded by
the loader, their raw rows published as Parquet day folders, and the canonical views written in
Spark SQL from the sample feeds' declarations give the rows DuckDB's views give — orders, events,
consents, identity records and attributes (presence slots included) and deliveries. A day
republished alone replaces that day and leaves the others as they were."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from assets.common.dialect import DUCKDB, SPARK
from assets.common.spark import to_polars
from assets.identity.spark_check import frame_differences
from assets.ingest.batch import ensure_raw_table
from assets.ingest.canonical import VIEWS, create_views
from assets.ingest.feeds import FeedsConfig, load_feeds_config
from assets.ingest.loader import load_feed_files
from assets.ingest.partitions import landing_dates, partition_files
from assets.ingest.spark_raw import create_canonical_views_on_spark, publish_raw_partitions
from tests.landing_builder import DAY, add_expo_registration, build_small_landing, pos, write_csv
from tests.spark import NEEDS_SPARK

pytestmark = [pytest.mark.slow(seconds=90), *NEEDS_SPARK]

SAMPLE_FEEDS = Path(__file__).parents[2] / "config" / "feeds.yaml"
NEXT_DAY = (date.fromisoformat(DAY) + timedelta(days=1)).isoformat()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[duckdb.DuckDBPyConnection, FeedsConfig]:
    """Every sample feed loaded from the hand-built landing zone, and DuckDB's canonical views."""
    landing = tmp_path_factory.mktemp("landing")
    build_small_landing(landing)
    add_expo_registration(landing)
    next_day = [pos("T9", "13912345678", time=f"{NEXT_DAY} 11:30:00", amount=12.5)]  # Li again, a day later
    write_csv(landing / "pos_transactions" / NEXT_DAY / f"pos_S01_{NEXT_DAY}.csv", next_day)
    config = load_feeds_config(SAMPLE_FEEDS)
    con = duckdb.connect(str(tmp_path_factory.mktemp("warehouse") / "w.duckdb"))
    days = landing_dates(landing, list(config.feeds.values()))
    for feed in config.feeds.values():
        files = [(file, day) for day in days for file in partition_files(landing, feed, day)]
        load_feed_files(con, feed, files, landing)
    create_views(con, config)
    return con, config


def test_the_canonical_views_on_spark_give_duckdbs_rows(spark: Any, loaded: Any, tmp_path: Path) -> None:
    con, config = loaded
    published = publish_raw_partitions(con, spark, config, tmp_path)
    create_canonical_views_on_spark(spark, config)
    assert published == {
        f"raw.{feed}": con.execute(f"SELECT count(*) FROM raw.{feed}").fetchall()[0][0]
        for feed in config.feeds
    }
    for view in VIEWS:
        ours = con.sql(f"SELECT * FROM raw.{view}").pl()
        assert not frame_differences(ours, to_polars(spark.table(f"raw.{view}"))), view
    kinds = set(to_polars(spark.table("raw.identity_attributes")).get_column("attribute_kind"))
    assert {"mobile", "visit"} <= kinds  # presence slots computed by Spark's own time arithmetic
    assert spark.table("raw.orders").count() > 0 and spark.table("raw.events").count() > 0


def test_a_day_republished_alone_replaces_that_day_only(spark: Any, loaded: Any, tmp_path: Path) -> None:
    con, config = loaded
    publish_raw_partitions(con, spark, config, tmp_path)
    feed = "pos_transactions"
    days = [
        row[0] for row in con.execute(f"SELECT DISTINCT _partition FROM raw.{feed} ORDER BY 1").fetchall()
    ]
    assert len(days) >= 2
    folder = tmp_path / "raw" / feed
    untouched = {p: p.stat().st_mtime_ns for p in folder.glob(f"_partition={days[1]}/*.parquet")}
    con.execute("BEGIN")
    con.execute(f"DELETE FROM raw.{feed} WHERE _partition = ?", [days[0]])
    publish_raw_partitions(con, spark, config, tmp_path, days=[days[0]])
    con.execute("ROLLBACK")
    on_spark = to_polars(spark.table(f"raw.`{feed}`").groupBy("_partition").count())
    assert days[0] not in on_spark.get_column("_partition").to_list()
    assert {p: p.stat().st_mtime_ns for p in folder.glob(f"_partition={days[1]}/*.parquet")} == untouched
    assert untouched


def test_spark_reads_a_literal_holding_an_apostrophe_as_one_value(spark: Any) -> None:
    """Spark joins adjacent literals rather than reading a doubled quote: a store called Xi'an Road
    must stay one value in a view's SQL."""
    store = "Xi'an Road"
    assert spark.sql(f"SELECT {SPARK.literal(store)} AS v").first().v == store
    assert DUCKDB.literal("Xi'an Road") == "'Xi''an Road'"
    with pytest.raises(ValueError, match="both quote"):
        SPARK.literal("""it's "quoted\"""")
    assert SPARK.ident("a`b") == "`a``b`"


FRACTIONS = """
feeds:
  till_a:
    kind: orders
    channel: offline
    files: [{pattern: "*.csv", format: csv}]
    record_id: id
    timestamp: at
    columns: {id: varchar, at: timestamp, qty: double, amount: double}
    canonical: {quantity: qty, amount: amount}
  till_b:
    kind: orders
    channel: offline
    files: [{pattern: "*.csv", format: csv}]
    record_id: id
    timestamp: at
    columns: {id: varchar, at: timestamp, qty: varchar, amount: double}
    canonical: {quantity: qty, amount: amount}
"""


def test_an_integer_field_from_fractions_rounds_as_duckdb_rounds(spark: Any, tmp_path: Path) -> None:
    """A till that sends its quantities as decimals, or as text: DuckDB rounds a DOUBLE half to even
    and text half away from zero, where Spark's own cast would truncate the one and refuse the other."""
    path = tmp_path / "feeds.yaml"
    path.write_text(FRACTIONS, encoding="utf-8")
    config = load_feeds_config(path)
    con = duckdb.connect()
    doubles = ["2.5", "3.5", "-2.5", "12.0", "0.49", "NULL"]
    texts = ["'2.5'", "'3.5'", "'-2.5'", "' 12 '", "'1e3'", "'many'", "'12345678901234567'"]
    for feed, values in (("till_a", doubles), ("till_b", texts)):
        ensure_raw_table(con, feed, config.feeds[feed].columns)
        rows = ", ".join(
            f"('{feed}{i}', TIMESTAMP '2026-05-01 10:00', {v}, 1.0, 'f', {i}, DATE '2026-05-01', "
            "now()::TIMESTAMP)"
            for i, v in enumerate(values)
        )
        con.execute(f"INSERT INTO raw.{feed} VALUES {rows}")
    create_views(con, config)
    publish_raw_partitions(con, spark, config, tmp_path)
    create_canonical_views_on_spark(spark, config)
    ours = con.sql("SELECT record_id, quantity FROM raw.orders").pl()
    theirs = to_polars(spark.table("raw.orders").select("record_id", "quantity"))
    assert not frame_differences(ours, theirs)
    quantity = dict(ours.iter_rows())
    assert (quantity["till_a0"], quantity["till_a1"], quantity["till_a2"]) == (2, 4, -2)  # half to even
    assert (quantity["till_b0"], quantity["till_b2"], quantity["till_b4"], quantity["till_b5"]) == (
        3,
        -3,
        1000,
        None,
    )
    assert quantity["till_b6"] == 12345678901234567  # whole numbers in text stay exact
