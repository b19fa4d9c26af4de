"""The identity graph's state in DuckDB, kept so that a daily run can link only what changed.

Besides the published tables (``resolved_records``, ``links``, ``history``, ``guarded_values``)
the identity schema keeps:

* ``nodes``: every record and event actor resolved so far, with a permanent integer ``node``
  (``resolved_records`` carries it too, with the node's current ``unified_id``);
* ``node_keys``: each node's normalised identifier keys (hashed kinds stay hashed), so a new record
  finds the people already holding its identifiers without normalising the whole graph again; a
  ``key_id`` (:data:`KEY_ID_SQL`) lets those lookups join integers instead of strings;
* ``state``: one row per run — full or incremental, the load watermark (staging's ``loaded_at`` up
  to which everything is linked), the fitted match model and a fingerprint of the identity config
  and salt (a change forces a full rebuild).

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

# Full run: every record and event actor staging holds, numbered (the engine works on integers).
CURRENT_NODES_SQL = """
CREATE OR REPLACE TEMP TABLE identity_current AS
SELECT source, record_id, 'record' AS record_type, observed_at FROM staging.stg_identity_records
UNION ALL
SELECT source, record_id, record_type, min(observed_at) AS observed_at
FROM staging.stg_identity_attributes WHERE record_type = 'actor' AND is_valid GROUP BY ALL
"""
NUMBER_ALL_SQL = """
CREATE OR REPLACE TEMP TABLE identity_nodes AS
SELECT (row_number() OVER (ORDER BY source, record_type, record_id) - 1)::BIGINT AS node, *
FROM identity_current
"""
# What was loaded up to now: the next incremental run links what arrives after it.
WATERMARK_SQL = """
SELECT max(loaded_at) FROM (
    SELECT max(loaded_at) AS loaded_at FROM staging.stg_identity_records
    UNION ALL SELECT max(loaded_at) FROM staging.stg_identity_attributes WHERE is_valid)
"""
# Incremental run: the records loaded since the last run, and the actors that gained an identifier
# since (every distinct attribute value keeps when it was first loaded), with their stored number.
# An actor's observed_at is the earliest of its attribute rows (load_changed reads them).
DELTA_SQL = """
CREATE OR REPLACE TEMP TABLE identity_delta AS
WITH changed AS (
    SELECT source, record_id, 'record' AS record_type FROM staging.stg_identity_records WHERE loaded_at > $watermark
    UNION
    SELECT source, record_id, record_type FROM staging.stg_identity_attributes WHERE is_valid AND loaded_at > $watermark
)
SELECT c.source, c.record_id, c.record_type, r.observed_at, p.node AS stored_node
FROM changed AS c
LEFT JOIN staging.stg_identity_records AS r
  ON c.record_type = 'record' AND r.source = c.source AND r.record_id = c.record_id
LEFT JOIN identity.nodes AS p ON p.source = c.source AND p.record_id = c.record_id AND p.record_type = c.record_type
"""
# The changed nodes; old ones keep their number (stored), new ones continue the numbering.
NUMBER_CHANGED_SQL = """
CREATE OR REPLACE TEMP TABLE identity_nodes AS
SELECT coalesce(stored_node, (SELECT coalesce(max(node), -1) FROM identity.nodes)
                + row_number() OVER (PARTITION BY stored_node IS NULL ORDER BY source, record_type, record_id)
               )::BIGINT AS node,
       source, record_id, record_type, observed_at, stored_node IS NOT NULL AS stored
FROM identity_delta
"""
# Records staging holds that the stored graph does not know, nor links in this run (none, unless
# staging lost or regained records outside ingestion).
UNACCOUNTED_SQL = """
SELECT (SELECT count(*) FROM staging.stg_identity_records)
     - (SELECT count(*) FROM identity.nodes WHERE record_type = 'record')
     - (SELECT count(*) FROM identity_delta WHERE record_type = 'record' AND stored_node IS NULL)
