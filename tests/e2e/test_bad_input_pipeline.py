"""Every kind of bad input at once, on top of the hand-built landing zone, through the whole
pipeline: the run succeeds, every file is accounted for, and the good rows reach the marts."""

import duckdb
import pytest

from pipelines.runner import run_pipeline
from tests.bad_inputs import BAD_INPUTS, expected_by_path
from tests.landing_builder import build_small_landing

pytestmark = pytest.mark.slow(seconds=35)


def test_every_bad_input_kind_in_one_landing_zone(module_data_dir, capsys):
    build_small_landing(module_data_dir.landing)
    expected = expected_by_path(module_data_dir.landing)
    assert len({case.kind for case in expected.values()}) == len(BAD_INPUTS)

    result = run_pipeline()
    assert result.success

    with duckdb.connect(str(module_data_dir.warehouse), read_only=True) as con:
        ledger = {
            path: (status, rows_in, ok, bad)
            for path, status, rows_in, ok, bad in con.execute(
                "SELECT path, status, rows_in, rows_loaded, rows_quarantined FROM raw._files"
            ).fetchall()
        }
        quarantine = dict(
            con.execute(
                "SELECT path, count(*) FILTER (WHERE reason <> '') FROM raw._quarantine GROUP BY path"
            ).fetchall()
        )
        in_marts = {
            r
            for (r,) in con.execute(
                "SELECT order_id FROM marts.fct_orders UNION ALL SELECT event_id FROM marts.fct_events"
            ).fetchall()
        }
    lines = ["| kind | feed | rows in | loaded | quarantined | status |", "|---|---|---|---|---|---|"]
    for path, case in expected.items():
        assert ledger[path] == (case.status, case.rows_in, case.loaded, case.quarantined), path
        assert quarantine.get(path, 0) == case.quarantined, path
        lines.append(
            f"| {case.kind} | {case.feed} | {case.rows_in} "
            f"| {case.loaded} | {case.quarantined} | {case.status} |"
        )
    assert all(rows_in == ok + bad for _, rows_in, ok, bad in ledger.values())
    assert {
        "B-U1",
        "B-BOM1",
        "B-GBK1",
        "B-GB1",
        "B-NL1",
        "B-TR2",
        "B-EX1",
        "B-RE1",
        "B-WT1",
        "B-DT1",
        "B-DU1",
        "B-LATE1",
        "B-HU1",
        "B-CC1",
        "B-SQL1",
        "B-J1",
        "2",
    } <= in_marts

    ingest = {
        e.asset_key.path[-1]: e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key.path[0] == "raw" and "rows_in" in e.materialization.metadata
    }
    for feed, metadata in ingest.items():
        assert (
            metadata["rows_in"].value == metadata["rows_loaded"].value + metadata["rows_quarantined"].value
        ), feed
    with capsys.disabled():
        print("\n" + "\n".join(lines))
