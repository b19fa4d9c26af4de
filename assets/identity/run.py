"""One identity run against a stored graph: decide full or incremental, resolve, store.

The identity asset and the benchmarks call :func:`resolve_stored` (through
:func:`resolve_warehouse` for the DuckDB warehouse), so what is measured is what runs. Whether a
run may link only what changed is decided here, from what the store reports; the store does the
reading and writing."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import duckdb

from assets.identity.engine import Graph, prepare, resolve_prepared
from assets.identity.graph_store import DuckDBGraphStore
from assets.identity.incremental import resolve_increment
from assets.identity.pins import pin_id
from assets.identity.results import Resolution
from assets.identity.scoring import FellegiSunter
from assets.identity.settings import IdentityConfig
from assets.identity.steps import Clock, Roles, node_kinds
from assets.identity.store import GraphStore, RunRecord, State, Tables

if TYPE_CHECKING:
    from assets.identity.spark_outputs import SparkResolution


@dataclass(frozen=True)
class Outcome:
    mode: str  # full | incremental
    reason: str | None  # why a full rebuild ran
    resolution: Resolution  # full: every node; incremental: the rewritten nodes only
    seconds: float


def fingerprint(config: IdentityConfig, salt: str, store_version: str) -> str:
    """Changes whenever the identity rules or the deployment salt do: the stored graph was built
    under other rules (or other hashed keys) and must be rebuilt; so does a new store version (the
    DuckDB store's key ids change with DuckDB's). Run settings (incremental, the quality floor,
    review) do not count. The pinned decisions have their own part (after the dot), so a rebuild
    they cause says so."""
    skip = ("incremental", "quality_floor_f1", "review", "pins")
    rules = {k: v for k, v in dataclasses.asdict(config).items() if k not in skip}
    text = json.dumps(rules, sort_keys=True, default=sorted)
    pins = json.dumps(sorted(f"{pin.decision}:{pin_id(pin)}" for pin in config.pins.all))  # notes, order: no
    return (
        hashlib.sha256(f"{store_version}\x00{text}\x00{salt}".encode()).hexdigest()[:16]
        + "."
        + hashlib.sha256(pins.encode()).hexdigest()[:8]
    )


def full_rebuild_reason(
    store: GraphStore, state: State | None, config: IdentityConfig, salt: str, now: datetime
) -> str | None:
    """Why this run must resolve everything again, or None when it can link only what was loaded
    since the last run. ``state``: the store's last state."""
    if state is None:
        return "no identity graph yet (or one stored by an older version)"
    if not config.incremental.enabled:
        return "incremental runs are switched off (config/identity.yaml: incremental.enabled)"
    expected = fingerprint(config, salt, store.version)
    if state.fingerprint.split(".")[0] != expected.split(".")[0]:
        return "identity config, salt or DuckDB version changed since the graph was built"
    if state.fingerprint != expected:
        return "pinned decisions changed since the graph was built (config/identity.yaml: pins)"
    if now - state.last_full_at > timedelta(days=config.incremental.full_rebuild_days):
        return f"last full rebuild is older than {config.incremental.full_rebuild_days} days"
    if state.watermark is None:
        return "the stored graph has no load watermark"
    if state.model and FellegiSunter.from_json(state.model) is None:
        return "the stored match model was fitted by another model version"
    changes = store.changes_since(state.watermark)
    if changes.unaccounted:
        where = "appeared in" if changes.unaccounted > 0 else "disappeared from"
        return f"{abs(changes.unaccounted)} records {where} staging outside ingestion"
    total = state.nodes + changes.changed
    if total and changes.changed / total > config.incremental.max_changed_share:
        return (
            f"{changes.changed / total:.1%} of nodes changed, more than incremental.max_changed_share "
            f"({config.incremental.max_changed_share:.0%})"
        )
    return None


def resolve_stored(
    store: GraphStore,
    config: IdentityConfig,
    *,
    salt: str,
    run_id: str,
    now: datetime,
    full_rebuild: bool = False,
) -> Outcome:
    """Resolve what the store's staging holds: only what changed when the stored graph allows it."""
    started = time.perf_counter()
    watermark = store.watermark()
    state = store.last_state()
    reason = "requested" if full_rebuild else full_rebuild_reason(store, state, config, salt, now)
    last_model = FellegiSunter.from_json(state.model) if state is not None and state.model else None
    if reason is None and state is not None and state.watermark is not None:
        changed, attributes = store.load_changed(state.watermark, node_kinds(Roles.of(config)))
        increment = resolve_increment(
            store,
            changed,
            attributes,
            config,
            salt=salt,
            model=last_model,
            run_id=run_id,
            resolved_at=now,
            users=state.users,
        )
        store.write_increment(increment)
        result, mode = increment.resolution, "incremental"
    else:
        clock = Clock()
        result = resolve_prepared(
            _prepared(store, config, salt, clock),
            config,
            previous=store.previous_ids(),
            run_id=run_id,
            resolved_at=now,
            previous_model=last_model,
            clock=clock,
        )
        store.write_full(result)
        mode = "full"
    seconds = time.perf_counter() - started
    last_full_at = now if mode == "full" or state is None else state.last_full_at
    store.record_state(
        run_record(
            run_id,
            mode,
            reason,
            now,
            last_full_at,
            fingerprint(config, salt, store.version),
            result,
            seconds,
            watermark,
        )
    )
    return Outcome(mode, reason, result, seconds)


def _prepared(store: GraphStore, config: IdentityConfig, salt: str, clock: Clock) -> Graph:
    """The stored graph, normalised and guarded. Its raw values are freed when this returns: at
    2 M people they are gigabytes that no later phase reads."""
    nodes = store.load_nodes()
    return prepare(nodes, store.attributes_by_kind(list(config.attribute_kinds)), config, salt, clock)


def run_record(
    run_id: str,
    mode: str,
    reason: str | None,
    now: datetime,
    last_full_at: datetime,
    fingerprint: str,
    result: Resolution | SparkResolution,
    seconds: float,
    watermark: datetime | None,
) -> RunRecord:
    """What the store keeps of a run: how it ran, its model, and how far it read staging."""
    stats = result.stats
    if "changed_nodes" in stats:  # an increment says what it changed and rewrote
        changed, rewritten = int(stats["changed_nodes"]), int(stats["rewritten_nodes"])
    else:  # a full run rewrites every node it resolved, records and actors
        changed = rewritten = int(stats["records"]) + int(stats["actors"])
    return RunRecord(
        run_id=run_id,
        mode=mode,
        reason=reason,
        resolved_at=now,
        last_full_at=last_full_at,
        fingerprint=fingerprint,
        model=result.model.to_json() if result.model else None,
        changed_nodes=changed,
        rewritten_nodes=rewritten,
        seconds=seconds,
        watermark=watermark,
        users=int(stats["users"]),
    )


def resolve_warehouse(
    con: duckdb.DuckDBPyConnection,
    config: IdentityConfig,
    *,
    salt: str,
    run_id: str,
    now: datetime,
    full_rebuild: bool = False,
    tables: Tables = Tables(),
) -> Outcome:
    """:func:`resolve_stored` on the graph kept in a DuckDB warehouse (``tables``: where)."""
    return resolve_stored(
        DuckDBGraphStore(con, tables), config, salt=salt, run_id=run_id, now=now, full_rebuild=full_rebuild
    )
