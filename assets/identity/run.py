"""One identity run against the warehouse: decide full or incremental, resolve, store.

The identity asset and the benchmarks call :func:`resolve_warehouse`, so what is measured is what
runs."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import duckdb

from assets.identity import graph_store as store
from assets.identity.engine import Resolution, resolve
from assets.identity.incremental import resolve_increment
from assets.identity.scoring import FellegiSunter
from pipelines.config import IdentityConfig

PREVIOUS_SQL = """
SELECT n.node, r.unified_id, r.id_created_at, r.first_linked_run
FROM identity.resolved_records AS r
JOIN identity_nodes AS n USING (source, record_id, record_type)
WHERE r.unified_id IS NOT NULL
"""


@dataclass(frozen=True)
class Outcome:
    mode: str  # full | incremental
    reason: str | None  # why a full rebuild ran
    resolution: Resolution  # full: every node; incremental: the rewritten nodes only
    seconds: float


def resolve_warehouse(con: duckdb.DuckDBPyConnection, config: IdentityConfig, *, salt: str, run_id: str,
                      now: datetime, full_rebuild: bool = False) -> Outcome:
    """Resolve staging into the identity schema: only what changed when the stored graph allows it."""
    started = time.perf_counter()
    watermark = con.execute(store.WATERMARK_SQL).fetchall()[0][0]
    state = store.last_state(con)
    reason = "requested" if full_rebuild else store.full_rebuild_reason(con, state, config, salt, now)
    if reason is None:
        changed, attributes = store.load_changed(con, state.watermark)
        model = FellegiSunter.from_json(state.model) if state and state.model else None
        increment = resolve_increment(con, changed, attributes, config, salt=salt, model=model, run_id=run_id,
                                      resolved_at=now, users=state.users if state else 0)
        store.write_increment(con, increment.resolution, increment.units)
        result, mode = increment.resolution, "incremental"
    else:
        nodes, attributes = store.load_all(con)
        previous = (con.sql(PREVIOUS_SQL).pl()
                    if store.table_exists(con, "identity", "resolved_records", "id_created_at") else None)
        result = resolve(nodes, attributes, config, salt=salt, previous=previous, run_id=run_id, resolved_at=now)
        store.write_full(con, result)
        mode = "full"
    seconds = time.perf_counter() - started
    store.record_state(con, state, run_id=run_id, mode=mode, reason=reason, resolved_at=now,
                       model=result.model.to_json() if result.model else None, config=config, salt=salt,
                       changed_nodes=int(result.stats.get("changed_nodes", result.resolved.height)),
                       rewritten_nodes=int(result.stats.get("rewritten_nodes", result.resolved.height)),
                       seconds=seconds, watermark=watermark, users=int(result.stats["users"]))
    return Outcome(mode, reason, result, seconds)
