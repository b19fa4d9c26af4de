"""int_user_event_facts keeps its previous build's row for the users nothing touched and recomputes
the others: those who gained events (staged since the last build, or on a record identity re-resolved
since), those who lost some (a merge moved their record away, or all of them), and those whose events
the profile date's move brought in or took out of the 30-day window. Checked on a hand-built warehouse
against a full build of the same state."""

from pathlib import Path

import duckdb
import pytest

from tests.e2e.dbt_cli import dbt

pytestmark = pytest.mark.slow(seconds=20)
MODEL = "int_user_event_facts"
BUILT = "TIMESTAMP '2026-06-01 02:00:00'"  # the marts step's last build; what came later is new
LATER = "TIMESTAMP '2026-06-02 02:00:00'"
EVENTS = """(source VARCHAR, event_id VARCHAR, unified_id VARCHAR, identity_key VARCHAR, channel VARCHAR,
             event_type VARCHAR, occurred_at TIMESTAMP, event_date DATE, dwell_seconds INTEGER,
             category VARCHAR, interests VARCHAR)"""


def event(n: int, user: str, day: str, record: str | None = None, kind: str = "page_view") -> str:
    record = record or f"r_{user}"
    return (
        f"('app', 'e{n}', '{user}', '{record}', 'online', '{kind}', TIMESTAMP '{day} 10:00:00', "
        f"DATE '{day}', 30, 'shoes', 'running')"
    )


FIRST_EVENTS = [
    event(1, "u1", "2026-05-30"),
    event(2, "u2", "2026-05-20"),
    event(3, "u2", "2026-05-21", record="r_u2_b"),  # moves to u3 on day two
    event(4, "u3", "2026-05-29"),
    event(5, "u4", "2026-05-25"),  # u4's only record merges into u5 on day two
    event(6, "u5", "2026-05-26"),
    event(7, "u6", "2026-05-02"),  # inside the 30 days before 2026-05-31, outside those before 06-01
    event(8, "u7", "2026-05-15"),  # nothing happens to u7
]


def warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    for schema in ("raw", "staging", "intermediate", "marts", "identity"):
        con.execute(f"CREATE SCHEMA {schema}")
    con.execute(f"CREATE TABLE marts.fct_events {EVENTS}")
    con.execute(f"INSERT INTO marts.fct_events VALUES {', '.join(FIRST_EVENTS)}")
    con.execute(f"""CREATE TABLE staging.stg_events AS
                    SELECT source, event_id, identity_key, {BUILT} - INTERVAL 1 HOUR AS _loaded_at
                    FROM marts.fct_events""")
    con.execute(f"""CREATE TABLE identity.resolved_records AS
                    SELECT DISTINCT source, identity_key AS record_id, unified_id,
                           {BUILT} - INTERVAL 1 HOUR AS resolved_at
                    FROM marts.fct_events""")
    con.execute("CREATE TABLE intermediate.int_profile_date AS SELECT DATE '2026-05-31' AS as_of")
    con.execute(
        "CREATE TABLE raw._dbt_watermarks "
        "(step VARCHAR, built_at TIMESTAMP, relation VARCHAR, through TIMESTAMP)"
    )
    for relation in ("stg_events", "resolved_records"):
        con.execute(f"INSERT INTO raw._dbt_watermarks VALUES ('dbt_marts', {BUILT}, '{relation}', {BUILT})")
    return con


def day_two(con: duckdb.DuckDBPyConnection) -> None:
    """u1 gets a new event; identity moves r_u2_b to u3 and r_u4 to u5; the profile date moves on."""
    con.execute(f"INSERT INTO marts.fct_events VALUES {event(9, 'u1', '2026-06-01')}")
    con.execute(f"INSERT INTO staging.stg_events VALUES ('app', 'e9', 'r_u1', {LATER})")
    for record, user in (("r_u2_b", "u3"), ("r_u4", "u5")):
        con.execute(f"UPDATE marts.fct_events SET unified_id = '{user}' WHERE identity_key = '{record}'")
        con.execute(
            f"UPDATE identity.resolved_records SET unified_id = '{user}', resolved_at = {LATER} "
            f"WHERE record_id = '{record}'"
        )
    con.execute("UPDATE intermediate.int_profile_date SET as_of = DATE '2026-06-01'")


def build(path: Path, *flags: str) -> None:
    out = dbt(["run", "--select", MODEL, *flags], path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]


def facts(path: Path) -> dict[str, dict]:
    with duckdb.connect(str(path), read_only=True) as con:
        cursor = con.execute(f"SELECT * FROM intermediate.{MODEL}")
        columns = [d[0] for d in cursor.description]
        return {row[0]: dict(zip(columns, row, strict=True)) for row in cursor.fetchall()}


def test_a_daily_build_recomputes_exactly_the_touched_users(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    warehouse(path).close()
    build(path, "--full-refresh")
    assert sorted(facts(path)) == ["u1", "u2", "u3", "u4", "u5", "u6", "u7"]
    with duckdb.connect(str(path)) as con:
        # a mark only the kept rows carry: where a row was recomputed, it is gone
        con.execute(f"UPDATE intermediate.{MODEL} SET browse_seconds = -1")
        day_two(con)
    build(path)
    daily = facts(path)
    build(path, "--full-refresh")
    full = facts(path)

    assert sorted(daily) == sorted(full) == ["u1", "u2", "u3", "u5", "u6", "u7"]  # u4 has no events left
    kept = [column for column, value in full["u7"].items() if daily["u7"][column] != value]
    assert kept == ["browse_seconds"] and daily["u7"]["browse_seconds"] == -1  # kept: only the mark differs
    assert full["u6"]["visit_days_30d"] == 0  # the window's edge passed its only visit
    for user in ("u1", "u2", "u3", "u5", "u6"):  # recomputed: as a full build gives them
        assert daily[user] == full[user], user
