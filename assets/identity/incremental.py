"""Incremental identity runs: link the records that changed against the stored graph.

A daily partition adds a few thousand records to a graph of millions. Instead of resolving
everything again, an incremental run

1. normalises only the changed nodes (new records, and actors that gained an identifier);
2. looks up in ``identity.node_keys`` the people (unified ids) already holding one of their strong
   identifiers — each person one pre-merged unit summarised in SQL (size, exclusive values,
   compared keys), never loaded record by record — and re-checks the shared-identifier guard for
   those identifiers over every record holding them;
3. replays the changed nodes' identifiers strongest rule first through the same conflict-aware
   union-find as a full run (two people's cards still never merge);
4. finds the people sharing a blocking-key combination with the touched clusters and scores those
   pairs with the match model fitted by the last full run (name frequencies of the whole graph),
   merging with the same ambiguity and conflict rules;
5. keeps ids by the same rule as a full run (a merge keeps the oldest id), writes the changed
   nodes' rows and updates the stored people it joined in place.

People it does not touch keep their rows byte for byte. It never splits a stored person: evidence
that would (an identifier turning shared, a new conflict) waits for the next full rebuild
(``incremental.full_rebuild_days``). ``benchmarks/bench_identity.py`` measures the agreement with a
full rebuild of the same data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import polars as pl

from assets.identity.clustering import Clusters, Link, constrained_merge
from assets.identity.engine import (
    NODE_KEYS, RESOLVED_SCHEMA, Clock, Resolution, Roles, build_links, exclusive_sets, normalise_attributes,
    unambiguous,
)
from assets.identity.graph_store import KEY_ID_SQL
from assets.identity.matching import PAIRS_SCHEMA, block_keys, candidate_pairs, profiles, score_pairs
from assets.identity.scoring import FellegiSunter
from assets.identity.stable_ids import HISTORY_SCHEMA, new_unified_id
from pipelines.config import IdentityConfig

KEY_COLUMNS = ["node", "attribute_kind", "namespace", "kind_ns", "key"]
# A stored node holding a key; a stored person's summary and keys (with how many records hold each).
HOLDING_SCHEMA = {"node": pl.Int64, "attribute_kind": pl.String, "kind_ns": pl.String, "key": pl.String,
                  "unified_id": pl.String}
SUMMARY_SCHEMA = {"unified_id": pl.String, "size": pl.Int64, "node": pl.Int64, "id_created_at": pl.Datetime("us"),
                  "first_seen": pl.Datetime("us"), "method": pl.String, "rule": pl.String, "confidence": pl.Float64}
PERSON_KEYS_SCHEMA = {"unified_id": pl.String, "attribute_kind": pl.String, "kind_ns": pl.String, "key": pl.String,
                      "n": pl.Int64}
# What an increment changes about a stored person: their new id when merged into an older one, and
# how they are linked when they were alone until now. graph_store.write_increment applies it to every
# record they hold; stored people merely gaining records are not rewritten at all.
UNIT_UPDATE_SCHEMA = {"old_id": pl.String, "unified_id": pl.String, "id_created_at": pl.Datetime("us"),
                      "method": pl.String, "rule": pl.String, "confidence": pl.Float64}


@dataclass(frozen=True)
class Increment:
    resolution: Resolution  # resolved: the changed nodes' rows; keys: their keys
    units: pl.DataFrame  # UNIT_UPDATE_SCHEMA: stored people joined by this run


class _Graph:
    """Set-based reads of the stored graph; the changed nodes are registered as ``_changed``.

    Lookups by key go through :meth:`holding`, one scan of ``node_keys``'s integer key ids for a
    whole batch of keys; what each step needs is then joined in memory."""

    def __init__(self, con: duckdb.DuckDBPyConnection, changed: pl.DataFrame, roles: Roles,
                 config: IdentityConfig, users: int) -> None:
        self.con = con
        self.changed = changed.select("node")
        con.register("_changed", self.changed)
        # every record of the stored people read (graph_store.write_increment finds their rows here)
        con.execute("CREATE OR REPLACE TEMP TABLE identity_unit_nodes (node BIGINT, unified_id VARCHAR)")
        self.summary_kinds = sorted(set(roles.matching_exclusive) | set(config.compared_kinds))
        self.users = max(users, 1)
        # the keys looked up so far, every stored node holding them, and how many people hold each
        self.looked_up = pl.DataFrame(schema={"attribute_kind": pl.String, "key": pl.String})
        self.seen = pl.DataFrame(schema=HOLDING_SCHEMA)
        self.people_per_key = pl.DataFrame(schema={"attribute_kind": pl.String, "key": pl.String,
                                                   "people": pl.UInt32})
        self.loaded = pl.Series(dtype=pl.String)  # the people read by units(), kept in:
        self.summaries = pl.DataFrame(schema=SUMMARY_SCHEMA)
        self.keys = pl.DataFrame(schema=PERSON_KEYS_SCHEMA)

    def holding(self, wanted: pl.DataFrame) -> pl.DataFrame:
        """HOLDING_SCHEMA: every stored node holding one of ``wanted``'s (attribute_kind, key)."""
        wanted = wanted.select("attribute_kind", "key").unique()
        missing = wanted.join(self.looked_up, on=["attribute_kind", "key"], how="anti")
        if not missing.is_empty():
            self.con.register("_wanted", missing)
            found = self.con.sql(f"""
                WITH hits AS MATERIALIZED (
                    SELECT k.node, k.attribute_kind, k.kind_ns, k.key FROM identity.node_keys AS k
                    WHERE k.key_id IN (SELECT {KEY_ID_SQL} FROM _wanted AS k))
                SELECT h.node, h.attribute_kind, h.kind_ns, h.key, r.unified_id FROM hits AS h
                SEMI JOIN _wanted AS w ON w.attribute_kind = h.attribute_kind AND w.key = h.key
                LEFT JOIN identity.resolved_records AS r ON r.node = h.node""").pl().cast(HOLDING_SCHEMA)
            self.looked_up = pl.concat([self.looked_up, missing], rechunk=True)
            self.seen = pl.concat([self.seen, found], rechunk=True)
            self.people_per_key = pl.concat([self.people_per_key, found.group_by("attribute_kind", "key").agg(
                pl.col("unified_id").drop_nulls().n_unique().alias("people"))], rechunk=True)
        return self.seen.join(wanted, on=["attribute_kind", "key"], how="semi")

    def holders(self, identifiers: pl.DataFrame, exclusive: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
        """For ``identifiers`` (attribute_kind, kind_ns, key, identifier): the stored people holding
        them (unified_id, identifier, node: one of their records holding it), and the exclusive
        values on those records (identifier, kind_ns, key) for the shared-identifier guard."""
        hits = (self.holding(identifiers).join(identifiers.select("kind_ns", "key", "identifier"),
                                               on=["kind_ns", "key"])
                .join(self.changed, on="node", how="anti"))
        holders = (hits.filter(pl.col("unified_id").is_not_null()).group_by("unified_id", "identifier")
                   .agg(pl.col("node").min()))
        self.con.register("_holding", hits.select("node").unique())
        values = self.con.sql(f"""
            SELECT node, kind_ns, key FROM identity.node_keys
            WHERE node IN (SELECT node FROM _holding) AND attribute_kind IN ({_list(exclusive)})""").pl()
        partners = (hits.select("node", "identifier", pl.col("kind_ns").alias("own")).join(values, on="node")
                    .filter(pl.col("kind_ns") != pl.col("own")).select("identifier", "kind_ns", "key").unique())
        return holders, partners

    def previous(self) -> pl.DataFrame:
        """The changed nodes' rows before this run (those that had one)."""
        return self.con.sql("""
            SELECT node, unified_id, id_created_at, first_linked_run, observed_at FROM identity.resolved_records
            WHERE node IN (SELECT node FROM _changed) AND unified_id IS NOT NULL""").pl()

    def units(self, ids: pl.Series) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Per stored person (their records other than the changed ones): (unified_id, size,
        id_created_at, first_seen, method, rule, confidence) and their keys of the kinds matching
        and conflict rules read, with how many records hold each (unified_id, attribute_kind,
        kind_ns, key, n). Read once per person and kept."""
        wanted = pl.DataFrame({"unified_id": ids.unique()}, schema={"unified_id": pl.String})
        missing = wanted.filter(~pl.col("unified_id").is_in(self.loaded.implode()))
        if not missing.is_empty():
            self.con.register("_units", missing)
            self.con.execute("""
                CREATE OR REPLACE TEMP TABLE _unit_records AS
                SELECT node, unified_id, id_created_at, observed_at, method, rule, confidence
                FROM identity.resolved_records
                WHERE unified_id IN (SELECT unified_id FROM _units) AND node NOT IN (SELECT node FROM _changed)""")
            self.con.execute("INSERT INTO identity_unit_nodes SELECT node, unified_id FROM _unit_records")
            summary = self.con.sql("""
                SELECT unified_id, count(*) AS size, min(node) AS node, min(id_created_at) AS id_created_at,
                       min(observed_at) AS first_seen, any_value(method) AS method, any_value(rule) AS rule,
                       any_value(confidence) AS confidence
                FROM _unit_records GROUP BY ALL""").pl()
            keys = self.con.sql(f"""
                SELECT r.unified_id, k.attribute_kind, k.kind_ns, k.key, count(*) AS n
                FROM identity.node_keys AS k JOIN _unit_records AS r USING (node)
                WHERE k.attribute_kind IN ({_list(self.summary_kinds)}) GROUP BY ALL""").pl()
            self.loaded = pl.concat([self.loaded, missing.get_column("unified_id")])
            self.summaries = pl.concat([self.summaries, summary.cast(SUMMARY_SCHEMA)])
            self.keys = pl.concat([self.keys, keys.cast(PERSON_KEYS_SCHEMA)])
        return (self.summaries.join(wanted, on="unified_id", how="semi"),
                self.keys.join(wanted, on="unified_id", how="semi"))

    def block_holders(self, combos: dict[tuple[str, ...], pl.DataFrame]) -> dict[tuple[str, ...], pl.DataFrame]:
        """Per blocking pass, (unified_id, <kinds>…) of the stored people holding one of its ``combos``.

        The people holding a pass's most varied kind among the wanted combinations (a name rather
        than one of forty cities) are found first; then only those people's rows holding a wanted
        key of the other kinds are read."""
        anchors = {kinds: max(kinds, key=lambda k: wanted.get_column(k).n_unique()) for kinds, wanted in combos.items()}
        keys = pl.concat([wanted.select(pl.lit(kind).alias("attribute_kind"), pl.col(kind).alias("key"))
                          for kinds, wanted in combos.items() for kind in kinds]).unique()
        anchor_keys = pl.concat([wanted.select(pl.lit(anchors[kinds]).alias("attribute_kind"),
                                               pl.col(anchors[kinds]).alias("key"))
                                 for kinds, wanted in combos.items()]).unique()
        anchored = (self.holding(anchor_keys).filter(pl.col("unified_id").is_not_null())
                    .join(self.changed, on="node", how="anti"))
        self.con.register("_people", anchored.select("unified_id").unique())
        self.con.register("_wanted", keys.join(anchor_keys, on=["attribute_kind", "key"], how="anti"))
        others = self.con.sql(f"""
            WITH held AS MATERIALIZED (
                SELECT r.unified_id, k.attribute_kind, k.key FROM identity.node_keys AS k
                JOIN identity.resolved_records AS r USING (node)
                WHERE k.key_id IN (SELECT {KEY_ID_SQL} FROM _wanted AS k)
                  AND r.unified_id IN (SELECT unified_id FROM _people) AND r.node NOT IN (SELECT node FROM _changed))
            SELECT DISTINCT unified_id, attribute_kind, key FROM held SEMI JOIN _wanted USING (attribute_kind, key)
            """).pl()
        held = pl.concat([anchored.select("unified_id", "attribute_kind", "key"), others]).unique()
        found = {}
        for kinds, wanted in combos.items():
            joined = None
            for kind in kinds:
                part = (held.filter(pl.col("attribute_kind") == kind)
                        .select("unified_id", pl.col("key").alias(kind)).unique())
                joined = part if joined is None else joined.join(part, on="unified_id")
            found[kinds] = joined.join(wanted.unique(), on=list(kinds), how="semi")
        return found

    def name_frequencies(self, kind: str, keys: pl.Series) -> pl.DataFrame:
        """Share of people holding each name key, over the whole graph."""
        wanted = pl.DataFrame({"key": keys.unique(), "attribute_kind": kind},
                              schema={"key": pl.String, "attribute_kind": pl.String})
        self.holding(wanted)
        return (self.people_per_key.filter(pl.col("attribute_kind") == kind).join(wanted, on="key", how="semi")
                .select(pl.col("key").alias(kind), (pl.col("people") / self.users).alias("u")))

    def guarded_identifiers(self) -> pl.DataFrame:
        return self.con.sql("SELECT attribute_kind, namespace, value AS key FROM identity.guarded_values "
                            "WHERE guard = 'shared_identifier'").pl()

    def record_keys(self, ids: pl.Series) -> pl.DataFrame:
        """(unified_id, keys): the records of people merged into another, for the history."""
        self.con.register("_merged", pl.DataFrame({"unified_id": ids}, schema={"unified_id": pl.String}))
        return self.con.sql("""
            SELECT unified_id, list_sort(list(source || ':' || record_id)) AS keys FROM identity.resolved_records
            WHERE unified_id IN (SELECT unified_id FROM _merged) GROUP BY ALL""").pl()


def _list(values: list[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values) or "NULL"


class _Units:
    """Stored people as elements of the union-find: person i is element -(i + 1)."""

    def __init__(self) -> None:
        self.element: dict[str, int] = {}
        self.summary = pl.DataFrame()

    def add(self, summary: pl.DataFrame, keys: pl.DataFrame, clusters: Clusters, exclusive: list[str]) -> None:
        # numbered in id order: element numbers break ties in matching, so runs must agree on them
        summary = summary.filter(~pl.col("unified_id").is_in(list(self.element))).sort("unified_id")
        start = len(self.element)
        for i, uid in enumerate(summary.get_column("unified_id").to_list()):
            self.element[uid] = -(start + i + 1)
        summary = self.of(summary)
        values = exclusive_sets(self.of(keys.filter(pl.col("attribute_kind").is_in(exclusive)))
                                .select("element", "kind_ns", "key"), "element")
        for element, size in summary.select("element", "size").iter_rows():
            clusters.add(element, values.get(element, {}), size)
        self.summary = pl.concat([self.summary, summary]) if not self.summary.is_empty() else summary

    def of(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` with an ``element`` column for its ``unified_id``."""
        return (frame.join(self.frame(), on="unified_id") if self.element
                else frame.clear().with_columns(element=pl.lit(None, dtype=pl.Int64)))

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame({"unified_id": list(self.element), "element": list(self.element.values())},
                            schema={"unified_id": pl.String, "element": pl.Int64})


