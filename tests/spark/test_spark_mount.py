"""Spark's tables mounted in a DuckDB file, and rows deleted from them, on hand-built tables: a
plain one, one partitioned by day, an empty one; types that differ between the engines (naive
timestamps, decimals, lists) read the same through the mount and survive a rewrite."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from assets.common.spark_mount import duckdb_type, mount_spark_tables
from assets.privacy.spark_rows import delete_spark_rows
from tests.spark import NEEDS_SPARK

pytestmark = NEEDS_SPARK

ROWS = """VALUES
    ('u1', date '2026-05-01', timestamp_ntz '2026-05-01 10:00:00', 10.50BD, array('a', 'b')),
    ('u2', date '2026-05-01', timestamp_ntz '2026-05-01 11:00:00', 2.25BD, array('c')),
    ('u1', date '2026-05-02', timestamp_ntz '2026-05-02 09:30:00', 7.00BD, array()),
    ('u3', date '2026-05-02', NULL, NULL, NULL)
    AS t(unified_id, day, seen_at, amount, tags)"""


@pytest.fixture()
def tables(spark: Any) -> Any:
    spark.sql("DROP DATABASE IF EXISTS marts CASCADE")
    spark.sql("CREATE DATABASE marts")
    spark.sql(f"CREATE TABLE marts.plain USING parquet AS SELECT * FROM {ROWS}")
    spark.sql(f"CREATE TABLE marts.by_day USING parquet PARTITIONED BY (day) AS SELECT * FROM {ROWS}")
    spark.sql(
        "CREATE TABLE marts.empty (unified_id STRING, amount DECIMAL(12,2), tags ARRAY<STRING>) USING parquet"
    )
    spark.sql("CREATE VIEW marts.a_view AS SELECT 1 AS one")
    return spark


def rows(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple]:
    columns = "unified_id, day, seen_at, amount, tags"
    return con.execute(f"SELECT {columns} FROM {relation} ORDER BY unified_id, day").fetchall()


def test_spark_tables_read_the_same_through_the_mount(tables: Any, tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "control.duckdb")) as con:
        mounted = mount_spark_tables(con, tables, ["marts", "identity"])
        assert sorted(mounted) == [("marts", "by_day"), ("marts", "empty"), ("marts", "plain")]
        expected = [
            ("u1", date(2026, 5, 1), datetime(2026, 5, 1, 10), Decimal("10.50"), ["a", "b"]),
            ("u1", date(2026, 5, 2), datetime(2026, 5, 2, 9, 30), Decimal("7.00"), []),
            ("u2", date(2026, 5, 1), datetime(2026, 5, 1, 11), Decimal("2.25"), ["c"]),
            ("u3", date(2026, 5, 2), None, None, None),
        ]
        assert rows(con, "marts.plain") == expected
        assert rows(con, "marts.by_day") == expected  # the day comes back from the folder names
        assert con.execute("SELECT * FROM marts.empty").fetchall() == []
        types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE marts.empty)").fetchall())
        assert types == {"unified_id": "VARCHAR", "amount": "DECIMAL(12,2)", "tags": "VARCHAR[]"}
        tables.sql("DROP TABLE marts.plain")
        mount_spark_tables(con, tables, ["marts"])
        views = con.execute("SELECT view_name FROM duckdb_views() WHERE schema_name = 'marts'").fetchall()
        assert sorted(views) == [("by_day",), ("empty",)]  # a table Spark dropped is unmounted


def test_a_table_the_duckdb_engine_built_is_not_replaced_by_a_mount(tables: Any, tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "duckdb-deployment.duckdb")) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE TABLE marts.plain AS SELECT 1 AS kept")
        with pytest.raises(RuntimeError, match=r"tables the DuckDB engine built \(marts.plain\)"):
            mount_spark_tables(con, tables, ["marts"])
        assert con.execute("SELECT kept FROM marts.plain").fetchall() == [(1,)]


@pytest.mark.parametrize("name", ["plain", "by_day"])
def test_deleting_rows_rewrites_the_spark_tables_files_without_them(
    tables: Any, tmp_path: Path, name: str
) -> None:
    with duckdb.connect(str(tmp_path / "control.duckdb")) as con:
        mount_spark_tables(con, tables, ["marts"])
        before = rows(con, f"marts.{name}")
        assert delete_spark_rows(con, tables, "marts", name, "unified_id = 'u1'") == 2
        assert delete_spark_rows(con, tables, "marts", name, "unified_id = 'nobody'") == 0
        kept = [row for row in before if row[0] != "u1"]
        assert rows(con, f"marts.{name}") == kept
    on_spark = tables.table(f"marts.{name}").orderBy("unified_id").collect()
    assert [(r.unified_id, r.day, r.seen_at, r.amount, r.tags) for r in on_spark] == kept


def test_deleting_every_row_of_a_day_leaves_spark_an_empty_partition_list(
    tables: Any, tmp_path: Path
) -> None:
    with duckdb.connect(str(tmp_path / "control.duckdb")) as con:
        mount_spark_tables(con, tables, ["marts"])
        assert delete_spark_rows(con, tables, "marts", "by_day", "day = date '2026-05-02'") == 2
    assert {r.day for r in tables.table("marts.by_day").collect()} == {date(2026, 5, 1)}


def test_spark_types_map_to_duckdbs() -> None:
    assert duckdb_type("array<array<bigint>>") == "BIGINT[][]"
    assert duckdb_type("decimal(38,6)") == "DECIMAL(38, 6)"
    assert duckdb_type("timestamp_ntz") == "TIMESTAMP"
