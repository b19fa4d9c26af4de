"""`forget` on a small hand-made warehouse: it follows the person through whatever identity tables
exist, deletes every layer's rows, audits without personal data, and suppresses reloads."""

from datetime import date

import duckdb
import pytest

from assets.identity.settings import identity_config
from assets.ingest.feeds import feeds_config
from assets.ingest.loader import load_feed_files
from assets.privacy.forget import ForgetError, forget
from tests.landing_builder import DAY, pos, write_csv

SALT = "test-salt"


@pytest.fixture
def warehouse(tmp_path):
    landing = tmp_path / "landing"
    path = write_csv(
        landing / "pos_transactions" / DAY / "pos.csv",
        [
            {**pos("T1", "+86 139-1234-5678"), "note": "call 13912345678"},
            pos("T2", card="M0000000002"),
            pos("T3", "13800138000"),
            pos("T2", card="M0000000002"),
        ],
    )
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    feed = feeds_config().feeds["pos_transactions"]
    load_feed_files(con, feed, [(path, date.fromisoformat(DAY))], landing, salt=SALT)
    # identity as some stitching stage left it: T1 and T2 are one person, T3 another
    con.execute("CREATE SCHEMA identity; CREATE SCHEMA marts")
    con.execute("""CREATE TABLE identity.some_resolution AS SELECT * FROM (VALUES
        ('pos_transactions', 'T1', 'u_a'), ('pos_transactions', 'T2', 'u_a'),
        ('pos_transactions', 'T3', 'u_b'))
        t(source, record_id, unified_id)""")
    con.execute(
        "CREATE TABLE marts.dim_users AS SELECT * FROM "
        "(VALUES ('u_a', '139****5678'), ('u_b', '138****8000')) t(unified_id, mobile_masked)"
    )
    con.execute("CREATE TABLE marts.kpi_daily AS SELECT DATE '2026-05-01' AS date, 3 AS orders")
    yield con, feed, path, landing
    con.close()


def test_forget_follows_the_person_and_suppresses_a_reload(warehouse):
    con, feed, path, landing = warehouse
    report = forget(
        con, feeds_config(), "mobile", "13912345678", SALT, set(identity_config().attribute_kinds)
    )
    assert report.people == 1
    assert report.rows_deleted == {
        "raw.pos_transactions": 2,
        "raw._quarantine": 1,
        "raw._extra_columns": 1,
        "identity.some_resolution": 2,
        "marts.dim_users": 1,
    }
    assert con.execute("SELECT txn_id FROM raw.pos_transactions").fetchall() == [("T3",)]
    assert con.execute("SELECT count(*) FROM marts.kpi_daily").fetchall() == [(1,)]
    audit = con.execute(
        "SELECT identifier_kind, identifier_hash, people, table_name, rows_deleted "
        "FROM privacy.forget_audit ORDER BY table_name"
    ).fetchall()
    assert [row[3:] for row in audit] == [
        ("identity.some_resolution", 2),
        ("marts.dim_users", 1),
        ("raw._extra_columns", 1),
        ("raw._quarantine", 1),
        ("raw.pos_transactions", 2),
    ]
    assert "13912345678" not in str(audit) and len(audit[0][1]) == 64

    con.execute("DELETE FROM raw._files; DELETE FROM raw.pos_transactions")  # loaded again from scratch
    [load] = load_feed_files(con, feed, [(path, date.fromisoformat(DAY))], landing, salt=SALT)
    assert (load.rows_in, load.rows_loaded, load.rows_quarantined) == (4, 1, 3)
    quarantined = con.execute(
        "SELECT reason, raw_record FROM raw._quarantine WHERE row_number <> 4"
    ).fetchall()
    assert quarantined == [("suppressed: record deleted on request (privacy.suppressed_records)", None)] * 2
    [(duplicate,)] = con.execute("SELECT raw_record FROM raw._quarantine WHERE row_number = 4").fetchall()
    assert duplicate is None  # a suppressed record's duplicate keeps no content either
    assert con.execute("SELECT record_id FROM raw._extra_columns WHERE value IS NOT NULL").fetchall() == []


def test_forget_matches_any_spelling_and_rejects_what_is_not_an_identifier(warehouse):
    con, *_ = warehouse
    kinds = set(identity_config().attribute_kinds)
    with pytest.raises(ForgetError, match="unknown identifier kind"):
        forget(con, feeds_config(), "shoe_size", "38", SALT, kinds)
    with pytest.raises(ForgetError, match="not a valid mobile"):
        forget(con, feeds_config(), "mobile", "12-34", SALT, kinds)
    report = forget(con, feeds_config(), "member_id", "m 0000000002", SALT, kinds)
    assert report.people == 1 and report.rows_deleted["raw.pos_transactions"] == 2


def test_forget_deletes_the_pairs_naming_the_person_on_either_side(warehouse):
    con, *_ = warehouse
    con.execute("""CREATE TABLE identity.match_candidates AS SELECT * FROM (VALUES
        ('pos_transactions', 'T1', 'pos_transactions', 'T3'),
        ('pos_transactions', 'T3', 'pos_transactions', 'T2'),
        ('pos_transactions', 'T3', 'pos_transactions', 'T9'))
        t(source_a, record_id_a, source_b, record_id_b)""")
    report = forget(
        con, feeds_config(), "mobile", "13912345678", SALT, set(identity_config().attribute_kinds)
    )
    assert report.rows_deleted["identity.match_candidates"] == 2
    assert con.execute("SELECT record_id_a, record_id_b FROM identity.match_candidates").fetchall() == [
        ("T3", "T9")
    ]
