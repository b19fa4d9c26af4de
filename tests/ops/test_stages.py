"""Every ``cdp run --stage …`` combination works on a fresh data folder: stages follow the data
flow, and a stage run pulls in the upstream assets that were never materialised."""

from itertools import combinations

import dagster as dg
import pytest

from pipelines.settings import STAGES

COMBINATIONS = [list(c) for n in range(1, len(STAGES) + 1) for c in combinations(STAGES, n)]


@pytest.fixture(scope="module")
def graph():
    from pipelines.definitions import defs

    return defs.resolve_asset_graph()


def test_no_asset_reads_an_asset_of_a_later_stage(graph):
    late = [
        (key.to_user_string(), parent.to_user_string())
        for key in graph.get_all_asset_keys()
        for parent in graph.get(key).parent_keys
        if STAGES.index(graph.get(parent).group_name) > STAGES.index(graph.get(key).group_name)
    ]
    assert late == []
    assert graph.get(dg.AssetKey(["marts", "dim_users"])).group_name == "profiles"


@pytest.mark.parametrize("stages", COMBINATIONS, ids="+".join)
def test_a_stage_run_on_a_fresh_folder_builds_everything_it_reads(stages, graph):
    from pipelines.runner import stage_selection

    selected = set(stage_selection(stages, dg.DagsterInstance.ephemeral()))
    assert set(dg.AssetSelection.groups(*stages).resolve(graph)) <= selected
    missing = {
        (key.to_user_string(), parent.to_user_string())
        for key in selected
        for parent in graph.get(key).parent_keys
        if parent not in selected
    }
    assert missing == set()
    from pipelines.definitions import defs

    defs.resolve_job_def("materialize_all").get_subset(asset_selection=selected)  # a job Dagster can build


def test_a_stage_run_on_a_used_folder_rebuilds_only_that_stage(graph):
    from pipelines.runner import stage_selection

    class Used:
        def get_latest_materialization_event(self, key):
            return object()

    assert set(stage_selection(["kpis"], Used())) == set(dg.AssetSelection.groups("kpis").resolve(graph))


def built_assets(result: dg.ExecuteInProcessResult) -> set[dg.AssetKey]:
    return {e.asset_key for e in result.get_asset_materialization_events()}


@pytest.mark.slow(seconds=45)
def test_stage_runs_build_their_stages_and_what_was_never_materialised(data_dir):
    """``ingest`` + ``identity`` on a fresh data folder, then ``kpis`` on that folder: each run
    succeeds with every check passing and builds its stages' assets; the kpis run also builds the
    profiles assets it reads (never materialised) and reuses ingest. Two runs in one folder instead of
    two fresh folders: which upstream assets a fresh folder adds is checked for every combination
    above, without running them."""
    from pipelines.runner import run_pipeline
    from tests.landing_builder import build_small_landing

    build_small_landing(data_dir.landing)
    for stages in (["ingest", "identity"], ["kpis"]):
        result = run_pipeline(stages=stages)
        assert result.success, stages
        assert [c.check_name for c in result.get_asset_check_evaluations() if not c.passed] == []
        graph = result.job_def.asset_layer.asset_graph
        assert set(dg.AssetSelection.groups(*stages).resolve(graph)) <= built_assets(result)
    read_from_profiles = dg.AssetSelection.groups("kpis").upstream() & dg.AssetSelection.groups("profiles")
    profiles_read = set(read_from_profiles.resolve(graph))
    assert profiles_read and profiles_read <= built_assets(result)
    assert not set(dg.AssetSelection.groups("ingest").resolve(graph)) & built_assets(result)
