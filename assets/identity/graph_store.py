"""The identity graph's state in DuckDB, kept so that a daily run can link only what changed.

Besides the published tables (``resolved_records``, ``links``, ``history``, ``guarded_values``)
the identity schema keeps:

* ``nodes``: every record and event actor resolved so far, with a permanent integer ``node``, the
  number of valid staging attribute rows it had (a new identifier on an old actor changes it) and
  its current ``unified_id``;
* ``node_keys``: each node's normalised identifier keys (hashed kinds stay hashed), so a new record
  finds the people already holding its identifiers without normalising the whole graph again;
* ``state``: one row per run — full or incremental, the fitted match model and a fingerprint of the
  identity config and salt (a change forces a full rebuild).

Every table carrying person keys has ``source`` and ``record_id`` columns, so ``cdp forget`` finds
and deletes them like any other identity table.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import polars as pl

from assets.identity.engine import Resolution
from pipelines.config import IdentityConfig

NODE_KEYS = ["source", "record_id", "record_type"]

# The nodes staging holds now, with how many valid attribute rows each has.
_CURRENT = """
WITH attributes AS (
    SELECT source, record_id, record_type, count(*)::INTEGER AS attribute_rows, min(observed_at) AS observed_at
    FROM staging.stg_identity_attributes WHERE is_valid GROUP BY ALL
)
SELECT r.source, r.record_id, 'record' AS record_type, r.observed_at, coalesce(a.attribute_rows, 0) AS attribute_rows
FROM staging.stg_identity_records AS r
LEFT JOIN attributes AS a ON a.source = r.source AND a.record_id = r.record_id AND a.record_type = 'record'
UNION ALL
SELECT source, record_id, record_type, observed_at, attribute_rows FROM attributes WHERE record_type = 'actor'
"""
CURRENT_NODES_SQL = f"CREATE OR REPLACE TEMP TABLE identity_current AS {_CURRENT}"
# Full run: number every node (integer ids are what the engine works on).
NUMBER_ALL_SQL = """
CREATE OR REPLACE TEMP TABLE identity_nodes AS
SELECT (row_number() OVER (ORDER BY source, record_type, record_id) - 1)::BIGINT AS node, *
FROM identity_current
"""
# Incremental run: what differs from the stored graph — new nodes, nodes that gained attribute
# rows, and stored nodes no longer in staging — in one pass.
DELTA_SQL = f"""
CREATE OR REPLACE TEMP TABLE identity_delta AS
WITH current AS ({_CURRENT})
SELECT c.source, c.record_id, c.record_type, c.observed_at, c.attribute_rows, p.node AS stored_node,
       c.source IS NULL AS gone
FROM current AS c
FULL OUTER JOIN identity.nodes AS p
  ON c.source = p.source AND c.record_id = p.record_id AND c.record_type = p.record_type
WHERE p.node IS NULL OR c.source IS NULL OR p.attribute_rows <> c.attribute_rows
"""
# The changed nodes; old ones keep their number, new ones continue the numbering.
NUMBER_CHANGED_SQL = """
CREATE OR REPLACE TEMP TABLE identity_nodes AS
SELECT coalesce(stored_node, (SELECT coalesce(max(node), -1) FROM identity.nodes)
                + row_number() OVER (PARTITION BY stored_node IS NULL ORDER BY source, record_type, record_id)
               )::BIGINT AS node,
       source, record_id, record_type, observed_at, attribute_rows
