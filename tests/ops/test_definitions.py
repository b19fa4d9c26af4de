"""The Dagster UI explains every asset: stage group, owner, kinds, description; marts carry a
freshness policy; the schedule, the sensor and the report asset are there."""

import dagster as dg
import pytest

from pipelines.definitions import defs
from pipelines.settings import STAGES

STORAGE_KINDS = {"duckdb", "parquet", "html", "csv"}  # where an asset lives, shown as a kind in the UI


@pytest.fixture(scope="module")
def graph():
    return defs.resolve_asset_graph()


def test_every_asset_belongs_to_a_stage_and_every_stage_has_assets(graph):
    groups = {node.key.to_user_string(): node.group_name for node in graph.asset_nodes}
    assert {k: g for k, g in groups.items() if g not in STAGES} == {}
    assert set(groups.values()) == set(STAGES)


def test_every_asset_has_an_owner_kinds_and_a_description(graph):
    incomplete = {
        node.key.to_user_string(): (node.owners, node.kinds, bool(node.description))
        for node in graph.asset_nodes
        if not node.owners
        or not node.description
        or not node.kinds & STORAGE_KINDS
        or not all(o.startswith("team:") for o in node.owners)
    }
    assert incomplete == {}


def test_dbt_models_are_grouped_by_stage(graph):
    group = {node.key.to_user_string(): node.group_name for node in graph.asset_nodes}
    assert group["staging/stg_orders"] == "ingest"
    assert group["marts/identity_map"] == "identity"
    assert group["marts/fct_orders"] == "identity" and group["marts/dim_users"] == "profiles"
    assert group["marts/user_rfm"] == "profiles"
    assert group["marts/kpi_daily"] == "kpis"
    assert {"dbt", "duckdb"} <= graph.get(dg.AssetKey(["marts", "kpi_daily"])).kinds


def test_every_mart_has_a_freshness_policy_and_nothing_else_does(graph):
    marts = [n for n in graph.asset_nodes if n.key.path[0] == "marts"]
    assert len(marts) >= 10
    assert [n.key.to_user_string() for n in marts if n.freshness_policy is None] == []
    assert [
        n.key.to_user_string()
        for n in graph.asset_nodes
        if n.key.path[0] != "marts" and n.freshness_policy is not None
    ] == []
    policy = marts[0].freshness_policy
    assert policy.warn_window < policy.fail_window


def test_schedule_sensor_and_report_asset_are_defined(graph):
    assert defs.resolve_schedule_def("daily_pipeline").job_name == "materialize_all"
    assert defs.resolve_sensor_def("new_landing_files").job_name == "materialize_all"
    report = graph.get(dg.AssetKey(["exports", "report"]))
    assert report.group_name == "exports" and dg.AssetKey(["exports", "analyst_db"]) in report.parent_keys


def test_feed_assets_are_daily_partitioned(graph):
    feeds = [n for n in graph.asset_nodes if n.key.path[0] == "raw" and n.partitions_def is not None]
    assert feeds and all(isinstance(n.partitions_def, dg.DailyPartitionsDefinition) for n in feeds)


def test_a_deployment_on_the_spark_engine_loads_the_same_definitions(monkeypatch, graph):
    """One pipeline whatever the engine: the UI, the schedule and the sensor see the same assets,
    checks and jobs on `engine: spark` (each step chooses its engine when it runs)."""
    from pipelines.definitions import build_definitions

    monkeypatch.setenv("CDP_ENGINE", "spark")
    on_spark = build_definitions().resolve_asset_graph()
    assert {n.key for n in on_spark.asset_nodes} == {n.key for n in graph.asset_nodes}
    assert on_spark.asset_check_keys == graph.asset_check_keys
