"""The analysts' database is patched into a copy of the live file (assets/exports/analyst_db.py): the
keyed facts get only their changed rows, unchanged marts are kept, and the result always equals the
warehouse's marts. A deletion on request, or a file grown past its bound, builds it afresh."""

import shutil
from pathlib import Path

import duckdb
import pytest

from assets.exports import analyst_db
from assets.exports.analyst_db import FRESH_SIZE, publish_analyst_db
from assets.exports.publish import FINGERPRINT

MARTS = ["dim", "fct_events"]


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts")
    con.execute("CREATE TABLE marts.dim AS SELECT 'u' || range AS unified_id, range AS tier FROM range(50)")
    con.execute(
        """CREATE TABLE marts.fct_events AS
           SELECT CASE WHEN range % 2 = 0 THEN 'app' ELSE 'pos' END AS source, 'e' || range AS event_id,
                  'u' || (range % 50) AS unified_id,
                  DATE '2026-05-01' + CAST(range % 7 AS INTEGER) AS event_date
           FROM range(2000)"""
    )
    return con


def analyst(target: Path, name: str) -> list[tuple]:
    with duckdb.connect(str(target), read_only=True) as db:
        return db.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchall()


def warehouse(con: duckdb.DuckDBPyConnection, name: str) -> list[tuple]:
    return con.execute(f"SELECT * FROM marts.{name} ORDER BY ALL").fetchall()


def plant(target: Path) -> None:
    """A row only the live file holds, under unchanged fingerprints: it survives where the live
    file's table was kept, and is gone where the table was built from the warehouse."""
    with duckdb.connect(str(target)) as db:
        db.execute("INSERT INTO dim VALUES ('planted', -1)")
    kept = target.with_name(f".{target.name}{FINGERPRINT}")  # stamped again for the edited file
    content = kept.read_text(encoding="utf-8").partition("\n")[2]
    kept.write_text(f"{analyst_db._stamp(target)}\n{content}", encoding="utf-8")


def change_facts(con: duckdb.DuckDBPyConnection) -> None:
    """A merge moves older rows to another person, a new day arrives, a row is deleted."""
    con.execute("UPDATE marts.fct_events SET unified_id = 'u0' WHERE unified_id = 'u7'")
    con.execute(
        "INSERT INTO marts.fct_events SELECT 'app', 'new' || range, 'u3', DATE '2026-05-08' FROM range(10)"
    )
    con.execute("DELETE FROM marts.fct_events WHERE event_id = 'e11'")


def test_a_daily_change_patches_the_facts_and_keeps_the_unchanged_marts(con, tmp_path: Path) -> None:
    target = tmp_path / "marts.duckdb"
    assert publish_analyst_db(con, target, MARTS)
    plant(target)
    change_facts(con)
    assert publish_analyst_db(con, target, MARTS)
    assert analyst(target, "fct_events") == warehouse(con, "fct_events")
    assert ("planted", -1) in analyst(target, "dim")  # dim's fingerprint did not change: kept
    assert not publish_analyst_db(con, target, MARTS)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".building")] == []


def test_a_changed_mart_without_a_key_and_a_dropped_mart_are_replaced_whole(con, tmp_path: Path) -> None:
    target = tmp_path / "marts.duckdb"
    assert publish_analyst_db(con, target, MARTS)
    con.execute("UPDATE marts.dim SET tier = 0 WHERE unified_id = 'u1'")
    assert publish_analyst_db(con, target, ["dim"])
    assert analyst(target, "dim") == warehouse(con, "dim")
    with duckdb.connect(str(target), read_only=True) as db:
        assert [t for (t,) in db.execute("SHOW TABLES").fetchall()] == ["dim"]


def test_a_fact_whose_columns_or_keys_changed_is_copied_whole(con, tmp_path: Path) -> None:
    target = tmp_path / "marts.duckdb"
    assert publish_analyst_db(con, target, MARTS)
    con.execute("ALTER TABLE marts.fct_events ADD COLUMN cost DOUBLE DEFAULT 1.5")
    assert publish_analyst_db(con, target, MARTS)
    assert analyst(target, "fct_events") == warehouse(con, "fct_events")
    con.execute("UPDATE marts.fct_events SET event_id = NULL, cost = 2 WHERE event_id = 'e5'")
    assert publish_analyst_db(con, target, MARTS)
    assert analyst(target, "fct_events") == warehouse(con, "fct_events")


@pytest.mark.parametrize("reason", ["deletion on request", "grown"])
def test_the_file_is_built_afresh_after_a_deletion_or_when_it_has_grown(
    con, tmp_path: Path, reason, monkeypatch
) -> None:
    monkeypatch.setattr(analyst_db, "GROWTH_SLACK", 0)
    target = tmp_path / "marts.duckdb"
    assert publish_analyst_db(con, target, MARTS)
    plant(target)
    change_facts(con)
    if reason == "grown":
        (tmp_path / f".marts.duckdb{FRESH_SIZE}").write_text(str(target.stat().st_size // 2))
    assert publish_analyst_db(con, target, MARTS, fresh=reason == "deletion on request")
    assert analyst(target, "dim") == warehouse(con, "dim")  # the planted row is gone: built anew
    assert analyst(target, "fct_events") == warehouse(con, "fct_events")


def test_a_live_file_that_cannot_be_patched_is_built_afresh(con, tmp_path: Path) -> None:
    target = tmp_path / "marts.duckdb"
    assert publish_analyst_db(con, target, MARTS)
    target.write_bytes(b"not a DuckDB file")  # damaged, or written by another DuckDB version
    change_facts(con)
    assert publish_analyst_db(con, target, MARTS)
    assert analyst(target, "fct_events") == warehouse(con, "fct_events")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".building")] == []


def test_a_mart_replaced_whole_reuses_its_own_space_in_the_file(con, tmp_path: Path) -> None:
    """The replaced mart's old blocks are freed before its new rows are written, so the file does not
    grow by the mart's size each day (and reach its bound, a fresh build, every other day)."""
    con.execute(
        "CREATE OR REPLACE TABLE marts.dim AS "
        "SELECT md5(range::VARCHAR) AS unified_id, range AS tier FROM range(300000)"
    )
    target = tmp_path / "marts.duckdb"
    assert publish_analyst_db(con, target, MARTS)
    fresh = target.stat().st_size
    for day in range(3):
        con.execute(f"UPDATE marts.dim SET tier = -1 - {day} WHERE unified_id = md5('1')")
        assert publish_analyst_db(con, target, MARTS)
        assert analyst(target, "dim") == warehouse(con, "dim")
        assert target.stat().st_size < 1.2 * fresh


def test_a_live_file_put_back_from_elsewhere_is_brought_up_to_date(con, tmp_path: Path) -> None:
    """The kept fingerprints name the file they were written for: an older copy put back (a backup
    restored) is not taken for the file they describe, and the next publish replaces it."""
    target, older = tmp_path / "marts.duckdb", tmp_path / "older.duckdb"
    assert publish_analyst_db(con, target, MARTS)
    shutil.copyfile(target, older)
    change_facts(con)
    assert publish_analyst_db(con, target, MARTS)
    shutil.copyfile(older, target)
    assert publish_analyst_db(con, target, MARTS)
    assert analyst(target, "fct_events") == warehouse(con, "fct_events")
