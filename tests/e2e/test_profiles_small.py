"""Profile rules compiled by dbt from their configuration (vars.profiles), evaluated on a grid.
(The hand-built dbt unit tests of the profile models run in test_pipeline_small.) One `dbt show`
serves both grids: each dbt start-up costs seconds."""

import duckdb
import pytest

from pipelines.dbt_vars import dbt_vars
from tests.e2e.dbt_cli import dbt_show

pytestmark = pytest.mark.slow(seconds=6)
GRIDS = """
select 'rfm' as grid, r, fm, null::int as s, {{ rfm_segment('r', 'fm') }} as segment,
       {{ value_class(rfm_segment('r', 'fm')) }} as value_class, null as tier
from range(1, 6) t(r), range(1, 6) u(fm)
union all
select 'tier', null, null, s, null, null, {{ member_tier('s') }} from range(3, 16) t(s)
"""


@pytest.fixture(scope="module")
def grids(tmp_path_factory) -> dict[str, list[dict]]:
    path = tmp_path_factory.mktemp("dbt") / "w.duckdb"
    duckdb.connect(str(path)).close()
    rows = dbt_show(GRIDS, path)
    return {grid: [r for r in rows if r["grid"] == grid] for grid in ("rfm", "tier")}


def test_every_rfm_cell_gets_a_segment_and_every_segment_is_reachable(grids):
    rows = grids["rfm"]
    declared = [s["segment"] for s in dbt_vars()["profiles"]["rfm"]["segments"]]
    assert len(rows) == 25
    assert all(r["segment"] for r in rows), [r for r in rows if not r["segment"]]
    assert all(r["value_class"] for r in rows)
    assert sorted({r["segment"] for r in rows}) == sorted(declared) and len(declared) == 11


def test_member_tier_thresholds(grids):
    tiers = {r["s"]: r["tier"] for r in grids["tier"]}
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