"""
ATTRIBUTES_SQL = """
SELECT n.node, a.attribute_kind, a.namespace, a.value
FROM staging.stg_identity_attributes AS a
JOIN identity_nodes AS n USING (source, record_id, record_type)
WHERE a.is_valid
"""
# The same for an increment, with each row's time: the rows loaded since the watermark, and the
# older rows of the changed nodes the graph already held — only those can have older rows, since
# a record's attributes load with the record, and an actor with a valid attribute is a node. Apart,
# so that each side's filter runs before its join (one join over every staged row costs more).
CHANGED_ATTRIBUTES_SQL = """
SELECT n.node, a.attribute_kind, a.namespace, a.value, a.observed_at
FROM staging.stg_identity_attributes AS a JOIN identity_nodes AS n USING (source, record_id, record_type)
WHERE a.is_valid AND a.loaded_at > $watermark
UNION ALL
SELECT n.node, a.attribute_kind, a.namespace, a.value, a.observed_at
FROM staging.stg_identity_attributes AS a
JOIN (SELECT * FROM identity_nodes WHERE stored) AS n USING (source, record_id, record_type)
WHERE a.is_valid AND a.loaded_at <= $watermark
"""
STATE_COLUMNS = {
    "run_id": "VARCHAR", "mode": "VARCHAR", "reason": "VARCHAR", "resolved_at": "TIMESTAMP",
    "last_full_at": "TIMESTAMP", "fingerprint": "VARCHAR", "model": "VARCHAR", "nodes": "BIGINT",
    "changed_nodes": "BIGINT", "rewritten_nodes": "BIGINT", "seconds": "DOUBLE", "watermark": "TIMESTAMP",
    "users": "BIGINT",
}


GRAPH_FORMAT = 6  # bump when the stored tables change shape: older graphs are rebuilt in full
# A key's integer id: lookups in the 4 M-row node_keys join on it, then compare the strings of the
# few rows found. DuckDB's hash is not promised to stay the same across versions, so the DuckDB
# version is part of the graph's fingerprint.
KEY_ID_SQL = "hash(k.attribute_kind, k.key)"


def fingerprint(config: IdentityConfig, salt: str) -> str:
    """Changes whenever the identity rules or the deployment salt do: the stored graph was built
    under other rules (or other hashed keys) and must be rebuilt; so does a DuckDB upgrade (key ids,
    :data:`KEY_ID_SQL`). Run settings (incremental, the quality floor) do not count."""
    rules = {k: v for k, v in dataclasses.asdict(config).items() if k not in ("incremental", "quality_floor_f1")}
    text = json.dumps(rules, sort_keys=True, default=sorted)
    return hashlib.sha256(f"{GRAPH_FORMAT}\x00{duckdb.__version__}\x00{text}\x00{salt}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class State:
    """The last run's state row."""

    mode: str
    resolved_at: datetime
    last_full_at: datetime
    fingerprint: str
    model: str | None
    nodes: int
    watermark: datetime | None
    users: int  # unified ids in the graph: the denominator of name frequencies in the next increment


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str, column: str | None = None) -> bool:
    """Whether the table (and, if given, its column) exists."""
    sql = "SELECT count(*) FROM information_schema.columns WHERE table_schema = ? AND table_name = ?"
    return bool(con.execute(sql + (" AND column_name = ?" if column else ""),
                            [schema, name, *([column] if column else [])]).fetchall()[0][0])


def last_state(con: duckdb.DuckDBPyConnection) -> State | None:
    found = {(t, c) for t, c in con.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'identity' AND "
        "table_name IN ('nodes', 'node_keys', 'resolved_records', 'state')").fetchall()}
    tables = {"nodes", "node_keys", "resolved_records", "state"}
    if {t for t, _ in found} != tables or ("state", "users") not in found:
        return None
    row = con.execute("SELECT mode, resolved_at, last_full_at, fingerprint, model, nodes, watermark, users "
                      "FROM identity.state ORDER BY resolved_at DESC LIMIT 1").fetchall()
    return State(*row[0]) if row else None


