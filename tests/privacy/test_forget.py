"""Privacy end to end on the hand-built landing zone (the session's one run of it, copied; see
tests/e2e/shared_runs.py): nothing personal reaches marts or exports in clear, and `cdp forget`
removes a person from every layer for good."""

import re

import duckdb
import pytest
from typer.testing import CliRunner

from assets.exports.publish import exported_tables
from pipelines.cli import app
from pipelines.runner import run_pipeline
from tests.landing_builder import LI_EMAIL
from tests.privacy.pii_scan import relations, scan

pytestmark = pytest.mark.slow(seconds=70)
LI_MOBILE, LI_CARD = "13912345678", "M0000000002"
LI_RECORDS = {
    ("ecommerce_orders", "JD1"),
    ("pos_transactions", "T2"),
    ("pos_transactions", "T5"),
    ("expo_registrations", "R1"),
}


@pytest.fixture(scope="module")
def pipeline(small_run):
    """This module's copy of the session's one run of the hand-built landing zone, where Li also
    signed up at a trade show with her email and her mobile, spelt another way."""
    assert small_run.exit_code == 0, small_run.output[-3000:]
    return small_run.paths


def warehouse(paths, read_only=True):
    return duckdb.connect(str(paths.warehouse), read_only=read_only)


def li_records_present(paths) -> set[tuple[str, str]]:
    with warehouse(paths) as con:
        return {
            (s, r)
            for s, r in con.execute(
                "SELECT source, record_id FROM raw.identity_records "
                "UNION SELECT source, record_id FROM marts.identity_map"
            ).fetchall()
            if (s, r) in LI_RECORDS
        }


def all_leaks(paths) -> list:
    leaks = []
    with warehouse(paths) as con:
        devices = [
            v
            for (v,) in con.execute(
                "SELECT DISTINCT raw_value FROM raw.identity_attributes WHERE attribute_kind = 'device_id'"
            ).fetchall()
        ]
        for relation in relations(con, "marts"):
            leaks += scan(con, relation, devices)
    assert devices
    with duckdb.connect(str(paths.analyst_db), read_only=True) as con:
        for relation in relations(con, "main"):
            leaks += scan(con, relation, devices)
    with duckdb.connect() as con:
        for relation in exported_tables(paths.exports).values():
            leaks += scan(con, relation, devices)
        activation = sorted(p for p in (paths.exports / "activation").rglob("*") if p.is_file())
        assert activation  # every destination gets at least its suppression list and manifest
        for file in activation:
            leaks += scan(con, f"read_text('{file}')", devices)
    return leaks


def test_the_scan_finds_personal_data_in_clear(tmp_path):
    with duckdb.connect() as con:
        con.execute("""CREATE TABLE t AS SELECT * FROM (VALUES
            ('13800138000', 'a@b.cn', '11010519491231002X', 'abcdef01-2345-6789-abcd-ef0123456789'),
            ('138****8000', 'a***@b.cn', 'sha:9f13800138000a', '984b6037-93f7-48fa-8843-b37a093d615e'))
            v(m, e, n, d)""")
        found = {
            (leak.column, leak.kind) for leak in scan(con, "t", ["ABCDEF01-2345-6789-ABCD-EF0123456789"])
        }
    assert found == {("m", "mobile"), ("e", "email"), ("n", "national_id"), ("d", "device_id")}


def test_no_personal_data_in_clear_in_marts_analyst_db_or_exports(pipeline):
    assert len(list(pipeline.exports.glob("*/*.parquet"))) >= 9
    assert all_leaks(pipeline) == []


