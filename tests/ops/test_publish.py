"""Publishing the marts touches only what changed (assets/exports/publish.py): a mart whose content is
unchanged keeps its Parquet file, and the analysts' database is replaced only when a mart changed —
whatever the changed mart's size, and when a row is deleted, a value edited or a column renamed."""

from pathlib import Path

import duckdb
import pytest

from assets.exports.publish import export_parquet, publish_analyst_db


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
