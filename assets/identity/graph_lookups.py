"""An incremental run's reads of the stored graph in DuckDB (the :class:`~assets.identity.store.GraphLookups`
of :class:`~assets.identity.graph_store.DuckDBGraphStore`).

Set-based: the changed nodes are registered as ``_changed``; lookups by key go through
:meth:`DuckDBLookups.holding`, one scan of ``node_keys``'s integer key ids for a whole batch of
keys, and what each step needs is then joined in memory. What was read is kept, so that asking
again about the same keys or people costs nothing."""

from __future__ import annotations

import functools

import duckdb
import polars as pl

from assets.identity.store import PERSON_KEYS_SCHEMA, SUMMARY_SCHEMA

# A key's integer ids: lookups in the millions of node_keys rows join on them and never read the
# stored key strings (reading them costs more than the whole lookup). Two 64-bit hashes of
# different inputs, so that two keys are taken for one only if both collide (about 2^-128).
# DuckDB's hash is not promised to stay the same across versions, so the DuckDB version is part of
# the graph's fingerprint (DuckDBGraphStore.version).
KEY_ID_SQL = "hash(k.attribute_kind, k.key)"
KEY_CHECK_SQL = "hash(k.key || chr(31) || k.attribute_kind)"
# The wanted (attribute_kind, key) of a lookup (registered as _wanted), with their ids.
WANTED_SQL = f"""
    wanted AS MATERIALIZED (
        SELECT DISTINCT attribute_kind, key, {KEY_ID_SQL} AS key_id, {KEY_CHECK_SQL} AS key_check
        FROM _wanted AS k)"""
# The stored rows holding a wanted key (``h``), with the wanted key's strings (``w``).
HITS_SQL = """
    {node_keys} AS h JOIN wanted AS w
    ON h.key_id = w.key_id AND h.key_check = w.key_check AND h.attribute_kind = w.attribute_kind"""
# A stored node holding a key, with the person it belongs to.
HOLDING_SCHEMA = pl.Schema(
    {
        "node": pl.Int64(),
        "attribute_kind": pl.String(),
        "kind_ns": pl.String(),
        "key": pl.String(),
        "unified_id": pl.String(),
    }
)


