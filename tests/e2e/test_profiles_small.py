"""Profile rules compiled by dbt from their configuration (vars.profiles), evaluated on a grid.
(The hand-built dbt unit tests of the profile models run in test_pipeline_small.)"""

import duckdb
import pytest

from pipelines.dbt_vars import dbt_vars
from tests.e2e.dbt_cli import dbt_show

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def empty_warehouse(tmp_path_factory):
    path = tmp_path_factory.mktemp("dbt") / "w.duckdb"
    duckdb.connect(str(path)).close()
    return path


def test_every_rfm_cell_gets_a_segment_and_every_segment_is_reachable(empty_warehouse):
    rows = dbt_show(
        "select r, fm, {{ rfm_segment('r', 'fm') }} as segment, {{ value_class(rfm_segment('r', 'fm')) }} "
        "as value_class from range(1, 6) t(r), range(1, 6) u(fm)",
        empty_warehouse,
    )
    declared = [s["segment"] for s in dbt_vars()["profiles"]["rfm"]["segments"]]
    assert len(rows) == 25
    assert all(r["segment"] for r in rows), [r for r in rows if not r["segment"]]
    assert all(r["value_class"] for r in rows)
    assert sorted({r["segment"] for r in rows}) == sorted(declared) and len(declared) == 11


def test_member_tier_thresholds(empty_warehouse):
    rows = dbt_show("select s, {{ member_tier('s') }} as tier from range(3, 16) t(s)", empty_warehouse)
    tiers = {r["s"]: r["tier"] for r in rows}
    assert [tiers[s] for s in (3, 5, 6, 8, 9, 11, 12, 13, 14, 15)] == [
        "bronze",
        "bronze",
        "silver",
        "silver",
        "gold",
        "gold",
        "platinum",
        "platinum",
        "diamond",
        "diamond",
    ]
