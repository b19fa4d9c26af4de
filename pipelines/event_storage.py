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

The stock storage also builds a SQLAlchemy engine for every connection it opens (two or three per
event) and disposes of it after, which throws away SQLAlchemy's compiled-statement cache with it:
an event took about 6 ms, most of it building engines and compiling the same inserts again. This
class keeps one engine per database file (a few: the index and the latest runs' files), so an event
takes about 4 ms (``benchmarks/bench_event_storage.py``); a daily run stores about 800 events, the
dbt marts step alone 280. The engines keep no connection open (``NullPool``, as before), so other
processes (the UI, the daemon) see the same files as before.

It relies on the storage's internal helpers, which is why ``pyproject.toml`` pins Dagster exactly.
"""

import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import groupby
from typing import Any

from dagster import Field, StringSource
from dagster._core.events import ASSET_EVENTS
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.sqlalchemy_compat import db_result
from dagster._serdes import ConfigurableClassData
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.pool import NullPool

ENGINES_KEPT = 8
"""Engines kept, most recently used first: the index's and the few runs a process writes or reads
at once (the UI's process reads many runs' files in turn; an engine it drops is rebuilt on use)."""


def default_event_log_dir() -> str:
    """Where Dagster's default SQLite storage keeps event logs, so switching to this class keeps
    a deployment's run history."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        raise ValueError("BatchedSqliteEventLogStorage: set DAGSTER_HOME or give config.base_dir")
    return os.path.join(home, "history", "runs")


class BatchedSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` whose ``store_event_batch`` writes one transaction per database,
    with one engine kept per database file."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()  # before the stock one connects
        super().__init__(base_dir, inst_data)

    @classmethod
    def config_type(cls) -> Mapping[str, Any]:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> "BatchedSqliteEventLogStorage":
        return cls(base_dir=config_value.get("base_dir") or default_event_log_dir(), inst_data=inst_data)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        """A connection to ``shard``'s database in a transaction, as the stock storage gives it
        (under the same lock, the database created on first use), from the shard's kept engine."""
        with self._db_lock:
            engine = self._engine(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _engine(self, shard: str) -> Engine:
        """The shard's kept engine, or a new one kept in place of the least recently used. Its
        database is set up whenever the stock storage would (``wipe`` deletes the run files and
        forgets they were set up), whether its engine was kept or not."""
        engine = self._engines.pop(shard, None) or create_engine(
            self.conn_string_for_shard(shard),
            poolclass=NullPool,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
        )
        self._engines[shard] = engine  # the most recently used last
        if len(self._engines) > ENGINES_KEPT:
            self._engines.popitem(last=False)[1].dispose()
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        return engine

    def dispose(self) -> None:
        super().dispose()
        while self._engines:
            self._engines.popitem()[1].dispose()

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