def resolve_increment(con: duckdb.DuckDBPyConnection, changed: pl.DataFrame, attributes: pl.DataFrame,
                      config: IdentityConfig, *, salt: str, model: FellegiSunter | None, run_id: str,
                      resolved_at: datetime, users: int) -> Increment:
    """Link the changed nodes against the stored graph.

    ``changed``: (node, source, record_id, record_type, observed_at) of new nodes and of nodes that
    gained attribute rows; ``attributes``: all their (node, attribute_kind, namespace, value);
    ``users``: how many unified ids the stored graph holds."""
    clock = Clock()
    roles = Roles.of(config)
    graph = _Graph(con, changed, roles, config, users)
    keyed, blocked = normalise_attributes(attributes, config, salt)
    keyed = keyed.select(KEY_COLUMNS)
    guarded_before = graph.guarded_identifiers()
    identifiers = _strong(keyed, roles)
    strong = (identifiers.join(guarded_before, on=["attribute_kind", "namespace", "key"], how="anti")
              .select("node", "attribute_kind", "namespace", "kind_ns", "key", "identifier", "priority"))
    idents = strong.select("attribute_kind", "kind_ns", "key", "identifier").unique()
    clock.lap("normalise")

    # The shared-identifier guard, over every record holding the changed nodes' identifiers.
    exclusive_new = keyed.filter(pl.col("attribute_kind").is_in(roles.exclusive)).select("node", "kind_ns", "key")
    holders, stored_partners = graph.holders(idents, roles.exclusive)
    partners = pl.concat([
        strong.select("identifier", pl.col("kind_ns").alias("own"), "node")
        .join(exclusive_new.rename({"kind_ns": "partner_kind"}), on="node")
        .filter(pl.col("own") != pl.col("partner_kind")).select("identifier", "partner_kind", "key"),
        stored_partners.rename({"kind_ns": "partner_kind"}),
    ])
    shared = (partners.group_by("identifier", "partner_kind").agg(pl.col("key").n_unique().alias("n"))
              .filter(pl.col("n") > config.max_partner_values).select("identifier").unique())
    strong = strong.join(shared, on="identifier", how="anti")
    holders = holders.join(shared, on="identifier", how="anti")
    previous = graph.previous()
    clock.lap("lookup")

    # Deterministic: stored people are single elements; the changed nodes' identifiers join them.
    clusters = Clusters(max_size=config.max_cluster_records, fuzzy=roles.fuzzy)
    units = _Units()
    summary, unit_keys = graph.units(pl.concat([holders.get_column("unified_id"),
                                                previous.get_column("unified_id")]))
    units.add(summary, unit_keys, clusters, roles.exclusive)
    values = exclusive_sets(exclusive_new, "node")
    for node in changed.get_column("node").to_list():
        clusters.add(node, values.get(node, {}))
    # a changed node that already belonged to a stored person stays with them
    for node, element in units.of(previous).select("node", "element").iter_rows():
        if clusters.compatible(clusters.find(element), clusters.find(node)):
            clusters.union(clusters.find(element), clusters.find(node))
    members = pl.concat([strong.select("identifier", "priority", "node"),
                         units.of(holders).join(strong.select("identifier", "priority").unique(), on="identifier")
                         .select("identifier", "priority", pl.col("element").alias("node"))])
    groups = members.sort("priority", "identifier", "node").group_by("priority", "identifier", maintain_order=True) \
        .agg(pl.col("node"))
    shown = {(e, i): n for i, e, n in units.of(holders).select("identifier", "element", "node").iter_rows()}
    element_links: list[Link] = []
    det_links: list[Link] = []  # as shown: a stored person's side at one of their records holding the identifier
    for priority, identifier, nodes in groups.iter_rows():
        for link in constrained_merge(clusters, [(roles.rule_names[priority], nodes, None)]):
            element_links.append(link)
            det_links.append(Link(shown.get((link.a, identifier), link.a), shown.get((link.b, identifier), link.b),
                                  link.rule, None, link.absorbed))
    clock.lap("deterministic")

    # Matching: touched clusters against everybody sharing a blocking-key combination.
    matched, match_links, merged = None, [], None
    dirty = {clusters.find(n) for n in changed.get_column("node").to_list()}
    kinds = [k for k in config.compared_kinds if model is not None and k in model.weights]
    if kinds:
        compared = _compared(keyed, unit_keys, units, clusters, kinds)
        dirty_profile = profiles(compared.filter(pl.col("cluster").is_in(list(dirty))), kinds)
        too_common, more_keys = _pull_block_partners(graph, dirty_profile, config, units, clusters, roles)
        if not more_keys.is_empty():
            unit_keys = pl.concat([unit_keys, more_keys])
            compared = _compared(keyed, unit_keys, units, clusters, kinds)
        clock.lap("match_lookup")
        profile = profiles(compared.select("cluster", "attribute_kind", "key", "n"), kinds)
        pairs, _ = candidate_pairs(profile, config.matching.blocking, config.matching.max_block_size, too_common)
        pairs = pairs.filter(pl.col("cluster_a").is_in(list(dirty)) | pl.col("cluster_b").is_in(list(dirty)))
        if not pairs.is_empty():
            matched = score_pairs(profile, pairs, model, _frequencies(graph, profile, pairs, kinds, config), config)
            # A stored fragment matching a touched cluster may also match a stored person the
            # touched cluster conflicts with: score the fragment's own candidates too, so that an
            # ambiguous fragment is left alone as a full run would.
            fragments = (set(matched.pairs.get_column("cluster_a").to_list())
                         | set(matched.pairs.get_column("cluster_b").to_list())) - dirty
            context = pl.DataFrame(schema=PAIRS_SCHEMA)
            if fragments:
                more_common, more_keys = _pull_block_partners(
                    graph, profile.filter(pl.col("cluster").is_in(list(fragments))), config, units, clusters, roles)
                if not more_keys.is_empty():
                    unit_keys = pl.concat([unit_keys, more_keys])
                    profile = profiles(_compared(keyed, unit_keys, units, clusters, kinds)
                                       .select("cluster", "attribute_kind", "key", "n"), kinds)
                for passes, combos in more_common.items():
                    too_common[passes] = pl.concat([too_common[passes], combos]) if passes in too_common else combos
                around, _ = candidate_pairs(profile, config.matching.blocking, config.matching.max_block_size,
                                            too_common)
                touched = pl.col("cluster_a").is_in(list(dirty)) | pl.col("cluster_b").is_in(list(dirty))
                around = around.filter((pl.col("cluster_a").is_in(list(fragments))
                                        | pl.col("cluster_b").is_in(list(fragments))) & ~touched)
                if not around.is_empty():
                    context = score_pairs(profile, around, model,
                                          _frequencies(graph, profile, around, kinds, config),
                                          config).pairs
            merged, match_links = _merge_matches(matched.pairs, context, keyed, unit_keys, units, clusters, roles,
                                                 config)
    clock.lap("matching")

    # The touched clusters: every changed node's, with the stored people in them.
    elements = pl.concat([changed.select(pl.col("node").alias("element")),
                          units.summary.select("element")]).get_column("element").to_list()
    det_of = {e: clusters.find(e) for e in elements}
    final_of = {e: (merged.find(d) if merged is not None and d in merged.parent else d) for e, d in det_of.items()}
    frame = pl.DataFrame({"element": elements, "det": [det_of[e] for e in elements],
                          "cluster": [final_of[e] for e in elements]},
                         schema={"element": pl.Int64, "det": pl.Int64, "cluster": pl.Int64})
    affected = frame.filter(pl.col("element") >= 0).get_column("cluster").unique()
    frame = frame.filter(pl.col("cluster").is_in(affected.implode()))
    scores = _link_scores(element_links, match_links, roles)
    rows = _changed_rows(changed.join(frame.rename({"element": "node"}), on="node"), keyed, strong, previous,
                         scores, roles)
    stored = units.summary.join(frame, on="element")
    sizes = pl.concat([rows.filter(pl.col("method") != "anonymous").group_by("cluster").len("size")
                       .with_columns(pl.col("size").cast(pl.Int64)),
                       stored.select("cluster", pl.col("size").cast(pl.Int64))]).group_by("cluster").agg(
        pl.col("size").sum().alias("cluster_size"))
    rows = rows.join(sizes, on="cluster", how="left").with_columns(
        cluster_size=pl.coalesce("cluster_size", pl.lit(1)),
        method=pl.when((pl.col("method") != "anonymous") & (pl.col("cluster_size") == 1)).then(pl.lit("singleton"))
        .otherwise(pl.col("method")))
    rows = rows.with_columns(rule=pl.when(pl.col("method") != "singleton").then(pl.col("rule")))
    ids, history, gained = _ids(rows, stored, previous, graph, run_id, resolved_at)
    resolved = (rows.join(ids, on="cluster", how="left")
                .with_columns(unified_id=pl.when(pl.col("method") != "anonymous").then(pl.col("unified_id")),
                              id_created_at=pl.when(pl.col("method") != "anonymous").then(pl.col("id_created_at")),
                              first_linked_run=pl.when(pl.col("method") != "anonymous")
                              .then(pl.coalesce("first_linked_run", pl.lit(run_id))),
                              resolved_at=pl.lit(resolved_at, dtype=pl.Datetime("us"))))
    unit_updates = _unit_updates(stored, ids, sizes, scores)
    det_frame = pl.DataFrame([(link.a, link.b, link.rule) for link in det_links],
                             schema={"a": pl.Int64, "b": pl.Int64, "rule": pl.String}, orient="row")
    shown_stored = _stored_link_nodes(con, det_links, stored, ids).join(rows.select("node"), on="node", how="anti")
    links = build_links(det_frame, matched.pairs if matched is not None else pl.DataFrame(schema=PAIRS_SCHEMA),
                        match_links,
                        pl.concat([resolved.select("node", *NODE_KEYS, "unified_id"),
                                   shown_stored.select("node", *NODE_KEYS, "unified_id")]),
                        pl.concat([rows.select("node", "det"), shown_stored.select("node", "det")]).unique("node"))
    guarded = pl.concat([
        blocked.with_columns(guard=pl.lit("blocked_value")),
        identifiers.join(shared, on="identifier", how="semi").select("attribute_kind", "namespace", "key")
        .unique().with_columns(guard=pl.lit("shared_identifier")),
    ]).rename({"key": "value"})
    clock.lap("ids_and_links")

    stats: dict[str, int | float] = {
        "changed_nodes": changed.height,
        "stored_people_loaded": units.summary.height,
        "stored_people_rewritten": unit_updates.height,
        "rewritten_nodes": resolved.height + int(stored.join(unit_updates.select(pl.col("old_id").alias("unified_id")),
                                                             on="unified_id").get_column("size").sum() or 0),
        "new_shared_identifiers": shared.height,
        "links_added": links.height,
        "match_candidates": matched.candidates if matched else 0,
        "candidate_matches": matched.pairs.height if matched else 0,
        "clusters_joined_by_matching": len(match_links),
        "history_events": history.height,
        "users": users + gained,
        **{f"seconds_{phase}": secs for phase, secs in clock.laps.items()},
    }
    return Increment(Resolution(resolved.select(list(RESOLVED_SCHEMA)).cast(RESOLVED_SCHEMA), links, history,
                                guarded, stats, model.describe() if model else {}, keyed, model), unit_updates)