FROM identity_delta WHERE NOT gone
"""
ATTRIBUTES_SQL = """
SELECT n.node, a.attribute_kind, a.namespace, a.value
FROM staging.stg_identity_attributes AS a
JOIN identity_nodes AS n USING (source, record_id, record_type)
WHERE a.is_valid
"""
STATE_COLUMNS = {
    "run_id": "VARCHAR", "mode": "VARCHAR", "reason": "VARCHAR", "resolved_at": "TIMESTAMP",
    "last_full_at": "TIMESTAMP", "fingerprint": "VARCHAR", "model": "VARCHAR", "nodes": "BIGINT",
    "changed_nodes": "BIGINT", "rewritten_nodes": "BIGINT", "seconds": "DOUBLE",
}


GRAPH_FORMAT = 2  # bump when the stored tables change shape: older graphs are rebuilt in full


def fingerprint(config: IdentityConfig, salt: str) -> str:
    """Changes whenever the identity rules or the deployment salt do: the stored graph was built
    under other rules (or other hashed keys) and must be rebuilt. Run settings (incremental, the
    quality floor) do not count."""
    rules = {k: v for k, v in dataclasses.asdict(config).items() if k not in ("incremental", "quality_floor_f1")}
    text = json.dumps(rules, sort_keys=True, default=sorted)
    return hashlib.sha256(f"{GRAPH_FORMAT}\x00{text}\x00{salt}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class State:
    """The last run's state row."""

    mode: str
    resolved_at: datetime
    last_full_at: datetime
    fingerprint: str
    model: str | None
    nodes: int


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str, column: str | None = None) -> bool:
    """Whether the table (and, if given, its column) exists."""
    sql = "SELECT count(*) FROM information_schema.columns WHERE table_schema = ? AND table_name = ?"
    return bool(con.execute(sql + (" AND column_name = ?" if column else ""),
                            [schema, name, *([column] if column else [])]).fetchall()[0][0])


def last_state(con: duckdb.DuckDBPyConnection) -> State | None:
    if not all(table_exists(con, "identity", t) for t in ("state", "nodes", "node_keys", "resolved_records")):
        return None
    row = con.execute("SELECT mode, resolved_at, last_full_at, fingerprint, model, nodes FROM identity.state "
                      "ORDER BY resolved_at DESC LIMIT 1").fetchall()
    return State(*row[0]) if row else None


def full_rebuild_reason(con: duckdb.DuckDBPyConnection, config: IdentityConfig, salt: str,
                        now: datetime) -> str | None:
    """Why this run must resolve everything again, or None when it can link only what changed
    (then :data:`DELTA_SQL` has run)."""
    state = last_state(con)
    if state is None:
        return "no identity graph yet"
    if not config.incremental.enabled:
        return "incremental runs are switched off (config/identity.yaml: incremental.enabled)"
    if state.fingerprint != fingerprint(config, salt):
        return "identity config or salt changed since the graph was built"
    if now - state.last_full_at > timedelta(days=config.incremental.full_rebuild_days):
        return f"last full rebuild is older than {config.incremental.full_rebuild_days} days"
    con.execute(DELTA_SQL)
    gone, changed = con.execute("SELECT count(*) FILTER (WHERE gone), count(*) FILTER (WHERE NOT gone) "
                                "FROM identity_delta").fetchall()[0]
    if gone:
        return f"{gone} resolved nodes are no longer in staging"
    total = state.nodes + changed
    if total and changed / total > config.incremental.max_changed_share:
        return (f"{changed / total:.1%} of nodes changed, more than incremental.max_changed_share "
                f"({config.incremental.max_changed_share:.0%})")
    return None


