"""Dagster's SQLite event log, writing a batch of asset events in one transaction.

Loading history materialises every daily partition of every feed: at 10 k people that is about
1,800 partition materialisations, each stored by the stock SQLite storage in its own connections
and commits to two databases (the run's and the cross-run index), about 12 ms apiece: a third of
the small tier's run. Dagster hands a partitioned step's materialisations (and a run's planned
events) over as one batch when ``DAGSTER_EVENT_BATCH_SIZE`` is set (``pipelines/environment.py``
sets it), but the SQLite storage then
stores them one by one. This class stores such a batch in one transaction per database, with the
same rows as event-by-event storage (``tests/ops/test_event_storage.py`` compares them), so the
UI's partition status, asset history and lineage are unchanged.

It relies on the storage's internal helpers, which is why ``pyproject.toml`` pins Dagster exactly.
"""

import os
from collections.abc import Mapping, Sequence
from itertools import groupby
from typing import Any

from dagster import Field, StringSource
from dagster._core.events import ASSET_EVENTS
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlalchemy_compat import db_result
from dagster._serdes import ConfigurableClassData


def default_event_log_dir() -> str:
    """Where Dagster's default SQLite storage keeps event logs, so switching to this class keeps
    a deployment's run history."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        raise ValueError("BatchedSqliteEventLogStorage: set DAGSTER_HOME or give config.base_dir")
    return os.path.join(home, "history", "runs")


class BatchedSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` whose ``store_event_batch`` writes one transaction per database."""

    @classmethod
    def config_type(cls) -> Mapping[str, Any]:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> "BatchedSqliteEventLogStorage":
        return cls(base_dir=config_value.get("base_dir") or default_event_log_dir(), inst_data=inst_data)

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """Each stretch of consecutive asset events of one run in two transactions; any other
        event (a check's planned evaluation, say) on its own, as before, keeping the batch's order."""
        if len({event.run_id for event in events}) != 1:
            super().store_event_batch(events)
            return
        for is_asset, stretch in groupby(events, key=_is_asset_event):
            if is_asset:
                self._store_asset_events(list(stretch))
            else:
                super().store_event_batch(list(stretch))

    def _store_asset_events(self, events: Sequence[EventLogEntry]) -> None:
        """What ``store_event`` does for each asset event, in one transaction per database."""
        statements = [self.prepare_insert_event(event) for event in events]
        with self.run_connection(events[0].run_id) as conn:
            for statement in statements:
                conn.execute(statement)
        with self.index_transaction() as conn:
            event_ids = []
            for statement in statements:
                with db_result(conn, statement) as result:
                    event_ids.append(result.inserted_primary_key[0])
            self._store_asset_event_tags(conn, events, event_ids)
            for event, event_id in zip(events, event_ids, strict=True):
                self._store_asset_event(conn, event, event_id)


def _is_asset_event(event: EventLogEntry) -> bool:
    return event.is_dagster_event and event.dagster_event_type in ASSET_EVENTS
