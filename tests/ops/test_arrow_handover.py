"""Frames handed to DuckDB keep polars' string views: read as they are, not copied at registration."""

from datetime import datetime

import duckdb
import polars as pl
import pyarrow as pa

from assets.common.sql import arrow_of


def test_duckdb_reads_the_views_as_the_frame_holds_them():
    frame = pl.DataFrame(
        {
            "record_id": ["short", "a record id longer than twelve bytes", None, "雅婷-会员-0001-上海"],
            "n": [1, 2, 3, 4],
            "at": [datetime(2026, 5, 1), None, datetime(2026, 5, 3), datetime(2026, 5, 4)],
            "kinds": [["email"], [], None, ["mobile", "email"]],
        }
    )
    table = arrow_of(frame)
    assert table.schema.field("record_id").type == pa.string_view()  # no copy into the older layout
    con = duckdb.connect()
    con.register("_frame", table)
    con.execute("CREATE TABLE t AS SELECT * FROM _frame")
    assert con.sql("SELECT * FROM t ORDER BY n").pl().equals(frame)
    assert con.sql("SELECT typeof(record_id) FROM t LIMIT 1").fetchall() == [("VARCHAR",)]


def test_an_empty_frame_gives_an_empty_table_of_its_columns():
    frame = pl.DataFrame(schema={"record_id": pl.String, "n": pl.Int64})
    con = duckdb.connect()
    con.register("_frame", arrow_of(frame))
    con.execute("CREATE TABLE t AS SELECT * FROM _frame")
    assert con.sql("SELECT * FROM t").pl().schema == frame.schema