def load_all(con: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Number every node staging holds and read (nodes, attributes) as the engine takes them."""
    con.execute(CURRENT_NODES_SQL)
    con.execute(NUMBER_ALL_SQL)
    return (con.sql("SELECT node, source, record_id, record_type, observed_at FROM identity_nodes").pl(),
            con.sql(ATTRIBUTES_SQL).pl())


def load_changed(con: duckdb.DuckDBPyConnection, watermark: datetime) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Number the changed nodes (call after :func:`full_rebuild_reason` returned None) and read
    (nodes, attributes) as the increment takes them; an actor is first seen at its earliest row."""
    con.execute(NUMBER_CHANGED_SQL)
    attributes = con.sql(CHANGED_ATTRIBUTES_SQL, params={"watermark": watermark}).pl()
    first_seen = attributes.group_by("node").agg(pl.col("observed_at").min().alias("first_seen"))
    nodes = (con.sql("SELECT node, source, record_id, record_type, observed_at FROM identity_nodes").pl()
             .join(first_seen, on="node", how="left")
             .with_columns(observed_at=pl.when(pl.col("record_type") == "record").then(pl.col("observed_at"))
                           .otherwise(pl.col("first_seen")))
             .drop("first_seen"))
    return nodes, attributes.drop("observed_at")


def full_rebuild_reason(con: duckdb.DuckDBPyConnection, state: State | None, config: IdentityConfig, salt: str,
                        now: datetime) -> str | None:
    """Why this run must resolve everything again, or None when it can link only what was loaded
    since the last run (then :data:`DELTA_SQL` has run). ``state``: :func:`last_state`."""
    if state is None:
        return "no identity graph yet (or one stored by an older version)"
    if not config.incremental.enabled:
        return "incremental runs are switched off (config/identity.yaml: incremental.enabled)"
    if state.fingerprint != fingerprint(config, salt):
        return "identity config, salt or DuckDB version changed since the graph was built"
    if now - state.last_full_at > timedelta(days=config.incremental.full_rebuild_days):
        return f"last full rebuild is older than {config.incremental.full_rebuild_days} days"
    if state.watermark is None:
        return "the stored graph has no load watermark"
    con.execute(DELTA_SQL, {"watermark": state.watermark})
    unaccounted = con.execute(UNACCOUNTED_SQL).fetchall()[0][0]
    if unaccounted:
        return f"{abs(unaccounted)} records {'appeared in' if unaccounted > 0 else 'disappeared from'} staging " \
               "outside ingestion"
    changed = con.execute("SELECT count(*) FROM identity_delta").fetchall()[0][0]
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
        con.execute("CREATE OR REPLACE TABLE identity.nodes AS "
                    "SELECT node, source, record_id, record_type FROM identity_nodes")
        con.execute(f"""CREATE OR REPLACE TABLE identity.node_keys AS
                       SELECT k.node, n.source, n.record_id, n.record_type, k.attribute_kind, k.namespace, k.kind_ns,
                              k.key, {KEY_ID_SQL} AS key_id
                       FROM _keys AS k JOIN identity_nodes AS n USING (node)""")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def write_increment(con: duckdb.DuckDBPyConnection, resolution: Resolution, units: pl.DataFrame) -> None:
    """Write what an increment changed (call after :data:`NUMBER_CHANGED_SQL`).

    ``resolution.resolved``: the rows of the changed nodes; ``resolution.keys``: their keys;
    ``units``: stored people joined this run (incremental.UNIT_UPDATE_SCHEMA) — their records take
    the new id (and, for people alone until now, how they are linked), and their links follow the id.
    Their records are found in ``identity_unit_nodes`` (node, unified_id), which the run filled while
    reading them."""
    con.register("_resolved", resolution.resolved)
    con.register("_keys", resolution.keys)
    con.register("_units", units)
    con.register("_links", resolution.links)
    con.register("_guarded", resolution.guarded)
    con.register("_history", resolution.history)
    now = resolution.resolved.get_column("resolved_at").max()
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM identity.resolved_records WHERE node IN (SELECT node FROM identity_nodes)")
        _rewrite(con, "resolved_records", "u.unified_id AS unified_id, u.id_created_at AS id_created_at, "
                 "coalesce(u.method, t.method) AS method, "
                 "CASE WHEN u.method IS NULL THEN t.rule ELSE u.rule END AS rule, "
                 "coalesce(u.confidence, t.confidence) AS confidence, $now::TIMESTAMP AS resolved_at",
                 "true", by_node=True, params={"now": now})
        con.execute("INSERT INTO identity.resolved_records BY NAME SELECT * FROM _resolved")
        con.execute("INSERT INTO identity.nodes SELECT node, source, record_id, record_type FROM identity_nodes "
                    "WHERE NOT stored")
        con.execute("DELETE FROM identity.node_keys WHERE node IN (SELECT node FROM identity_nodes)")
        con.execute(f"""INSERT INTO identity.node_keys
                        SELECT k.node, n.source, n.record_id, n.record_type, k.attribute_kind, k.namespace,
                               k.kind_ns, k.key, {KEY_ID_SQL} AS key_id
                        FROM _keys AS k JOIN identity_nodes AS n USING (node)""")
        _rewrite(con, "links", "u.unified_id AS unified_id", "u.old_id <> u.unified_id")
        con.execute("INSERT INTO identity.links BY NAME SELECT * FROM _links")
        con.execute("INSERT INTO identity.guarded_values BY NAME SELECT * FROM _guarded "
                    "EXCEPT SELECT * FROM identity.guarded_values")
        con.execute("INSERT INTO identity.history BY NAME SELECT * FROM _history")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _rewrite(con: duckdb.DuckDBPyConnection, table: str, replace: str, which: str, by_node: bool = False,
             params: dict | None = None) -> None:
    """Give the rows of the stored people in ``_units`` (those matching ``which``) new values;
    ``by_node``: find their rows by node number, from the people's nodes the run read
    (``identity_unit_nodes``), instead of comparing every stored unified id.

    Deleted and appended rather than updated: DuckDB rewrites every row group an UPDATE touches
    when it checkpoints, and a few thousand people are spread over all of them."""
    people = f"SELECT * FROM _units AS u WHERE {which}"
    if by_node:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _moving AS SELECT p.node, u.* FROM identity_unit_nodes AS p
                        JOIN ({people}) AS u ON p.unified_id = u.old_id""")
        on, column, key = "t.node = u.node", "node", "node"
    else:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _moving AS {people}")
        on, column, key = "t.unified_id = u.old_id", "unified_id", "old_id"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _rewritten AS
                    SELECT t.* REPLACE ({replace}) FROM identity.{table} AS t JOIN _moving AS u ON {on}""", params)
    con.execute(f"DELETE FROM identity.{table} WHERE {column} IN (SELECT {key} FROM _moving)")
    con.execute(f"INSERT INTO identity.{table} SELECT * FROM _rewritten")