def sql_list(values: list[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values) or "NULL"


class DuckDBLookups:
    """The lookups around one increment's changed nodes, keeping what they read."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        names: dict[str, str],
        changed: pl.DataFrame,
        summary_kinds: list[str],
        node_kinds: str,
    ) -> None:
        self.con = con
        self.node_kinds = node_kinds  # as an SQL list: the kinds settled actors brought back
        self.names = names
        self.changed = changed.select("node")
        con.register("_changed", self.changed)
        # every record of the stored people read (DuckDBGraphStore.write_increment finds their rows here)
        con.execute("CREATE OR REPLACE TEMP TABLE identity_unit_nodes (node BIGINT, unified_id VARCHAR)")
        self.summary_kinds = summary_kinds
        # the keys looked up so far, every stored node holding them, and how many people hold each
        self.looked_up = pl.DataFrame(schema={"attribute_kind": pl.String, "key": pl.String})
        self.seen = pl.DataFrame(schema=HOLDING_SCHEMA)
        self.people = pl.DataFrame(
            schema={"attribute_kind": pl.String, "key": pl.String, "people": pl.UInt32}
        )
        self.loaded = pl.Series(dtype=pl.String)  # the people read by units(), kept in:
        self.summaries = pl.DataFrame(schema=SUMMARY_SCHEMA)
        self.keys = pl.DataFrame(schema=PERSON_KEYS_SCHEMA)
        self.rows_per_key: dict[str, float] | None = None

    def _sql(self, template: str) -> str:
        return template.format(**self.names)

    def holding(self, wanted: pl.DataFrame) -> pl.DataFrame:
        """HOLDING_SCHEMA: every stored node holding one of ``wanted``'s (attribute_kind, key)."""
        wanted = wanted.select("attribute_kind", "key").unique()
        missing = wanted.join(self.looked_up, on=["attribute_kind", "key"], how="anti")
        if not missing.is_empty():
            self.con.register("_wanted", missing)
            found = (
                self.con.sql(
                    self._sql(f"""
                WITH {WANTED_SQL},
                hits AS MATERIALIZED (SELECT h.node, w.attribute_kind, h.kind_ns, w.key FROM {HITS_SQL})
                SELECT h.node, h.attribute_kind, h.kind_ns, h.key, r.unified_id FROM hits AS h
                LEFT JOIN {{resolved}} AS r ON r.node = h.node""")
                )
                .pl()
                .cast(HOLDING_SCHEMA)
            )
            self.looked_up = pl.concat([self.looked_up, missing], rechunk=True)
            self.seen = pl.concat([self.seen, found], rechunk=True)
            self.people = pl.concat(
                [
                    self.people,
                    found.group_by("attribute_kind", "key").agg(
                        pl.col("unified_id").drop_nulls().n_unique().alias("people")
                    ),
                ],
                rechunk=True,
            )
        return self.seen.join(wanted, on=["attribute_kind", "key"], how="semi")

    def holders(self, identifiers: pl.DataFrame, exclusive: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
        hits = (
            self.holding(identifiers)
            .join(identifiers.select("kind_ns", "key", "identifier"), on=["kind_ns", "key"])
            .join(self.changed, on="node", how="anti")
        )
        holders = (
            hits.filter(pl.col("unified_id").is_not_null())
            .group_by("unified_id", "identifier")
            .agg(pl.col("node").min())
        )
        self.con.register("_holding", hits.select("node").unique())
        values = self.con.sql(
            self._sql(f"""
            SELECT node, kind_ns, key FROM {{node_keys}}
            WHERE node IN (SELECT node FROM _holding) AND attribute_kind IN ({sql_list(exclusive)})""")
        ).pl()
        partners = (
            hits.select("node", "identifier", pl.col("kind_ns").alias("own"))
            .join(values, on="node")
            .filter(pl.col("kind_ns") != pl.col("own"))
            .select("identifier", "kind_ns", "key")
            .unique()
        )
        return holders, partners

    def previous(self) -> pl.DataFrame:
        return self.con.sql(
            self._sql("""
            SELECT node, unified_id, id_created_at, first_linked_run, observed_at FROM {resolved}
            WHERE node IN (SELECT node FROM _changed) AND unified_id IS NOT NULL""")
        ).pl()

    def stored_keys(self, kinds: list[str]) -> pl.DataFrame:
        return self.con.sql(
            self._sql(f"""
            SELECT node, attribute_kind, key FROM {{node_keys}}
            WHERE node IN (SELECT node FROM _changed) AND attribute_kind IN ({sql_list(kinds)})""")
        ).pl()

    def units(self, ids: pl.Series) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Their records other than the changed ones are counted and read once per person."""
        wanted = pl.DataFrame({"unified_id": ids.unique()}, schema={"unified_id": pl.String})
        missing = wanted.filter(~pl.col("unified_id").is_in(self.loaded.implode()))
        if not missing.is_empty():
            self.con.register("_units", missing)
            # every record of theirs in one scan; ``own``: not a changed node, or a settled actor's
            # stored keys this run did not bring back
            self.con.execute(
                self._sql("""
                CREATE OR REPLACE TEMP TABLE _person_nodes AS
                SELECT r.node, r.unified_id, r.id_created_at, r.observed_at, r.method, r.rule, r.confidence,
                       c.node IS NULL AS unchanged, coalesce(n.settled, false) AS settled
                FROM {resolved} AS r
                LEFT JOIN _changed AS c ON c.node = r.node
                LEFT JOIN identity_nodes AS n ON n.node = r.node
                WHERE r.unified_id IN (SELECT unified_id FROM _units)""")
            )
            self.con.execute(
                "INSERT INTO identity_unit_nodes SELECT node, unified_id FROM _person_nodes WHERE unchanged"
            )
            summary = self.con.sql("""
                SELECT unified_id, count(*) AS size, min(node) AS node, min(id_created_at) AS id_created_at,
                       min(observed_at) AS first_seen, any_value(method) AS method, any_value(rule) AS rule,
                       any_value(confidence) AS confidence
                FROM _person_nodes WHERE unchanged GROUP BY ALL""").pl()
            keys = self.con.sql(
                self._sql(f"""
                SELECT r.unified_id, k.attribute_kind, k.kind_ns, k.key, count(*) AS n
                FROM {{node_keys}} AS k
                JOIN (SELECT * FROM _person_nodes WHERE unchanged OR settled) AS r USING (node)
                WHERE k.attribute_kind IN ({sql_list(self.summary_kinds)})
                  AND (r.unchanged OR k.attribute_kind NOT IN ({self.node_kinds}))
                GROUP BY ALL""")
            ).pl()
            self.loaded = pl.concat([self.loaded, missing.get_column("unified_id")])
            self.summaries = pl.concat([self.summaries, summary.cast(SUMMARY_SCHEMA)])
            self.keys = pl.concat([self.keys, keys.cast(PERSON_KEYS_SCHEMA)])
        return (
            self.summaries.join(wanted, on="unified_id", how="semi"),
            self.keys.join(wanted, on="unified_id", how="semi"),
        )

    def block_partners(
        self, combos: dict[tuple[str, ...], pl.DataFrame]
    ) -> dict[tuple[str, ...], pl.DataFrame]:
        """The people holding a pass's anchor kind among the wanted combinations are found first;
        then only those people's rows holding a wanted key of the other kinds are read. The anchor
        is the kind whose wanted keys the fewest stored rows hold: a few thousand names rather than
        one of forty cities (each held by thousands), or than a hundred thousand store visits."""
        per_key = self._rows_per_key()
        anchors = {
            kinds: min(kinds, key=lambda k: wanted.get_column(k).n_unique() * per_key.get(k, 1.0))
            for kinds, wanted in combos.items()
        }
        keys = pl.concat(
            [
                wanted.select(pl.lit(kind).alias("attribute_kind"), pl.col(kind).alias("key"))
                for kinds, wanted in combos.items()
                for kind in kinds
            ]
        ).unique()
        anchor_keys = pl.concat(
            [
                wanted.select(
                    pl.lit(anchors[kinds]).alias("attribute_kind"), pl.col(anchors[kinds]).alias("key")
                )
                for kinds, wanted in combos.items()
            ]
        ).unique()
        anchored = (
            self.holding(anchor_keys)
            .filter(pl.col("unified_id").is_not_null())
            .join(self.changed, on="node", how="anti")
        )
        held = pl.concat(
            [
                anchored.select("unified_id", "attribute_kind", "key"),
                self._held_by(
                    anchored.select("unified_id").unique(),
                    keys.join(anchor_keys, on=["attribute_kind", "key"], how="anti"),
                ),
            ]
        ).unique()
        found = {}
        for kinds, wanted in combos.items():
            parts = [
                held.filter(pl.col("attribute_kind") == kind)
                .select("unified_id", pl.col("key").alias(kind))
                .unique()
                for kind in kinds
            ]
            joined = functools.reduce(lambda left, right: left.join(right, on="unified_id"), parts)
            found[kinds] = joined.join(wanted.unique(), on=list(kinds), how="semi")
        return found

    def _rows_per_key(self) -> dict[str, float]:
        """Per attribute kind, how many stored rows hold one key on average (approximate distinct
        counts: a scan of the key ids, not of the strings); read once."""
        if self.rows_per_key is None:
            rows = self.con.sql(
                self._sql(
                    "SELECT attribute_kind, count(*) / approx_count_distinct(key_id) "
                    "FROM {node_keys} GROUP BY 1"
                )
            ).fetchall()
            self.rows_per_key = {kind: float(ratio) for kind, ratio in rows}
        return self.rows_per_key

    def _held_by(self, people: pl.DataFrame, keys: pl.DataFrame) -> pl.DataFrame:
        """(unified_id, attribute_kind, key): which of ``keys`` the stored ``people`` hold."""
        self.con.register("_people", people)
        self.con.register("_wanted", keys)
        return self.con.sql(
            self._sql(f"""
            WITH {WANTED_SQL},
            theirs AS MATERIALIZED (
                SELECT node, unified_id FROM {{resolved}}
                WHERE unified_id IN (SELECT unified_id FROM _people)
                  AND node NOT IN (SELECT node FROM _changed)),
            hits AS MATERIALIZED (
                SELECT h.node, h.attribute_kind, h.key_id, h.key_check FROM {{node_keys}} AS h
                WHERE h.node IN (SELECT node FROM theirs) AND h.key_id IN (SELECT key_id FROM wanted))
            SELECT DISTINCT t.unified_id, w.attribute_kind, w.key FROM hits AS h JOIN theirs AS t USING (node)
            JOIN wanted AS w
              ON h.key_id = w.key_id AND h.key_check = w.key_check AND h.attribute_kind = w.attribute_kind
            """)
        ).pl()

    def people_per_key(self, kind: str, keys: pl.Series) -> pl.DataFrame:
        wanted = pl.DataFrame(
            {"key": keys.unique(), "attribute_kind": kind},
            schema={"key": pl.String, "attribute_kind": pl.String},
        )
        self.holding(wanted)
        return (
            self.people.filter(pl.col("attribute_kind") == kind)
            .join(wanted, on="key", how="semi")
            .select("key", "people")
        )

    def guarded_identifiers(self) -> pl.DataFrame:
        return self.con.sql(
            self._sql(
                "SELECT attribute_kind, namespace, value AS key FROM {guarded} "
                "WHERE guard = 'shared_identifier'"
            )
        ).pl()

    def record_keys(self, ids: pl.Series) -> pl.DataFrame:
        self.con.register("_merged", pl.DataFrame({"unified_id": ids}, schema={"unified_id": pl.String}))
        return self.con.sql(
            self._sql("""
            SELECT unified_id, list_sort(list(source || ':' || record_id)) AS keys FROM {resolved}
            WHERE unified_id IN (SELECT unified_id FROM _merged) GROUP BY ALL""")
        ).pl()

    def stored_records(self, nodes: pl.DataFrame) -> pl.DataFrame:
        self.con.register("_shown", nodes)
        return self.con.sql(
            self._sql(
                "SELECT node, source, record_id, record_type, unified_id AS old_id "
                "FROM {resolved} JOIN _shown USING (node)"
            )
        ).pl()
