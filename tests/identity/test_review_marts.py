"""The review marts built by dbt on a hand-built warehouse: the queue shows both records masked,
and kpi_identity says what the threshold does."""

import duckdb
import pytest

from tests.e2e.dbt_cli import dbt
from tests.identity.helpers import StagedWarehouse
from tests.identity.test_review import ROWS
from tests.privacy.pii_scan import scan

MODELS = ["identity_map", "identity_links", "identity_review", "kpi_identity"]


@pytest.fixture(scope="module")
def marts(tmp_path_factory):
    path = tmp_path_factory.mktemp("review") / "warehouse.duckdb"
    warehouse = StagedWarehouse(path)
    warehouse.add(ROWS[:-3])
    warehouse.resolve()
    warehouse.con.close()
    out = dbt(["build", "--select", *MODELS], path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    con = duckdb.connect(str(path), read_only=True)
    yield con
    con.close()


def test_the_review_queue_shows_both_records_masked_with_their_evidence(marts):
    rows = marts.execute(
        "SELECT queue, decision, record_id_a, record_id_b, record_a, record_b, agreed, disagreed, "
        "same_unified_id_now FROM marts.identity_review ORDER BY queue, review_rank"
    ).fetchall()
    queues = {r[0] for r in rows}
    assert queues == {"accepted side", "rejected side"}
    walkin = next(r for r in rows if "walkin" in (r[2], r[3]))
    shown = walkin[4] if walkin[2] == "walkin" else walkin[5]
    assert "mobile: 139****5678" in shown and "person_name: " in shown and "store: S" in shown
    assert walkin[8] is True
    doubt = next(r for r in rows if "doubt" in (r[2], r[3]))
    shown = doubt[4] if doubt[2] == "doubt" else doubt[5]
    assert "email: d***@example.cn" in shown and "birth_date: 1991-**-**" in shown
    assert (doubt[1], doubt[7], doubt[8]) == ("rejected", ["birth_date"], False)
    assert scan(marts, "marts.identity_review") == []


def test_kpi_identity_says_what_the_threshold_does(marts):
    metrics = dict(
        marts.execute(
            "SELECT metric, value FROM marts.kpi_identity WHERE dimension IS NULL "
            "AND metric NOT IN ('match_rate', 'users')"
        ).fetchall()
    )
    assert metrics["match_threshold"] == 0.5
    assert 0.5 <= metrics["expected_precision_accepted"] < 1
    assert (metrics["pairs_just_above_threshold"], metrics["pairs_just_below_threshold"]) == (0, 1)
    curve = marts.execute(
        "SELECT count(*) FROM marts.kpi_identity WHERE metric LIKE 'threshold_%'"
    ).fetchall()
    assert curve == [(0,)]  # no ground truth here
