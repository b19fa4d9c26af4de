"""The uniqueness test of a model that keeps its rows from earlier builds counts only the keys the
current build wrote (dbt_project/macros/generic_tests.sql: ``unique_combination`` with ``written``),
so its cost stays a day's, not the model's whole history. Checked on hand-built tables, compiled by
dbt itself in one ``dbt show``: a duplicate that involves a row the build wrote is reported, whether
its other row is new or old; one among rows no build touched since they were tested is not; and the
test without ``written`` still counts every key."""

import duckdb
import pytest

from tests.e2e.dbt_cli import dbt_show

pytestmark = pytest.mark.slow(seconds=6)

WATERMARK, BUILT = "2026-01-01 12:00", "2026-01-01 13:00"  # the marts step's last build saw rows until noon
OLD, NEW = "2026-01-01 10:00", "2026-01-02 10:00"
STAGED_EVENTS = [  # (source, event_id, identity_key, _loaded_at)
    ("web", "e1", "r1", OLD),
    ("web", "e1", "r1", "2026-01-01 11:00"),  # duplicate of two old rows: tested when they were written
    ("web", "e2", "r2", OLD),
    ("web", "e2", "r2", NEW),  # a new row repeating an old key
    ("web", "e3", "r3", NEW),
    ("web", "e5", "r5", OLD),  # an old event whose identity record re-resolved since the last build
]
RESOLVED = [("web", "r1", OLD), ("web", "r2", OLD), ("web", "r3", NEW), ("web", "r5", NEW)]
FACT_KEYS = ["e1", "e1", "e2", "e3", "e3", "e5", "e5"]  # e1 old and untouched; e3 new; e5 re-resolved
SNAPSHOT = [("2026-01-01", "u1"), ("2026-01-01", "u1"), ("2026-01-02", "u1"), ("2026-01-02", "u1")]
SNAPSHOT += [("2026-01-02", "u2")]


def _warehouse(path) -> None:
    con = duckdb.connect(str(path))
    for schema in ("raw", "staging", "marts", "identity"):
        con.execute(f"CREATE SCHEMA {schema}")
    con.execute(
        "CREATE TABLE raw._dbt_watermarks "
        "(step VARCHAR, built_at TIMESTAMP, relation VARCHAR, through TIMESTAMP)"
    )
    for relation in ("stg_events", "resolved_records"):
        con.execute(
            "INSERT INTO raw._dbt_watermarks VALUES ('dbt_marts', ?, ?, ?)", [BUILT, relation, WATERMARK]
        )
    con.execute(
        "CREATE TABLE staging.stg_events "
        "(source VARCHAR, event_id VARCHAR, identity_key VARCHAR, _loaded_at TIMESTAMP)"
    )
    con.executemany("INSERT INTO staging.stg_events VALUES (?, ?, ?, ?)", STAGED_EVENTS)
    con.execute(
        "CREATE TABLE identity.resolved_records (source VARCHAR, record_id VARCHAR, resolved_at TIMESTAMP)"
    )
    con.executemany("INSERT INTO identity.resolved_records VALUES (?, ?, ?)", RESOLVED)
    con.execute("CREATE TABLE marts.fct_events (source VARCHAR, event_id VARCHAR)")
    con.executemany("INSERT INTO marts.fct_events VALUES ('web', ?)", [[k] for k in FACT_KEYS])
    con.execute("CREATE TABLE marts.dim_users (unified_id VARCHAR, profile_as_of DATE)")
    con.execute("INSERT INTO marts.dim_users VALUES ('u1', '2026-01-02'), ('u2', '2026-01-02')")
    con.execute("CREATE TABLE marts.dim_users_snapshot (as_of DATE, unified_id VARCHAR)")
    con.executemany("INSERT INTO marts.dim_users_snapshot VALUES (?, ?)", SNAPSHOT)
    con.close()


def _duplicates(model: str, columns: list[str], written: str | None) -> str:
    """SQL of the keys the test reports (their last column), sorted and comma-separated."""
    test = f"test_unique_combination(model=ref('{model}'), columns={columns}, written={written})"
    column = columns[-1]
    return f"(select string_agg({column}::varchar, ',' order by {column}) from ({{{{ {test} }}}}) failing)"


@pytest.fixture(scope="module")
def reported(tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("dbt") / "warehouse.duckdb"
    _warehouse(path)
    event_keys, snapshot_keys = ["source", "event_id"], ["as_of", "unified_id"]
    [row] = dbt_show(
        "select "
        + ", ".join(
            [
                f"{_duplicates('stg_events', event_keys, repr('loaded_since_marts_build'))} as staged",
                f"{_duplicates('stg_events', event_keys, None)} as staged_every_key",
                f"{_duplicates('fct_events', event_keys, {'facts_of': 'stg_events'})} as facts",
                f"{_duplicates('dim_users_snapshot', snapshot_keys, repr('profile_dates'))} as snapshot",
            ]
        ),
        path,
    )
    return row


def test_staged_duplicates_involving_a_new_row_are_reported(reported):
    assert reported["staged"] == "e2"  # e1's two rows are old: they passed when they were written


def test_without_written_every_key_is_counted(reported):
    assert reported["staged_every_key"] == "e1,e2"


def test_fact_duplicates_among_new_and_re_resolved_rows_are_reported(reported):
    assert reported["facts"] == "e3,e5"


def test_snapshot_duplicates_are_checked_on_the_profile_date_only(reported):
    assert reported["snapshot"] == "u1"  # the 2026-01-02 pair, not 2026-01-01's