def write_full(con: duckdb.DuckDBPyConnection, resolution: Resolution) -> None:
    """Replace the whole graph (call after :data:`NUMBER_ALL_SQL`)."""
    for name in ("resolved", "links", "history", "guarded", "keys"):
        con.register(f"_{name}", getattr(resolution, name))
    con.execute("CREATE SCHEMA IF NOT EXISTS identity")
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("CREATE OR REPLACE TABLE identity.resolved_records AS SELECT * FROM _resolved")
        con.execute("CREATE OR REPLACE TABLE identity.links AS SELECT * FROM _links")
        con.execute("CREATE OR REPLACE TABLE identity.guarded_values AS SELECT * FROM _guarded")
        con.execute("CREATE TABLE IF NOT EXISTS identity.history AS SELECT * FROM _history LIMIT 0")
        con.execute("INSERT INTO identity.history SELECT * FROM _history")
        con.execute("""CREATE OR REPLACE TABLE identity.nodes AS
                       SELECT n.node, n.source, n.record_id, n.record_type, n.attribute_rows, r.unified_id
                       FROM identity_nodes AS n LEFT JOIN _resolved AS r USING (source, record_id, record_type)""")
        con.execute("""CREATE OR REPLACE TABLE identity.node_keys AS
                       SELECT k.node, n.source, n.record_id, n.record_type, k.attribute_kind, k.namespace, k.kind_ns,
                              k.key
                       FROM _keys AS k JOIN identity_nodes AS n USING (node)""")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def write_increment(con: duckdb.DuckDBPyConnection, resolution: Resolution, units: pl.DataFrame) -> None:
    """Write what an increment changed (call after :data:`NUMBER_CHANGED_SQL`).

    ``resolution.resolved``: the rows of the changed nodes; ``resolution.keys``: their keys;
    ``units``: stored people joined this run (incremental.UNIT_UPDATE_SCHEMA) — their records take
    the new id and size in place, and their links follow the id."""
    con.register("_resolved", resolution.resolved)
    con.register("_keys", resolution.keys)
    con.register("_units", units)
    con.register("_links", resolution.links)
    con.register("_guarded", resolution.guarded)
    con.register("_history", resolution.history)
    changed = "SELECT (source, record_id, record_type) FROM identity_nodes"
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM identity.resolved_records WHERE (source, record_id, record_type) IN ({changed})")
        con.execute("""UPDATE identity.resolved_records AS r
                       SET unified_id = u.unified_id, id_created_at = u.id_created_at,
                           method = coalesce(u.method, r.method),
                           rule = CASE WHEN u.method IS NULL THEN r.rule ELSE u.rule END,
                           confidence = coalesce(u.confidence, r.confidence), resolved_at = $now
                       FROM _units AS u WHERE r.unified_id = u.old_id""",
                    {"now": resolution.resolved.get_column("resolved_at").max()})
        con.execute("INSERT INTO identity.resolved_records BY NAME SELECT * FROM _resolved")
        con.execute("DELETE FROM identity.nodes WHERE node IN (SELECT node FROM identity_nodes)")
        con.execute("UPDATE identity.nodes AS n SET unified_id = u.unified_id FROM _units AS u "
                    "WHERE n.unified_id = u.old_id AND u.old_id <> u.unified_id")
        con.execute("""INSERT INTO identity.nodes
                       SELECT c.node, c.source, c.record_id, c.record_type, c.attribute_rows, r.unified_id
                       FROM identity_nodes AS c LEFT JOIN _resolved AS r USING (source, record_id, record_type)""")
        con.execute("DELETE FROM identity.node_keys WHERE node IN (SELECT node FROM identity_nodes)")
        con.execute("""INSERT INTO identity.node_keys
                       SELECT k.node, n.source, n.record_id, n.record_type, k.attribute_kind, k.namespace, k.kind_ns,
                              k.key
                       FROM _keys AS k JOIN identity_nodes AS n USING (node)""")
        con.execute("UPDATE identity.links AS l SET unified_id = u.unified_id FROM _units AS u "
                    "WHERE l.unified_id = u.old_id AND u.old_id <> u.unified_id")
        con.execute("INSERT INTO identity.links BY NAME SELECT * FROM _links")
        con.execute("INSERT INTO identity.guarded_values BY NAME SELECT * FROM _guarded "
                    "EXCEPT SELECT * FROM identity.guarded_values")
        con.execute("INSERT INTO identity.history BY NAME SELECT * FROM _history")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def record_state(con: duckdb.DuckDBPyConnection, *, run_id: str, mode: str, reason: str | None,
                 resolved_at: datetime, model: str | None, config: IdentityConfig, salt: str,
                 changed_nodes: int, rewritten_nodes: int, seconds: float) -> None:
    columns = ", ".join(f"{name} {kind}" for name, kind in STATE_COLUMNS.items())
    con.execute(f"CREATE TABLE IF NOT EXISTS identity.state ({columns})")
    previous = last_state(con)
    last_full_at = resolved_at if mode == "full" or previous is None else previous.last_full_at
    nodes = con.execute("SELECT count(*) FROM identity.nodes").fetchall()[0][0]
    con.execute("INSERT INTO identity.state VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, mode, reason, resolved_at, last_full_at, fingerprint(config, salt), model, nodes,
                 changed_nodes, rewritten_nodes, round(seconds, 2)])