def _strong(keys: pl.DataFrame, roles: Roles) -> pl.DataFrame:
    return keys.filter(pl.col("attribute_kind").is_in(list(roles.rank))).with_columns(
        identifier=pl.concat_str(["kind_ns", "key"], separator=":"),
        priority=pl.col("attribute_kind").replace_strict(roles.rank, return_dtype=pl.Int64))


def _compared(keyed: pl.DataFrame, unit_keys: pl.DataFrame, units: _Units, clusters: Clusters,
              kinds: list[str]) -> pl.DataFrame:
    """(cluster, attribute_kind, key, n) of the compared kinds, for changed nodes and stored people."""
    rows = pl.concat([
        keyed.filter(pl.col("attribute_kind").is_in(kinds)).select(
            pl.col("node").alias("element"), "attribute_kind", "key", pl.lit(1, dtype=pl.Int64).alias("n")),
        units.of(unit_keys.filter(pl.col("attribute_kind").is_in(kinds))).select(
            "element", "attribute_kind", "key", pl.col("n").cast(pl.Int64)),
    ])
    roots = {e: clusters.find(e) for e in rows.get_column("element").unique().to_list()}
    return rows.with_columns(cluster=pl.col("element").replace_strict(roots, return_dtype=pl.Int64))


def _pull_block_partners(graph: _Graph, profile: pl.DataFrame, config: IdentityConfig, units: _Units,
                         clusters: Clusters, roles: Roles) -> tuple[dict[tuple[str, ...], pl.DataFrame], pl.DataFrame]:
    """Add the stored people sharing a blocking-key combination with ``profile``'s clusters as units.

    Returns the combinations too common in the whole graph (per pass) and the added people's keys."""
    wanted = {passes: block_keys(profile, passes).drop("cluster") for passes in config.matching.blocking
              if not profile.is_empty() and all(f"{k}__set" in profile.columns for k in passes)}
    wanted = {passes: combos for passes, combos in wanted.items() if not combos.is_empty()}
    too_common, found = {}, []
    for passes, holding in (graph.block_holders(wanted) if wanted else {}).items():
        sizes = holding.group_by(list(passes)).agg(pl.col("unified_id").n_unique().alias("n"))
        too_common[passes] = sizes.filter(pl.col("n") > config.matching.max_block_size).drop("n")
        found.append(holding.join(too_common[passes], on=list(passes), how="anti").get_column("unified_id"))
    more = pl.concat(found).unique() if found else pl.Series(dtype=pl.String)
    more = more.filter(~more.is_in(list(units.element)))
    if not more.len():
        return too_common, pl.DataFrame()
    summary, keys = graph.units(more)
    units.add(summary, keys, clusters, roles.exclusive)
    return too_common, keys


