"""Other partners' deliveries onboarded by configuration alone, through `cdp run`, every stage.

The deployment lives in its own config folder (CDP_CONFIG_DIR), so the run happens in a `cdp`
process of its own, as a data engineer would start it. The shapes and the people behind them are
in tests/partner_deliveries.py."""

from pathlib import Path

import duckdb
import pytest

from tests.e2e.cdp_process import cdp
from tests.partner_deliveries import ROWS, write_deployment, write_landing

pytestmark = pytest.mark.slow(seconds=80)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("partners")
    write_deployment(root / "config")
    write_landing(root / "data" / "landing")
    run = cdp(root, "run")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    return root


def query(root: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(root / "data" / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_rows_in_equal_rows_loaded_plus_quarantined_per_feed(deployment):
    ledger = {
        feed: (rows_in, loaded, quarantined)
        for feed, rows_in, loaded, quarantined in query(
            deployment,
            "SELECT feed, sum(rows_in), sum(rows_loaded), sum(rows_quarantined) FROM raw._files GROUP BY 1",
        )
    }
    assert ledger == ROWS
    quarantined = dict(query(deployment, "SELECT feed, count(*) FROM raw._quarantine GROUP BY 1"))
    assert quarantined == {feed: q for feed, (_, _, q) in ROWS.items() if q}


def test_each_person_is_resolved_across_every_shape(deployment):
    people = query(
        deployment,
        """
        SELECT list(DISTINCT source ORDER BY source), count(*) FROM marts.identity_map
        WHERE unified_id IS NOT NULL GROUP BY unified_id ORDER BY 2 DESC""",
    )
    assert people == [
        (["app_orders", "crm_extract", "member_list", "registrations", "till_log"], 6),
        (["app_orders", "member_list", "till_log"], 4),
        (["registrations"], 1),
    ]


def test_people_feeds_fill_profiles_and_never_events(deployment):
    assert query(deployment, "SELECT count(*) FROM marts.fct_events") == [(0,)]
    users = query(
        deployment,
        """SELECT name_masked, mobile_masked, gender, city, age, orders, gmv
                                 FROM marts.dim_users ORDER BY gmv DESC""",
    )
    wang, li, chen = users
    assert wang[:4] == ("王*", "138****8000", "female", "上海") and wang[5:] == (3, 59.0 * 2 + 1280.0)
    assert wang[4] == 70  # born 1956-04-09 (written 19560409), as of 2026-05-01
    assert li[:2] == ("李*", "139****5678") and li[5:] == (3, 120.5 + 30.0 + 99.0)
    assert chen[:4] == ("陈*", "136****1234", "female", "北京") and chen[5] == 0


def test_orders_of_every_shape_reach_the_order_facts(deployment):
    orders = query(
        deployment, "SELECT source, count(*), sum(gross_amount) FROM marts.fct_orders GROUP BY 1 ORDER BY 1"
    )
    assert orders == [("app_orders", 2, 1379.0), ("till_log", 4, 59.0 * 2 + 120.5 + 30.0)]
    assert query(
        deployment, "SELECT min(ordered_at)::VARCHAR FROM marts.fct_orders WHERE source = 'app_orders'"
    ) == [("2026-05-01 10:00:00",)]  # 02:00 UTC on the partner's clock, 10:00 in Shanghai


@pytest.fixture(scope="module")
def drafted(tmp_path_factory) -> Path:
    """The same deliveries onboarded the quick way: `cdp feeds draft` on one file of each feed, the
    entries pasted unchanged under `feeds:`, then `cdp run` of the stages the checks read (ingest,
    identity); the whole run of the same shapes is `deployment`'s."""
    root = tmp_path_factory.mktemp("drafted")
    write_landing(root / "data" / "landing")
    write_deployment(root / "config")  # the settings the drafts are checked against; feeds replaced below
    entries = []
    for folder in sorted((root / "data" / "landing").iterdir()):
        sample = next(folder.glob("*/*"))
        draft = cdp(root, "feeds", "draft", str(sample), "--name", folder.name)
        assert draft.returncode == 0, draft.stdout + draft.stderr
        entry = draft.stdout.split("\nfeeds:\n", 1)[1]
        entries.append(entry)
    write_deployment(root / "config", "feeds:\n" + "".join(entries))
    run = cdp(root, "run", "--stage", "ingest", "--stage", "identity")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    return root


def test_drafted_feeds_pasted_unchanged_load_every_valid_row(drafted):
    ledger = {
        feed: (rows_in, loaded, quarantined)
        for feed, rows_in, loaded, quarantined in query(
            drafted,
            "SELECT feed, sum(rows_in), sum(rows_loaded), sum(rows_quarantined) FROM raw._files GROUP BY 1",
        )
    }
    for feed, (rows_in, loaded, _quarantined) in ROWS.items():  # a draft may be laxer, never stricter
        assert ledger[feed][0] == rows_in and ledger[feed][1] >= loaded and sum(ledger[feed][1:]) == rows_in
    assert query(drafted, "SELECT count(*) FROM marts.identity_map") == [
        (sum(v[1] for v in ledger.values()),)
    ]