def record_state(con: duckdb.DuckDBPyConnection, previous: State | None, *, run_id: str, mode: str,
                 reason: str | None, resolved_at: datetime, model: str | None, config: IdentityConfig, salt: str,
                 changed_nodes: int, rewritten_nodes: int, seconds: float, watermark: datetime | None,
                 users: int) -> None:
    """Append this run's state row; ``previous``: the state the run started from."""
    columns = ", ".join(f"{name} {kind}" for name, kind in STATE_COLUMNS.items())
    con.execute(f"CREATE TABLE IF NOT EXISTS identity.state ({columns})")
    for name, kind in STATE_COLUMNS.items():
        con.execute(f"ALTER TABLE identity.state ADD COLUMN IF NOT EXISTS {name} {kind}")
    last_full_at = resolved_at if mode == "full" or previous is None else previous.last_full_at
    nodes = con.execute("SELECT count(*) FROM identity.nodes").fetchall()[0][0]
    values = {"run_id": run_id, "mode": mode, "reason": reason, "resolved_at": resolved_at,
              "last_full_at": last_full_at, "fingerprint": fingerprint(config, salt), "model": model, "nodes": nodes,
              "changed_nodes": changed_nodes, "rewritten_nodes": rewritten_nodes, "seconds": round(seconds, 2),
              "watermark": watermark, "users": users}
    con.execute(f"INSERT INTO identity.state BY NAME SELECT {', '.join(f'${k} AS {k}' for k in values)}", values)
