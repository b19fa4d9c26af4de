"""Profile rules checked through dbt itself: the hand-built unit tests in
dbt_project/models/marts/profiles/_profiles_unit_tests.yml, and the RFM segment map's coverage."""

import duckdb
import pytest
import yaml

from pipelines.settings import DBT_PROJECT_DIR
from tests.e2e.dbt_cli import dbt, dbt_show

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def empty_warehouse(tmp_path_factory):
    path = tmp_path_factory.mktemp("dbt") / "w.duckdb"
    duckdb.connect(str(path)).close()
    return path


def test_every_rfm_cell_gets_a_segment_and_every_segment_is_reachable(empty_warehouse):
    rows = dbt_show("select r, fm, {{ rfm_segment('r', 'fm') }} as segment, {{ value_class(rfm_segment('r', 'fm')) }} "
                    "as value_class from range(1, 6) t(r), range(1, 6) u(fm)", empty_warehouse)
    declared = [s["segment"] for s in yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
                ["vars"]["profiles"]["rfm"]["segments"]]
    assert len(rows) == 25
    assert all(r["segment"] for r in rows), [r for r in rows if not r["segment"]]
    assert all(r["value_class"] for r in rows)
    assert sorted({r["segment"] for r in rows}) == sorted(declared) and len(declared) == 11


def test_member_tier_thresholds(empty_warehouse):
    rows = dbt_show("select s, {{ member_tier('s') }} as tier from range(3, 16) t(s)", empty_warehouse)
    tiers = {r["s"]: r["tier"] for r in rows}
    assert [tiers[s] for s in (3, 5, 6, 8, 9, 11, 12, 13, 14, 15)] == [
        "bronze", "bronze", "silver", "silver", "gold", "gold", "platinum", "platinum", "diamond", "diamond"]


def test_profile_unit_tests_pass_and_can_fail(module_data_dir):
    from pipelines.runner import run_pipeline
    from tests.landing_builder import build_small_landing

    build_small_landing(module_data_dir.landing)
    assert run_pipeline().success
    ok = dbt(["test", "--select", "test_type:unit"], module_data_dir.warehouse)
    assert ok.returncode == 0, ok.stdout[-3000:]
    assert "PASS=6" in ok.stdout
    shifted = dbt(["test", "--select", "user_lifecycle,test_type:unit", "--vars",
                   yaml.safe_dump({"profiles": {**yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
                                                ["vars"]["profiles"], "lifecycle": {"new_max_days": 8,
                                                "growing_max_days": 90, "dormant_after_days": 90}}})],
                  module_data_dir.warehouse)
    assert shifted.returncode != 0 and "lifecycle_boundaries" in shifted.stdout