def test_forget_removes_every_record_of_the_person(pipeline):
    paths = pipeline
    assert li_records_present(paths) == LI_RECORDS
    with warehouse(paths) as con:
        li = con.execute(
            "SELECT DISTINCT unified_id FROM marts.identity_map WHERE record_id = 'JD1'"
        ).fetchall()[0][0]
        people_before = con.execute("SELECT count(*) FROM marts.dim_users").fetchall()[0][0]
    copied = paths.root / "spark" / "inputs" / "raw" / "pos_transactions" / "_partition=2026-05-01"
    copied.mkdir(parents=True)
    (copied / "part-0.csv").write_text(f"T2,{LI_MOBILE}\n", encoding="utf-8")  # a parity copy of Li's receipt
    result = CliRunner().invoke(app, ["forget", "--mobile", "139-1234-5678"])
    assert result.exit_code == 0, result.output
    assert li_records_present(paths) == set()
    assert not (paths.root / "spark").exists() and "Spark's copies" in result.output
    with warehouse(paths) as con:
        for schema in ("staging", "intermediate", "identity", "marts"):
            for relation in relations(con, schema):
                columns = {r[0] for r in con.execute(f"DESCRIBE {relation}").fetchall()}
                if "unified_id" in columns:
                    assert con.execute(
                        f"SELECT count(*) FROM {relation} WHERE unified_id = ?", [li]
                    ).fetchall() == [(0,)]
        raw_left = con.execute(
            """SELECT count(*) FROM raw.identity_attributes
                                  WHERE raw_value IN (?, ?, ?, '+86 139 1234 5678', '139-1234-5678')""",
            [LI_MOBILE, LI_CARD, LI_EMAIL],
        ).fetchall()[0][0]
        people_after = con.execute("SELECT count(*) FROM marts.dim_users").fetchall()[0][0]
        wang = con.execute(
            "SELECT count(*) FROM marts.identity_map WHERE record_id IN ('TM1', 'T1')"
        ).fetchall()[0][0]
        audit = con.execute("SELECT * FROM privacy.forget_audit").fetchall()
    assert raw_left == 0 and people_after == people_before - 1 and wang == 2
    tables = {row[5]: row[6] for row in audit}
    assert tables["raw.pos_transactions"] == 2 and tables["raw.ecommerce_orders"] == 1
    assert tables["raw.expo_registrations"] == 1 and tables["marts.dim_users"] == 1
    assert {row[2] for row in audit} == {"mobile"} and {row[4] for row in audit} == {1}
    # the clear values are nowhere in the audit; its random request id, time and salted hash could
    # contain "1234" by chance, so they are checked for their shape instead
    readable = str([(kind, table, n) for _, _, kind, _, _, table, n in audit])
    assert not any(v in readable for v in (LI_MOBILE, LI_CARD, LI_EMAIL, "1234"))
    assert all(
        re.fullmatch(r"[0-9a-f]{64}", row[3]) and re.fullmatch(r"[0-9a-f]{16}", row[0]) for row in audit
    )
    with duckdb.connect(str(paths.analyst_db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM dim_users WHERE unified_id = ?", [li]).fetchall() == [(0,)]
    with duckdb.connect() as con:
        exported = [
            con.execute(f"SELECT count(*) FROM {relation} WHERE unified_id = ?", [li]).fetchall()[0][0]
            for relation in exported_tables(paths.exports).values()
            if "unified_id" in {c for (c, *_) in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()}
        ]
    assert len(exported) > 5 and sum(exported) == 0
    assert all_leaks(paths) == []


def test_forget_refuses_unknown_kinds_and_invalid_values(pipeline):
    assert CliRunner().invoke(app, ["forget", "--kind", "shoe_size", "--value", "38"]).exit_code == 2
    assert CliRunner().invoke(app, ["forget", "--mobile", "12345"]).exit_code == 2
    assert CliRunner().invoke(app, ["forget", "--mobile", LI_MOBILE, "--email", LI_EMAIL]).exit_code == 2


def test_the_person_does_not_come_back_on_the_next_run(pipeline):
    assert run_pipeline().success
    assert li_records_present(pipeline) == set()


def test_nor_when_the_landing_zone_is_loaded_again_from_scratch(pipeline):
    with warehouse(pipeline, read_only=False) as con:
        for (name,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw' "
            "AND table_type = 'BASE TABLE' AND table_name NOT IN ('stores', 'products', 'campaigns', "
            "'kols')"
        ).fetchall():
            con.execute(f'DROP TABLE raw."{name}"')
    assert run_pipeline().success
    assert li_records_present(pipeline) == set()
    with warehouse(pipeline) as con:
        suppressed = con.execute(
            "SELECT feed, raw_record FROM raw._quarantine WHERE reason LIKE 'suppressed%' ORDER BY 1"
        ).fetchall()
        ledger = con.execute("SELECT rows_in, rows_loaded, rows_quarantined FROM raw._files").fetchall()
        wang = con.execute(
            "SELECT count(*) FROM marts.identity_map WHERE record_id IN ('TM1', 'T1')"
        ).fetchall()[0][0]
    assert suppressed == [
        ("ecommerce_orders", None),
        ("expo_registrations", None),
        ("pos_transactions", None),
        ("pos_transactions", None),
    ]
    assert all(rows_in == ok + bad for rows_in, ok, bad in ledger) and wang == 2
