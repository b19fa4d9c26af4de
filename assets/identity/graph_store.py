"""The identity graph's state in DuckDB, kept so that a daily run can link only what changed.

Besides the published tables (``resolved_records``, ``links``, ``history``, ``guarded_values``)
the identity schema keeps:

* ``nodes``: every record and event actor resolved so far, with a permanent integer ``node``
  (``resolved_records`` carries it too, with the node's current ``unified_id``);
* ``node_keys``: each node's normalised identifier keys (hashed kinds stay hashed), so a new record
  finds the people already holding its identifiers without normalising the whole graph again; a
  ``key_id`` and ``key_check`` (:data:`KEY_ID_SQL`) let those lookups join integers instead of strings;
* ``match_candidates``: the scored candidate pairs of the last full run kept for review and the
  threshold figures (:mod:`assets.identity.review`);
* ``threshold_curve``: precision / recall / F1 over the match threshold, against ground truth when
  the deployment has one (written by the identity asset, which alone reads the truth);
* ``state``: one row per run — full or incremental, the load watermark (staging's ``loaded_at`` up
  to which everything is linked), the fitted match model and a fingerprint of the identity config
  and salt (a change forces a full rebuild).

Every table carrying person keys has ``source`` and ``record_id`` columns, so ``cdp forget`` finds
and deletes them like any other identity table. Table names come from a
:class:`~assets.identity.store.Tables`; the SQL (:mod:`assets.identity.graph_sql`) names them by
its field names in braces. The working sets of one run live in temp tables of the connection
(``identity_nodes``: the nodes being resolved; ``identity_delta``: what changed;
``identity_unit_nodes``: the stored people's records an increment read, which
:meth:`DuckDBGraphStore.write_increment` rewrites).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import duckdb
import polars as pl

from assets.common.sql import arrow_of
from assets.identity.graph_lookups import DuckDBLookups, sql_list
from assets.identity.graph_sql import (
    ATTRIBUTES_SQL,
    CHANGED_ATTRIBUTES_SQL,
    CURRENT_NODES_SQL,
    DELTA_SQL,
    NODE_KEYS_SQL,
    NUMBER_ALL_SQL,
    NUMBER_CHANGED_SQL,
    PREVIOUS_SQL,
    UNACCOUNTED_SQL,
    WATERMARK_SQL,
)
from assets.identity.results import Increment, Resolution
from assets.identity.store import Changes, RunRecord, State, Tables

GRAPH_FORMAT = 8  # bump when the stored tables change shape: older graphs are rebuilt in full

STATE_COLUMNS = {
    "run_id": "VARCHAR",
    "mode": "VARCHAR",
    "reason": "VARCHAR",
    "resolved_at": "TIMESTAMP",
    "last_full_at": "TIMESTAMP",
    "fingerprint": "VARCHAR",
    "model": "VARCHAR",
    "nodes": "BIGINT",
    "changed_nodes": "BIGINT",
    "rewritten_nodes": "BIGINT",
    "seconds": "DOUBLE",
    "watermark": "TIMESTAMP",
    "users": "BIGINT",
}


class DuckDBGraphStore:
    """The graph in a DuckDB warehouse, next to the staging tables it is resolved from."""

    def __init__(self, con: duckdb.DuckDBPyConnection, tables: Tables = Tables()) -> None:
        self.con = con
        self.tables = tables
        self.names = tables.qualified()
        # DuckDB's hash (KEY_ID_SQL) is not promised to stay the same across versions
        self.version = f"{GRAPH_FORMAT}\x00{duckdb.__version__}"
        self._delta_since: datetime | None = None
        self._node_kinds = "NULL"  # the node kinds of the last load_changed, as an SQL list

    def sql(self, template: str) -> str:
        return template.format(**self.names)

    def _scalar(self, template: str, params: dict | None = None):
        return self.con.execute(self.sql(template), params).fetchall()[0][0]

    def watermark(self) -> datetime | None:
        return self._scalar(WATERMARK_SQL)

    def last_state(self) -> State | None:
        tables = {self.tables.nodes, self.tables.node_keys, self.tables.resolved, self.tables.state}
        found = {
            (t, c)
            for t, c in self.con.execute(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = ? AND "
                "list_contains(?, table_name)",
                [self.tables.schema, sorted(tables)],
            ).fetchall()
        }
        if {t for t, _ in found} != tables or (self.tables.state, "users") not in found:
            return None
        row = self.con.execute(
            self.sql(
                "SELECT mode, resolved_at, last_full_at, fingerprint, model, nodes, "
                "watermark, users FROM {state} ORDER BY resolved_at DESC LIMIT 1"
            )
        ).fetchall()
        return State(*row[0]) if row else None

    def load_nodes(self) -> pl.DataFrame:
        self.con.execute(self.sql(CURRENT_NODES_SQL))
        self.con.execute(NUMBER_ALL_SQL)
        return self.con.sql(
            "SELECT node, source, record_id, record_type, observed_at FROM identity_nodes"
        ).pl()

    def attributes_by_kind(self, kinds: list[str]) -> Iterator[pl.DataFrame]:
        """The attributes of :meth:`load_nodes`' nodes, one frame per kind: DuckDB keeps them
        (spilling to disk past its memory limit) while each kind is normalised in turn."""
        self.con.execute(self.sql(ATTRIBUTES_SQL))
        try:
            for kind in kinds:
                yield self.con.sql(
                    "SELECT * FROM identity_attributes WHERE attribute_kind = $kind", params={"kind": kind}
                ).pl()
        finally:
            self.con.execute("DROP TABLE IF EXISTS identity_attributes")

    def previous_ids(self) -> pl.DataFrame | None:
        if not self._has_column(self.tables.resolved, "id_created_at"):
            return None
        return self.con.sql(self.sql(PREVIOUS_SQL)).pl()

    def _has_column(self, table: str, column: str) -> bool:
        return bool(
            self.con.execute(
                "SELECT count(*) FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
                "AND column_name = ?",
                [self.tables.schema, table, column],
            ).fetchall()[0][0]
        )

    def changes_since(self, watermark: datetime) -> Changes:
        self._delta(watermark)
        return Changes(
            changed=self._scalar("SELECT count(*) FROM identity_delta"),
            unaccounted=self._scalar(UNACCOUNTED_SQL),
        )

    def _delta(self, watermark: datetime) -> None:
        """Find what changed since ``watermark`` (once per watermark)."""
        if self._delta_since != watermark:
            self.con.execute(self.sql(DELTA_SQL), {"watermark": watermark})
            self._delta_since = watermark

    def load_changed(self, watermark: datetime, node_kinds: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Also: an actor is first seen at its earliest attribute row, or when the stored graph
        says (a settled actor's older rows are not all read)."""
        self._delta(watermark)
        self._node_kinds = sql_list(node_kinds)
        self.con.execute(self.sql(NUMBER_CHANGED_SQL))
        attributes = self.con.sql(
            self.sql(CHANGED_ATTRIBUTES_SQL.replace("{node_kinds}", self._node_kinds)),
            params={"watermark": watermark},
        ).pl()
        first_seen = attributes.group_by("node").agg(pl.col("observed_at").min().alias("first_seen"))
        nodes = (
            self.con.sql(
                "SELECT node, source, record_id, record_type, observed_at, seen_before FROM identity_nodes"
            )
            .pl()
            .join(first_seen, on="node", how="left")
            .with_columns(
                observed_at=pl.when(pl.col("record_type") == "record")
                .then(pl.col("observed_at"))
                .otherwise(pl.min_horizontal("first_seen", "seen_before"))
            )
            .drop("first_seen", "seen_before")
        )
        return nodes, attributes.drop("observed_at")

    def resolved_records(self) -> pl.DataFrame:
        """The published resolution as stored now (after an increment: every node's row)."""
        return self.con.sql(self.sql("SELECT * FROM {resolved}")).pl()

    def candidates(self) -> pl.DataFrame:
        """The scored candidate pairs the last full run kept (results.CANDIDATES_SCHEMA)."""
        return self.con.sql(self.sql("SELECT * FROM {candidates}")).pl()

    def write_threshold_curve(self, curve: pl.DataFrame) -> None:
        """Replace the precision / recall curve over the threshold (empty without ground truth)."""
        self.con.register("_curve", curve)
        self.con.execute(self.sql("CREATE OR REPLACE TABLE {curve} AS SELECT * FROM _curve"))

    def row_counts(self) -> dict[str, int]:
        """Rows of the published tables other than the resolution, by field name of :class:`Tables`."""
        return {
            name: self._scalar(f"SELECT count(*) FROM {{{name}}}") for name in ("history", "links", "guarded")
        }

    def lookups(self, changed: pl.DataFrame, summary_kinds: list[str]) -> DuckDBLookups:
        return DuckDBLookups(self.con, self.names, changed, summary_kinds, self._node_kinds)

    def write_full(self, resolution: Resolution) -> None:
        for name in ("resolved", "links", "history", "guarded", "keys", "candidates"):
            self.con.register(f"_{name}", arrow_of(getattr(resolution, name)))
        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {self.tables.schema}")
        self._delta_since = None
        self._transaction(
            [
                "CREATE OR REPLACE TABLE {resolved} AS SELECT * FROM _resolved",
                "CREATE OR REPLACE TABLE {links} AS SELECT * FROM _links",
                "CREATE OR REPLACE TABLE {guarded} AS SELECT * FROM _guarded",
                "CREATE OR REPLACE TABLE {candidates} AS SELECT * FROM _candidates",
                "CREATE TABLE IF NOT EXISTS {curve} "
                "(threshold DOUBLE, accepted_pairs BIGINT, true_pairs BIGINT, "
                "precision DOUBLE, recall DOUBLE, f1 DOUBLE)",
                "CREATE TABLE IF NOT EXISTS {history} AS SELECT * FROM _history LIMIT 0",
                "INSERT INTO {history} SELECT * FROM _history",
                "CREATE OR REPLACE TABLE {nodes} AS "
                "SELECT node, source, record_id, record_type FROM identity_nodes",
                "CREATE OR REPLACE TABLE {node_keys} AS " + NODE_KEYS_SQL,
            ]
        )

    def write_increment(self, increment: Increment) -> None:
        """The changed nodes' rows and keys replace theirs; the stored people joined this run
        (``increment.units``) take the new id (and, for people alone until now, how they are
        linked) on every record — found in ``identity_unit_nodes``, which the lookups filled — and
        their links follow the id."""
        resolution = increment.resolution
        for name in ("resolved", "links", "history", "guarded", "keys"):
            self.con.register(f"_{name}", arrow_of(getattr(resolution, name)))
        self.con.register("_units", increment.units)
        now = resolution.resolved.get_column("resolved_at").max()
        self._delta_since = None  # the graph the delta was found against is about to change
        steps = [
            "DELETE FROM {resolved} WHERE node IN (SELECT node FROM identity_nodes)",
            *self._rewrite(
                "resolved",
                "u.unified_id AS unified_id, u.id_created_at AS id_created_at, "
                "coalesce(u.method, t.method) AS method, "
                "CASE WHEN u.method IS NULL THEN t.rule ELSE u.rule END AS rule, "
                "coalesce(u.confidence, t.confidence) AS confidence, $now::TIMESTAMP AS resolved_at",
                "true",
                by_node=True,
            ),
            "INSERT INTO {resolved} BY NAME SELECT * FROM _resolved",
            "INSERT INTO {nodes} "
            "SELECT node, source, record_id, record_type FROM identity_nodes WHERE NOT stored",
            # a settled actor keeps its stored keys of the kinds it did not bring back
            "DELETE FROM {node_keys} WHERE node IN (SELECT node FROM identity_nodes WHERE NOT settled) "
            "OR (node IN (SELECT node FROM identity_nodes WHERE settled) "
            f"AND attribute_kind IN ({self._node_kinds}))",
            "INSERT INTO {node_keys} SELECT k.* FROM (" + NODE_KEYS_SQL + ") AS k ANTI JOIN "
            "(SELECT node, namespace, key_id, key_check FROM {node_keys} "
            "WHERE node IN (SELECT node FROM identity_nodes WHERE settled)) AS o "
            "ON k.node = o.node AND k.key_id = o.key_id AND k.key_check = o.key_check "
            "AND k.namespace IS NOT DISTINCT FROM o.namespace",
            *self._rewrite("links", "u.unified_id AS unified_id", "u.old_id <> u.unified_id"),
            "INSERT INTO {links} BY NAME SELECT * FROM _links",
            "INSERT INTO {guarded} BY NAME SELECT * FROM _guarded EXCEPT SELECT * FROM {guarded}",
            "INSERT INTO {history} BY NAME SELECT * FROM _history",
        ]
        self._transaction(steps, {"now": now})

    def _transaction(self, statements: list[str], params: dict | None = None) -> None:
        """Run the statements (templates) all or nothing; ``params`` go to those that use them."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            for statement in statements:
                sql = self.sql(statement)
                self.con.execute(sql, params if params and "$" in sql else None)
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    @staticmethod
    def _rewrite(table: str, replace: str, which: str, by_node: bool = False) -> list[str]:
        """Statements giving the rows of the stored people in ``_units`` (those matching ``which``)
        new values; ``by_node``: find their rows by node number, from the people's nodes the run
        read (``identity_unit_nodes``), instead of comparing every stored unified id.

        Deleted and appended rather than updated: DuckDB rewrites every row group an UPDATE touches
        when it checkpoints, and a few thousand people are spread over all of them."""
        people = f"SELECT * FROM _units AS u WHERE {which}"
        if by_node:
            moving = f"""SELECT p.node, u.* FROM identity_unit_nodes AS p
                         JOIN ({people}) AS u ON p.unified_id = u.old_id"""
            on, column, key = "t.node = u.node", "node", "node"
        else:
            moving, on, column, key = people, "t.unified_id = u.old_id", "unified_id", "old_id"
        return [
            f"CREATE OR REPLACE TEMP TABLE _moving AS {moving}",
            f"CREATE OR REPLACE TEMP TABLE _rewritten AS SELECT t.* REPLACE ({replace}) "
            f"FROM {{{table}}} AS t JOIN _moving AS u ON {on}",
            f"DELETE FROM {{{table}}} WHERE {column} IN (SELECT {key} FROM _moving)",
            f"INSERT INTO {{{table}}} SELECT * FROM _rewritten",
        ]

    def record_state(self, run: RunRecord) -> None:
        columns = ", ".join(f"{name} {kind}" for name, kind in STATE_COLUMNS.items())
        self.con.execute(self.sql(f"CREATE TABLE IF NOT EXISTS {{state}} ({columns})"))
        for name, kind in STATE_COLUMNS.items():
            self.con.execute(self.sql(f"ALTER TABLE {{state}} ADD COLUMN IF NOT EXISTS {name} {kind}"))
        values = {
            "run_id": run.run_id,
            "mode": run.mode,
            "reason": run.reason,
            "resolved_at": run.resolved_at,
            "last_full_at": run.last_full_at,
            "fingerprint": run.fingerprint,
            "model": run.model,
            "nodes": self._scalar("SELECT count(*) FROM {nodes}"),
            "changed_nodes": run.changed_nodes,
            "rewritten_nodes": run.rewritten_nodes,
            "seconds": round(run.seconds, 2),
            "watermark": run.watermark,
            "users": run.users,
        }
        self.con.execute(
            self.sql(f"INSERT INTO {{state}} BY NAME SELECT {', '.join(f'${k} AS {k}' for k in values)}"),
            values,
        )
