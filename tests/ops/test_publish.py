"""Publishing the marts touches only what changed (assets/exports/publish.py): a mart whose content is
unchanged keeps its Parquet file, a fact exported by day rewrites only the days that changed, and the
analysts' database is replaced only when a mart changed — whatever the changed mart's size, and when
a row is deleted, a value edited or a column renamed."""

import shutil
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.dataset as pads
import pytest

from assets.exports import publish
from assets.exports.analyst_db import publish_analyst_db
from assets.exports.publish import FINGERPRINT, day_batches, export_parquet, exported_tables
from tests.marts_builder import profile_history


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts")
    con.execute("CREATE TABLE marts.kpi AS SELECT range AS day, range * 2 AS orders FROM range(100)")
    con.execute("CREATE TABLE marts.dim AS SELECT 'u' || range AS unified_id, NULL AS tier FROM range(5)")
    return con


def identity(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns


def test_only_changed_marts_are_rewritten(con, tmp_path: Path) -> None:
    first = {e.name: e for e in export_parquet(con, tmp_path, ["kpi", "dim"])}
    assert all(e.rewritten for e in first.values()) and first["kpi"].rows == 100
    files = {name: identity(e.path) for name, e in first.items()}

    again = {e.name: e for e in export_parquet(con, tmp_path, ["kpi", "dim"])}
    assert not any(e.rewritten for e in again.values())
    assert {name: identity(e.path) for name, e in again.items()} == files
    assert again["kpi"].rows == 100

    for change in (
        "UPDATE marts.kpi SET orders = orders + 1 WHERE day = 7",
        "DELETE FROM marts.kpi WHERE day = 99",
        "ALTER TABLE marts.kpi RENAME COLUMN orders TO sales",
    ):
        con.execute(change)
        changed = {e.name: e for e in export_parquet(con, tmp_path, ["kpi", "dim"])}
        assert (changed["kpi"].rewritten, changed["dim"].rewritten) == (True, False), change
    assert duckdb.sql(f"SELECT count(*), sum(sales) FROM '{changed['kpi'].path}'").fetchall() == [(99, 9703)]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left


def test_the_analysts_database_is_replaced_only_when_a_mart_changed(con, tmp_path: Path) -> None:
    target = tmp_path / "marts.duckdb"
    assert publish_analyst_db(con, target, ["kpi", "dim"])
    before = identity(target)
    assert not publish_analyst_db(con, target, ["kpi", "dim"])
    assert identity(target) == before
    assert publish_analyst_db(con, target, ["kpi"])  # a mart fewer is a change
    con.execute("UPDATE marts.kpi SET orders = 0 WHERE day = 1")
    assert publish_analyst_db(con, target, ["kpi"])
    with duckdb.connect(str(target), read_only=True) as analyst:
        assert analyst.execute("SELECT orders FROM kpi WHERE day = 1").fetchone() == (0,)
        assert [t for (t,) in analyst.execute("SHOW TABLES").fetchall()] == ["kpi"]


@pytest.fixture
def facts() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts")
    con.execute(
        """CREATE TABLE marts.fct_orders AS
           SELECT 'o' || range AS order_id, 'u' || (range % 7) AS unified_id,
                  CASE WHEN range < 29 THEN DATE '2026-05-01' + CAST(range % 3 AS INTEGER) END AS order_date,
                  range * 1.5 AS gross_amount
           FROM range(30)"""
    )
    return con


def days(folder: Path) -> dict[str, tuple[int, int]]:
    return {d.name: identity(next(d.glob("*.parquet"))) for d in folder.iterdir() if d.is_dir()}


def day_rows(folder: Path) -> dict[str, list[tuple]]:
    return {
        d.name: duckdb.sql(f"SELECT * FROM read_parquet('{d}/*.parquet') ORDER BY ALL").fetchall()
        for d in folder.iterdir()
        if d.is_dir()
    }


def test_facts_are_exported_by_day_readable_as_one_table_by_every_reader(facts, tmp_path: Path) -> None:
    [exported] = export_parquet(facts, tmp_path, ["fct_orders"])
    assert (exported.rows, exported.days, exported.days_rewritten) == (30, 4, 4)
    assert sorted(days(exported.path)) == [
        "order_date=2026-05-01",
        "order_date=2026-05-02",
        "order_date=2026-05-03",
        "order_date=__HIVE_DEFAULT_PARTITION__",
    ]
    read_back = duckdb.sql(
        f"SELECT order_date, count(*), sum(gross_amount) FROM read_parquet('{exported.path}/*/*.parquet', "
        "hive_partitioning = true) GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert (
        read_back
        == facts.execute(
            "SELECT order_date, count(*), sum(gross_amount) FROM marts.fct_orders GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    )
    assert pl.read_parquet(f"{exported.path}/*/*.parquet", hive_partitioning=True).height == 30
    assert pads.dataset(exported.path, partitioning="hive").count_rows() == 30


def test_days_are_written_in_batches_of_bounded_rows_and_give_the_same_export(
    facts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert day_batches({"a": 4, "b": 4, "c": 9, "d": 1}, ["a", "b", "c", "d"], limit=8) == [
        ["a", "b"],
        ["c"],  # more than the limit: alone
        ["d"],
    ]
    assert day_batches({}, []) == []
    [whole] = export_parquet(facts, tmp_path / "whole", ["fct_orders"])
    monkeypatch.setattr(publish, "DAY_BATCH_ROWS", 10)  # the 30 orders' 4 days in 4 batches
    [batched] = export_parquet(facts, tmp_path / "batched", ["fct_orders"])
    assert (batched.rows, batched.days, batched.days_rewritten) == (30, 4, 4)
    assert day_rows(batched.path) == day_rows(whole.path)
    assert not list(batched.path.glob(".*/"))  # no batch folder left behind


def test_only_the_days_whose_facts_changed_are_written_again(facts, tmp_path: Path) -> None:
    [first] = export_parquet(facts, tmp_path, ["fct_orders"])
    before = days(first.path)
    [again] = export_parquet(facts, tmp_path, ["fct_orders"])
    assert (again.rewritten, again.days_rewritten) == (False, 0) and days(again.path) == before

    # a relinked customer's order on one day, and every order of another day gone
    facts.execute("UPDATE marts.fct_orders SET unified_id = 'u99' WHERE order_id = 'o4'")  # 2026-05-02
    facts.execute("DELETE FROM marts.fct_orders WHERE order_date = DATE '2026-05-03'")
    [changed] = export_parquet(facts, tmp_path, ["fct_orders"])
    assert (changed.rewritten, changed.days, changed.days_rewritten) == (True, 3, 1)
    after = days(changed.path)
    assert "order_date=2026-05-03" not in after
    assert after["order_date=2026-05-01"] == before["order_date=2026-05-01"]
    assert after["order_date=2026-05-02"] != before["order_date=2026-05-02"]
    relinked = duckdb.sql(
        f"SELECT unified_id FROM '{changed.path}/order_date=2026-05-02/*.parquet' WHERE order_id = 'o4'"
    )
    assert relinked.fetchall() == [("u99",)]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left


def test_a_single_file_export_gives_way_to_the_days_and_a_lost_day_folder_is_written_again(
    facts, tmp_path: Path
) -> None:
    old = tmp_path / "fct_orders"
    old.mkdir()
    (old / "fct_orders.parquet").write_bytes(b"PAR1")
    (old / FINGERPRINT).write_text("old", encoding="utf-8")
    [exported] = export_parquet(facts, tmp_path, ["fct_orders"])
    assert sorted(p.name for p in old.iterdir() if p.is_file()) == [".partitions.json"]
    shutil.rmtree(old / "order_date=2026-05-01")
    [again] = export_parquet(facts, tmp_path, ["fct_orders"])
    assert again.days_rewritten == 1 and (old / "order_date=2026-05-01").is_dir()


def test_an_empty_fact_is_one_empty_file_with_its_columns_and_days_replace_it(facts, tmp_path: Path) -> None:
    rows = facts.execute("SELECT * FROM marts.fct_orders").fetchall()
    facts.execute("DELETE FROM marts.fct_orders")
    [empty] = export_parquet(facts, tmp_path, ["fct_orders"])
    assert (empty.rows, empty.days) == (0, 0)
    relation = exported_tables(tmp_path)["fct_orders"]
    assert duckdb.sql(f"SELECT count(*) FROM {relation}").fetchall() == [(0,)]
    assert "unified_id" in duckdb.sql(f"SELECT * FROM {relation}").columns
    facts.executemany("INSERT INTO marts.fct_orders VALUES (?, ?, ?, ?)", rows)
    [filled] = export_parquet(facts, tmp_path, ["fct_orders"])
    assert filled.days == 4 and not (tmp_path / "fct_orders" / "fct_orders.parquet").exists()
    assert duckdb.sql(f"SELECT count(*) FROM {exported_tables(tmp_path)['fct_orders']}").fetchall() == [(30,)]


def test_a_new_day_of_the_profile_history_writes_that_day_only(tmp_path: Path) -> None:
    """dim_users_snapshot gains a day of every user's profile each run: its export and the analysts'
    file take the new day, the earlier days keep their files."""
    con = profile_history(users=50, days=2)
    [first] = export_parquet(con, tmp_path / "exports", ["dim_users_snapshot"])
    publish_analyst_db(con, tmp_path / "marts.duckdb", ["dim_users_snapshot"])
    before = days(first.path)
    con.execute(
        "INSERT INTO marts.dim_users_snapshot "
        "SELECT DATE '2026-05-03', 'u' || range, 'at_risk' FROM range(50)"
    )
    con.execute("UPDATE marts.dim_users SET profile_as_of = DATE '2026-05-03'")

    [daily] = export_parquet(con, tmp_path / "exports", ["dim_users_snapshot"])
    assert (daily.rows, daily.days, daily.days_rewritten) == (150, 3, 1)
    assert {d: f for d, f in days(daily.path).items() if d in before} == before
    assert publish_analyst_db(con, tmp_path / "marts.duckdb", ["dim_users_snapshot"])
    with duckdb.connect(str(tmp_path / "marts.duckdb"), read_only=True) as analysts:
        held = analysts.execute("SELECT * FROM dim_users_snapshot ORDER BY ALL").fetchall()
    assert held == con.execute("SELECT * FROM marts.dim_users_snapshot ORDER BY ALL").fetchall()