def _frequencies(graph: _Graph, profile: pl.DataFrame, pairs: pl.DataFrame, kinds: list[str],
                 config: IdentityConfig) -> dict[str, pl.DataFrame]:
    """Whole-graph frequencies of the name keys both sides of some pair hold: the only ones
    scoring reads."""
    out = {}
    for kind in (k for k in kinds if config.attribute_kinds[k].compare == "name"):
        sets = profile.select("cluster", pl.col(f"{kind}__set").alias("names"))
        shared = (pairs.join(sets, left_on="cluster_a", right_on="cluster")
                  .join(sets, left_on="cluster_b", right_on="cluster", suffix="_b")
                  .select(pl.col("names").list.set_intersection(pl.col("names_b")).alias("key"))
                  .explode("key").drop_nulls().get_column("key"))
        out[kind] = graph.name_frequencies(kind, shared)
    return out


def _merge_matches(pairs: pl.DataFrame, context: pl.DataFrame, keyed: pl.DataFrame, unit_keys: pl.DataFrame,
                   units: _Units, clusters: Clusters, roles: Roles,
                   config: IdentityConfig) -> tuple[Clusters, list[Link]]:
    """Merge matched clusters strongest first, refusing conflicts and ambiguous fragments;
    ``context``: other scored pairs of the same clusters, which can make a match ambiguous but are
    not merged themselves (the stored graph already settled them)."""
    every = pl.concat([pairs, context])
    involved = set(every.get_column("cluster_a").to_list()) | set(every.get_column("cluster_b").to_list())
    values_of = pl.concat([
        keyed.filter(pl.col("attribute_kind").is_in(roles.matching_exclusive))
        .select(pl.col("node").alias("element"), "kind_ns", "key"),
        units.of(unit_keys.filter(pl.col("attribute_kind").is_in(roles.matching_exclusive)))
        .select("element", "kind_ns", "key"),
    ])
    roots = {e: clusters.find(e) for e in values_of.get_column("element").unique().to_list()}
    owned = (values_of.with_columns(det=pl.col("element").replace_strict(roots, return_dtype=pl.Int64))
             .filter(pl.col("det").is_in(list(involved))))
    values = exclusive_sets(owned.select("det", "kind_ns", "key"), "det")
    merged = Clusters(max_size=config.max_cluster_records, fuzzy=roles.fuzzy)
    for root in involved:
        merged.add(root, values.get(root, {}), clusters.size[root])
    best = (unambiguous(every, merged).join(pairs.select("cluster_a", "cluster_b"), on=["cluster_a", "cluster_b"],
                                            how="semi")
            .sort("score", "cluster_a", "cluster_b", descending=[True, False, False]))
    links = constrained_merge(merged, (("match", (a, b), score) for a, b, score in
                                       best.select("cluster_a", "cluster_b", "score").iter_rows()))
    return merged, links


