"""The batched SQLite event log (pipelines/event_storage.py) records exactly what Dagster's own
event-by-event storage records: per-partition materialisations, planned events, the asset's
latest materialisation and its tags, and the run's event log, for a partitioned asset materialised
over a range in one run, next to an unpartitioned one."""

from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef

from pipelines import event_storage
from pipelines.environment import EVENT_BATCH_SIZE
from pipelines.event_storage import BatchedSqliteEventLogStorage

DAYS = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_date="2026-01-31")


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def daily_feed(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"days": len(context.partition_keys)})


@dg.asset(deps=[daily_feed])
def summary() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 1})


@dg.asset_check(asset=summary)
def summary_has_rows() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


STOCK = ("dagster._core.storage.event_log", "SqliteEventLogStorage")
OURS = ("pipelines.event_storage", "BatchedSqliteEventLogStorage")


def _instance(
    home: Path, monkeypatch: pytest.MonkeyPatch, storage: tuple[str, str] = OURS
) -> dg.DagsterInstance:
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    (home / "dagster.yaml").write_text(
        f"telemetry: {{enabled: false}}\nevent_log_storage:\n  module: {storage[0]}\n  class: {storage[1]}\n"
        f"  config: {{base_dir: {home / 'history' / 'runs'}}}\n",
        encoding="utf-8",
    )
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


def _recorded(instance: dg.DagsterInstance) -> dict[str, Any]:
    """What the UI and the automation read back, without ids and timestamps."""
    job = dg.Definitions(
        assets=[daily_feed, summary],
        asset_checks=[summary_has_rows],
        jobs=[dg.define_asset_job("load", partitions_def=DAYS)],
    ).resolve_job_def("load")
    keys = DAYS.get_partition_keys()
    run = job.execute_in_process(
        instance=instance,
        tags={"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]},
    )
    assert run.success
    latest = instance.get_latest_materialization_event(daily_feed.key)
    return {
        "materialized": sorted(instance.get_materialized_partitions(daily_feed.key)),
        "materialization_records": len(instance.fetch_materializations(daily_feed.key, limit=1000).records),
        "latest": (latest.dagster_event.partition, latest.asset_materialization.metadata),  # type: ignore[union-attr]
        "summary": instance.get_latest_materialization_event(summary.key) is not None,
        "check": instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [summary_has_rows.check_key]
        )[summary_has_rows.check_key].status,
        "run_log": [
            (e.dagster_event_type, e.dagster_event.partition if e.dagster_event else None)
            for e in instance.all_logs(run.run_id)
            if e.dagster_event_type and "ENGINE" not in e.dagster_event_type.value
        ],
    }


def test_a_batch_is_stored_as_event_by_event_storage_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches: list[list[str]] = []
    store_batch = BatchedSqliteEventLogStorage._store_asset_events

    def counting(self: BatchedSqliteEventLogStorage, events: Any) -> None:
        batches.append([event.dagster_event_type.value for event in events])
        store_batch(self, events)

    monkeypatch.setattr(BatchedSqliteEventLogStorage, "_store_asset_events", counting)
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "0")
    one_by_one = _recorded(_instance(tmp_path / "one_by_one", monkeypatch))
    assert batches == []

    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", str(EVENT_BATCH_SIZE))
    batched = _recorded(_instance(tmp_path / "batched", monkeypatch))
    days = len(DAYS.get_partition_keys())
    for kind in ("ASSET_MATERIALIZATION_PLANNED", "ASSET_MATERIALIZATION"):  # a range's events at once
        assert any(batch.count(kind) >= days for batch in batches), kind
    assert batched == one_by_one
    assert len(batched["materialized"]) == 30


def test_engines_are_kept_per_database_and_record_what_the_stock_storage_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stock storage builds an engine per connection (two or three an event); ours one per
    database file, and the run's records read back the same."""
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "0")  # every event stored on its own, as the stock one
    stock = _recorded(_instance(tmp_path / "stock", monkeypatch, STOCK))
    built: list[str] = []
    build = event_storage.create_engine

    def counting(url: str, **options: Any) -> Any:
        built.append(url)
        return build(url, **options)

    monkeypatch.setattr(event_storage, "create_engine", counting)
    ours = _recorded(_instance(tmp_path / "ours", monkeypatch))
    assert ours == stock
    assert len(ours["run_log"]) > 20
    assert 0 < len(built) == len(set(built)) <= 2  # the index and the run's file, once each


def test_kept_engines_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = _instance(tmp_path / "home", monkeypatch).event_log_storage
    assert isinstance(storage, BatchedSqliteEventLogStorage)
    for run in range(event_storage.ENGINES_KEPT + 5):
        with storage.run_connection(f"run-{run}") as conn:
            conn.exec_driver_sql("select 1")
    assert len(storage._engines) == event_storage.ENGINES_KEPT
    assert "run-0" not in storage._engines and f"run-{event_storage.ENGINES_KEPT + 4}" in storage._engines
    assert (tmp_path / "home" / "history" / "runs" / "run-0.db").exists()


def test_a_wiped_storage_sets_up_a_run_file_again_through_its_kept_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``wipe`` deletes the run files; the next event of a run whose engine is kept recreates its
    file's tables, as the stock storage does."""
    instance = _instance(tmp_path / "home", monkeypatch)
    storage = instance.event_log_storage
    first = _recorded(instance)
    [run] = instance.get_runs(limit=1)
    storage.wipe()
    assert storage.get_logs_for_run(run.run_id) == []
    assert _recorded(instance)["run_log"] == first["run_log"]
