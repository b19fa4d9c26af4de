"""The experiment readout on generated data: the arms the ad platform exported match the
generator's truth, and the tested campaigns show the lift the generator built into them."""

from datetime import date

import duckdb
import polars as pl
import pytest

from generator import generate
from pipelines.runner import run_pipeline

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def readout(module_data_dir):
    # the A/B test runs 2026-06-01..06-18; members are followed for 30 days after assignment
    generate(
        people=20000, seed=7, out=module_data_dir.landing, start=date(2026, 5, 25), end=date(2026, 7, 20)
    )
    assert run_pipeline().success
    with duckdb.connect(str(module_data_dir.warehouse), read_only=True) as con:
        arms = con.sql("SELECT * FROM marts.kpi_experiments").pl()
    truth = pl.read_csv(module_data_dir.landing / "_truth/campaign_groups.csv")
    return arms, truth


def test_arm_sizes_match_the_generators_assignment(readout):
    arms, truth = readout
    campaigns = {"CMP2604": "A", "CMP2605": "B", "CMP2606": "control"}
    expected = truth.filter(pl.col("campaign_id").is_in(list(campaigns))).group_by("campaign_id").len()
    sizes = dict(arms.filter(pl.col("experiment_id") == "CMP2606").select("arm", "users").iter_rows())
    for campaign_id, n in expected.iter_rows():
        assert sizes[campaigns[campaign_id]] == pytest.approx(n, rel=0.02)


def test_both_variants_lift_conversion_over_control(readout):
    """Exposed members sometimes buy after merely seeing the ads, control members never see them:
    both variants convert more. (Revenue per user is too noisy at this size to have a direction.)"""
    arms, _ = readout
    variants = arms.filter((pl.col("experiment_id") == "CMP2606") & ~pl.col("is_control"))
    assert sorted(variants["arm"]) == ["A", "B"]
    assert (variants["conversion_lift_abs"] > 0).all()
    assert (variants["conversion_lift_ci_low"] < variants["conversion_lift_abs"]).all()
    assert not variants["sample_too_small"].any()