def _link_scores(det_links: list[Link], match_links: list[Link], roles: Roles) -> tuple[pl.DataFrame, ...]:
    """Per element: its strongest deterministic rule; per det root: the match score that absorbed
    it, and the best score of any match it took part in."""
    rank = {r: i for i, r in enumerate(roles.rule_names)}
    det_rule = (pl.DataFrame([(n, link.rule) for link in det_links for n in (link.a, link.b)],
                             schema={"node": pl.Int64, "rule_det": pl.String}, orient="row")
                .with_columns(p=pl.col("rule_det").replace_strict(rank, return_dtype=pl.Int64))
                .sort("p").group_by("node").agg(pl.col("rule_det").first()))
    absorbed = pl.DataFrame([(link.absorbed, link.score) for link in match_links],
                            schema={"det": pl.Int64, "absorbed_score": pl.Float64}, orient="row")
    matched = (pl.DataFrame([(d, link.score) for link in match_links for d in (link.a, link.b)],
                            schema={"det": pl.Int64, "match_score": pl.Float64}, orient="row")
               .group_by("det").agg(pl.col("match_score").max()))
    return det_rule, absorbed, matched


def _linked_by() -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(method, rule, confidence) of someone joined this run, from the columns of :func:`_link_scores`."""
    score = pl.coalesce("absorbed_score", pl.when(pl.col("rule_det").is_null()).then(pl.col("match_score")))
    method = pl.when(score.is_not_null()).then(pl.lit("probabilistic")).otherwise(pl.lit("deterministic"))
    rule = pl.when(score.is_not_null()).then(pl.lit("match")).otherwise(pl.col("rule_det"))
    return method, rule, pl.coalesce(score, pl.lit(1.0))


def _changed_rows(nodes: pl.DataFrame, keyed: pl.DataFrame, strong: pl.DataFrame, previous: pl.DataFrame,
                  scores: tuple[pl.DataFrame, ...], roles: Roles) -> pl.DataFrame:
    """The changed nodes of touched clusters, with what linked them (singletons are decided once
    cluster sizes are known). Actors without a usable strong identifier stay anonymous streams."""
    identifiable = keyed.filter(~pl.col("attribute_kind").is_in(roles.context)).select("node").unique()
    linked = strong.select("node").unique()
    det_rule, absorbed, matched = scores
    method, rule, confidence = _linked_by()
    return (nodes.join(linked.with_columns(linked=pl.lit(True)), on="node", how="left")
            .filter((pl.col("record_type") == "record") | pl.col("linked").is_not_null())
            .join(identifiable.with_columns(identifiable=pl.lit(True)), on="node", how="left")
            .join(det_rule, on="node", how="left").join(absorbed, on="det", how="left")
            .join(matched, on="det", how="left")
            .join(previous.select("node", "first_linked_run"), on="node", how="left")
            .with_columns(method=pl.when(pl.col("identifiable").is_null()).then(pl.lit("anonymous")).otherwise(method),
                          rule=rule, confidence=confidence)
            .with_columns(rule=pl.when(pl.col("method") != "anonymous").then(pl.col("rule")),
                          confidence=pl.when(pl.col("method") != "anonymous").then(pl.col("confidence")))
            .select("node", *NODE_KEYS, "observed_at", "det", "cluster", "method", "rule", "confidence",
                    "first_linked_run"))


def _ids(rows: pl.DataFrame, stored: pl.DataFrame, previous: pl.DataFrame, graph: _Graph, run_id: str,
         happened_at: datetime) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """The unified id of each touched cluster — the oldest id among its people, as in a full run,
    else a fresh id from its earliest record — the merges this makes, and how many unified ids the
    graph gains (fresh ids less the ids merged away)."""
    known = rows.filter(pl.col("method") != "anonymous")
    carried = pl.concat([
        stored.select("cluster", "unified_id", "id_created_at", "first_seen", pl.col("size").cast(pl.Int64)
                      .alias("shared")),
        known.join(previous.select("node", "unified_id", "id_created_at"), on="node")
        .group_by("cluster", "unified_id", "id_created_at").agg(pl.col("observed_at").min().alias("first_seen"),
                                                                 pl.len().cast(pl.Int64).alias("shared")),
    ]).group_by("cluster", "unified_id").agg(pl.col("id_created_at").min(), pl.col("first_seen").min(),
                                             pl.col("shared").sum())
    order = carried.sort(["id_created_at", "first_seen", "unified_id", "shared", "cluster"],
                         descending=[False, False, False, True, False], nulls_last=True)
    chosen: dict[int, tuple[str, datetime]] = {}
    used: set[str] = set()
    for cluster, uid, created in order.select("cluster", "unified_id", "id_created_at").iter_rows():
        if cluster not in chosen and uid not in used:
            chosen[cluster] = (uid, created)
            used.add(uid)
    anchors = (known.sort("observed_at", "source", "record_id", nulls_last=True)
               .group_by("cluster", maintain_order=True).agg(pl.col("source").first(), pl.col("record_id").first()))
    fresh = {c: (new_unified_id(s, r), happened_at) for c, s, r in anchors.iter_rows() if c not in chosen}
    ids = pl.DataFrame([(c, uid, created) for c, (uid, created) in {**chosen, **fresh}.items()],
                       schema={"cluster": pl.Int64, "unified_id": pl.String, "id_created_at": pl.Datetime("us")},
                       orient="row")
    gained = ids.get_column("unified_id").n_unique() - carried.get_column("unified_id").n_unique()
    moved = (carried.join(ids.select("cluster", pl.col("unified_id").alias("new_id")), on="cluster")
             .filter(pl.col("unified_id") != pl.col("new_id")))
    if moved.is_empty():
        return ids, pl.DataFrame(schema=HISTORY_SCHEMA), gained
    keys = graph.record_keys(moved.get_column("unified_id"))
    history = (moved.join(keys, on="unified_id", how="left")
               .select(pl.lit(run_id).alias("run_id"),
                       pl.when(pl.col("unified_id").is_in(list(used))).then(pl.lit("split"))
                       .otherwise(pl.lit("merge")).alias("event"),
                       pl.col("new_id").alias("unified_id"), pl.col("unified_id").alias("other_unified_id"),
                       pl.col("shared").alias("records"), pl.col("keys").alias("record_keys"),
                       pl.lit("clusters joined by new evidence; the oldest id is kept").alias("reason"),
                       pl.lit(happened_at, dtype=pl.Datetime("us")).alias("happened_at"))
               .sort("event", "unified_id", "other_unified_id").cast(HISTORY_SCHEMA))
    return ids, history, gained


def _unit_updates(stored: pl.DataFrame, ids: pl.DataFrame, sizes: pl.DataFrame,
                  scores: tuple[pl.DataFrame, ...]) -> pl.DataFrame:
    """Per stored person in a touched cluster: the new id and size; someone alone until now also
    says what links them (method, rule, confidence; null keeps the stored values)."""
    det_rule, absorbed, matched = scores
    method, rule, confidence = _linked_by()
    # one stored record: its method is the person's (a bigger person's records may differ)
    alone = (pl.col("size") == 1) & (pl.col("method") == "singleton") & (pl.col("cluster_size") > 1)
    return (stored.join(ids, on="cluster", how="left", suffix="_new").join(sizes, on="cluster")
            .join(det_rule.rename({"node": "element"}), on="element", how="left")
            .join(absorbed, on="det", how="left").join(matched, on="det", how="left")
            .filter(alone | (pl.col("unified_id") != pl.col("unified_id_new")))
            .select(pl.col("unified_id").alias("old_id"), pl.col("unified_id_new").alias("unified_id"),
                    pl.col("id_created_at_new").alias("id_created_at"),
                    pl.when(alone).then(method).alias("method"), pl.when(alone).then(rule).alias("rule"),
                    pl.when(alone).then(confidence).alias("confidence"))
            .cast(UNIT_UPDATE_SCHEMA))


def _stored_link_nodes(con: duckdb.DuckDBPyConnection, det_links: list[Link], stored: pl.DataFrame,
                       ids: pl.DataFrame) -> pl.DataFrame:
    """Keys, new unified id and det root of the stored records links are shown at: the record
    holding the identifier of a deterministic link, a person's first record for a match."""
    shown = pl.concat([
        pl.DataFrame({"node": [n for link in det_links for n in (link.a, link.b) if n >= 0]},
                     schema={"node": pl.Int64}),
        stored.select("node"),
    ]).unique()
    con.register("_shown", shown)
    rows = con.sql("SELECT node, source, record_id, record_type, unified_id AS old_id "
                   "FROM identity.resolved_records JOIN _shown USING (node)").pl()
    by_unit = stored.select(pl.col("unified_id").alias("old_id"), "det", "cluster").join(
        ids.select("cluster", "unified_id"), on="cluster")
    return rows.join(by_unit, on="old_id").select("node", *NODE_KEYS, "unified_id", "det")
