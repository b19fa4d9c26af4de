"""Incremental identity runs: link the records that changed against the stored graph.

A daily partition adds a few thousand records to a graph of millions. Instead of resolving
everything again, an incremental run

1. normalises only the changed nodes (new records, and actors that gained an identifier);
2. loads from ``identity.node_keys`` the people (unified ids) already holding one of their strong
   identifiers, each as one pre-merged unit, and re-checks the shared-identifier guard for those
   identifiers over everybody holding them;
3. replays the changed nodes' identifiers strongest rule first through the same conflict-aware
   union-find as a full run (two people's cards still never merge);
4. looks up the people sharing a blocking-key combination with the touched clusters and scores
   those pairs with the match model fitted by the last full run (name frequencies of the whole
   graph), merging with the same ambiguity and conflict rules;
5. gives ids with the same stable-id rules (a merge keeps the oldest id) and rewrites only the
   nodes of the clusters it touched.

People it does not touch keep their rows byte for byte. It never splits a stored person — evidence
that would split one (an identifier turning shared, a new conflict) waits for the next full rebuild
(``incremental.full_rebuild_days``); the agreement with a full rebuild is measured by
``benchmarks/bench_identity.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import polars as pl

from assets.identity.clustering import Clusters, Link, constrained_merge
from assets.identity.engine import (
    NODE_KEYS, RESOLVED_SCHEMA, Clock, Resolution, Roles, build_links, exclusive_sets, normalise_attributes,
    shared_identifiers, unambiguous,
)
from assets.identity.matching import block_keys, candidate_pairs, profiles, score_pairs
from assets.identity.scoring import FellegiSunter
from assets.identity.stable_ids import assign_ids
from pipelines.config import IdentityConfig

KEY_COLUMNS = ["node", "attribute_kind", "namespace", "kind_ns", "key"]
PREVIOUS_COLUMNS = ["node", *NODE_KEYS, "observed_at", "unified_id", "id_created_at", "first_linked_run", "method",
                    "rule", "confidence"]


@dataclass(frozen=True)
class Increment:
    resolution: Resolution  # resolved: the rows of every rewritten node; keys: the changed nodes' keys
    renamed: pl.DataFrame  # old_id, new_id: ids merged into another this run


class _Graph:
    """Reads of the stored graph (``identity.nodes`` / ``node_keys`` / ``resolved_records``)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def units_of(self, identifiers: pl.DataFrame, changed: pl.DataFrame) -> pl.DataFrame:
        """Unified ids holding one of ``identifiers`` (kind_ns, key), or holding a changed node."""
        self.con.register("_idents", identifiers)
        self.con.register("_changed", changed)
        return self.con.sql("""
            SELECT DISTINCT n.unified_id FROM identity.node_keys AS k
            JOIN _idents AS i ON k.kind_ns = i.kind_ns AND k.key = i.key
            JOIN identity.nodes AS n ON n.node = k.node
            WHERE n.unified_id IS NOT NULL
            UNION
            SELECT n.unified_id FROM identity.nodes AS n JOIN _changed AS c USING (node)
            WHERE n.unified_id IS NOT NULL""").pl()

    def members(self, units: pl.DataFrame, changed: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The previous rows (PREVIOUS_COLUMNS) of every node of ``units`` and of the changed
        nodes, and the stored keys of the unchanged ones."""
        self.con.register("_units", units.select("unified_id"))
        self.con.register("_changed", changed)
        rows = self.con.sql(f"""
            SELECT {', '.join('n.node' if c == 'node' else 'r.' + c for c in PREVIOUS_COLUMNS)}
            FROM identity.resolved_records AS r JOIN identity.nodes AS n USING (source, record_id, record_type)
            WHERE r.unified_id IN (SELECT unified_id FROM _units) OR n.node IN (SELECT node FROM _changed)""").pl()
        self.con.register("_old", rows.select("node").join(changed, on="node", how="anti"))
        keys = self.con.sql(f"SELECT {', '.join(KEY_COLUMNS)} FROM identity.node_keys "
                            "WHERE node IN (SELECT node FROM _old)").pl()
        return rows, keys

    def block_holders(self, kinds: tuple[str, ...], combos: pl.DataFrame) -> pl.DataFrame:
        """(unified_id, <kinds>…) of the stored people holding one of ``combos``."""
        self.con.register("_combos", combos.unique())
        holders = [f"""h{i} AS (
            SELECT DISTINCT n.unified_id, k.key AS "{kind}" FROM identity.node_keys AS k
            JOIN identity.nodes AS n ON n.node = k.node
            WHERE k.attribute_kind = '{kind}' AND n.unified_id IS NOT NULL
              AND k.key IN (SELECT "{kind}" FROM _combos))""" for i, kind in enumerate(kinds)]
        joined = " JOIN ".join(f"h{i}" if i == 0 else f"h{i} USING (unified_id)" for i in range(len(kinds)))
        columns = ", ".join(f'h{i}."{kind}"' for i, kind in enumerate(kinds))
        return self.con.sql(f"""WITH {', '.join(holders)}
            SELECT h0.unified_id, {columns} FROM {joined}
            SEMI JOIN _combos USING ({', '.join(f'"{k}"' for k in kinds)})""").pl()

    def name_frequencies(self, kind: str, keys: pl.Series) -> pl.DataFrame:
        """Share of people holding each name key, over the whole graph."""
        self.con.register("_names", pl.DataFrame({"key": keys.unique()}))
        return self.con.sql(f"""
            SELECT k.key AS "{kind}", count(DISTINCT n.unified_id) / (SELECT count(DISTINCT unified_id)
                                                                 FROM identity.nodes) AS u
            FROM identity.node_keys AS k JOIN identity.nodes AS n ON n.node = k.node
            WHERE k.attribute_kind = '{kind}' AND k.key IN (SELECT key FROM _names) GROUP BY 1""").pl()

    def guarded_identifiers(self) -> pl.DataFrame:
        return self.con.sql("SELECT attribute_kind, namespace, value AS key FROM identity.guarded_values "
                            "WHERE guard = 'shared_identifier'").pl()


def resolve_increment(con: duckdb.DuckDBPyConnection, changed: pl.DataFrame, attributes: pl.DataFrame,
                      config: IdentityConfig, *, salt: str, model: FellegiSunter | None, run_id: str,
                      resolved_at: datetime) -> Increment:
    """Link the changed nodes against the stored graph.

    ``changed``: (node, source, record_id, record_type, observed_at) of new nodes and of nodes that
    gained attribute rows; ``attributes``: all their (node, attribute_kind, namespace, value)."""
    clock = Clock()
    roles = Roles.of(config)
    graph = _Graph(con)
    changed_ids = changed.select("node")
    keyed, blocked = normalise_attributes(attributes, config, salt)
    keyed = keyed.select(KEY_COLUMNS)
    guarded_before = graph.guarded_identifiers()
    new_strong = _strong(keyed, roles).join(guarded_before, on=["attribute_kind", "namespace", "key"], how="anti")
    clock.lap("normalise")

    # The people the changed nodes link to, pulled whole.
    units = graph.units_of(new_strong.select("kind_ns", "key").unique(), changed_ids)
    previous, old_keys = graph.members(units, changed_ids)
    all_keys = pl.concat([keyed, old_keys])
    strong = _strong(all_keys, roles).join(guarded_before, on=["attribute_kind", "namespace", "key"], how="anti")
    exclusive = all_keys.filter(pl.col("attribute_kind").is_in(roles.exclusive)).select("node", "kind_ns", "key")
    touched = new_strong.select("identifier").unique()
    shared = shared_identifiers(strong.join(touched, on="identifier", how="semi"), exclusive,
                                config.max_partner_values)
    strong = strong.join(shared, on="identifier", how="anti").join(touched, on="identifier", how="semi")
    clock.lap("lookup")

    # Deterministic: stored people are pre-merged units; the changed nodes' identifiers join them.
    clusters = Clusters(max_size=config.max_cluster_records, fuzzy=roles.fuzzy)
    old_units = previous.join(changed_ids, on="node", how="anti").select("node", "unified_id")
    _add_units(clusters, old_units, exclusive)
    values = exclusive_sets(exclusive.join(changed_ids, on="node", how="semi"), "node")
    for node in changed_ids.get_column("node").to_list():
        clusters.add(node, values.get(node, {}))
    groups = (strong.sort("priority", "identifier", "node").group_by("priority", "identifier", maintain_order=True)
              .agg(pl.col("node")))
    det_links = constrained_merge(clusters, ((roles.rule_names[p], nodes, None) for p, _, nodes in groups.iter_rows()))
    clock.lap("deterministic")

    # Matching: touched clusters against everybody sharing a blocking-key combination.
    matched, match_links, merged, skipped, pulled = None, [], None, 0, 0
    dirty = {clusters.find(n) for n in changed_ids.get_column("node").to_list()}
    if model is not None and config.compared_kinds:
        compared = _compared(all_keys, clusters, config)
        kinds = [k for k in config.compared_kinds if k in model.weights]
        dirty_profile = profiles(compared.filter(pl.col("cluster").is_in(list(dirty))), kinds) \
            if not compared.is_empty() else pl.DataFrame()
        too_common, extra_units = {}, []
        for passes in config.matching.blocking:
            if dirty_profile.is_empty() or not all(f"{k}__set" in dirty_profile.columns for k in passes):
                continue
            combos = block_keys(dirty_profile, passes).drop("cluster")
            if combos.is_empty():
                continue
            holders = graph.block_holders(passes, combos)
            sizes = holders.group_by(list(passes)).agg(pl.col("unified_id").n_unique().alias("n"))
            too_common[passes] = sizes.filter(pl.col("n") > config.matching.max_block_size).drop("n")
            extra_units.append(holders.join(too_common[passes], on=list(passes), how="anti").select("unified_id"))
        new_units = (pl.concat(extra_units).unique().join(units, on="unified_id", how="anti")
                     if extra_units else pl.DataFrame(schema={"unified_id": pl.String}))
        if not new_units.is_empty():
            more, more_keys = graph.members(new_units, changed_ids.clear())
            pulled = more.height
            previous, all_keys = pl.concat([previous, more]), pl.concat([all_keys, more_keys])
            more_exclusive = more_keys.filter(pl.col("attribute_kind").is_in(roles.exclusive)).select(
                "node", "kind_ns", "key")
            _add_units(clusters, more.select("node", "unified_id"), more_exclusive)
            compared = _compared(all_keys, clusters, config)
        clock.lap("match_lookup")
        if not compared.is_empty():
            profile = profiles(compared.select("cluster", "attribute_kind", "key"), kinds)
            pairs, skipped = candidate_pairs(profile, config.matching.blocking, config.matching.max_block_size,
                                             too_common)
            pairs = pairs.filter(pl.col("cluster_a").is_in(list(dirty)) | pl.col("cluster_b").is_in(list(dirty)))
            if not pairs.is_empty():
                frequencies = {k: graph.name_frequencies(k, profile.get_column(f"{k}__set").explode().drop_nulls())
                               for k in kinds if config.attribute_kinds[k].compare == "name"}
                matched = score_pairs(profile, pairs, model, frequencies, config, skipped)
                merged, match_links = _merge_matches(matched.pairs, all_keys, clusters, roles, config)
    clock.lap("matching")

    # Which clusters changed, and their rows.
    nodes = pl.concat([changed.select("node", *NODE_KEYS, "observed_at"),
                       previous.join(changed_ids, on="node", how="anti").select("node", *NODE_KEYS, "observed_at")])
    det_root = pl.DataFrame({"node": nodes.get_column("node"),
                             "det": [clusters.find(n) for n in nodes.get_column("node").to_list()]},
                            schema={"node": pl.Int64, "det": pl.Int64})
    final = det_root.with_columns(cluster=pl.col("det").map_elements(
        lambda d: merged.find(d) if merged is not None and d in merged.parent else d, return_dtype=pl.Int64))
    affected = final.join(changed_ids, on="node", how="semi").get_column("cluster").unique()
    final = final.filter(pl.col("cluster").is_in(affected.implode()))
    rows = _rows(nodes.join(final, on="node"), keyed, new_strong.join(shared, on="identifier", how="anti"),
                 previous, changed_ids, det_links, match_links, roles, resolved_at)
    assignment = assign_ids(rows.filter(pl.col("method") != "anonymous")
                            .select("node", "source", "record_id", "cluster", "observed_at"),
                            previous.select("node", "unified_id", "id_created_at").drop_nulls("unified_id"),
                            run_id, resolved_at)
    resolved = (rows.join(assignment.ids, on="cluster", how="left")
                .with_columns(first_linked_run=pl.when(pl.col("method") != "anonymous")
                              .then(pl.coalesce("first_linked_run", pl.lit(run_id)))))
    det_frame = pl.DataFrame([(link.a, link.b, link.rule) for link in det_links],
                             schema={"a": pl.Int64, "b": pl.Int64, "rule": pl.String}, orient="row")
    pairs = matched.pairs if matched is not None else pl.DataFrame(schema={"cluster_a": pl.Int64, "cluster_b": pl.Int64,
                                                                          "score": pl.Float64, "evidence": pl.String})
    links = build_links(det_frame, pairs, match_links, resolved, final.select("node", "det"))
    renamed = (assignment.history.filter(pl.col("event") == "merge")
               .select(pl.col("other_unified_id").alias("old_id"), pl.col("unified_id").alias("new_id")).unique())
    guarded = pl.concat([
        blocked.with_columns(guard=pl.lit("blocked_value")),
        new_strong.join(shared, on="identifier", how="semi").select("attribute_kind", "namespace", "key").unique()
        .with_columns(guard=pl.lit("shared_identifier")),
    ]).rename({"key": "value"})
    clock.lap("ids_and_links")

    stats: dict[str, int | float] = {
        "changed_nodes": changed.height,
        "stored_nodes_loaded": previous.height,
        "stored_nodes_loaded_for_matching": pulled,
        "rewritten_nodes": resolved.height,
        "new_shared_identifiers": shared.height,
        "links_added": links.height,
        "match_candidates": matched.candidates if matched else 0,
        "candidate_matches": matched.pairs.height if matched else 0,
        "clusters_joined_by_matching": len(match_links),
        "history_events": assignment.history.height,
        **{f"seconds_{phase}": secs for phase, secs in clock.laps.items()},
    }
    out = resolved.with_columns(resolved_at=pl.lit(resolved_at, dtype=pl.Datetime("us")))
    return Increment(Resolution(out.select(list(RESOLVED_SCHEMA)).cast(RESOLVED_SCHEMA), links, assignment.history,
                                guarded, stats, model.describe() if model else {}, keyed, model), renamed)


def _strong(keys: pl.DataFrame, roles: Roles) -> pl.DataFrame:
    return keys.filter(pl.col("attribute_kind").is_in(list(roles.rank))).with_columns(
        identifier=pl.concat_str(["kind_ns", "key"], separator=":"),
        priority=pl.col("attribute_kind").replace_strict(roles.rank, return_dtype=pl.Int64))


def _add_units(clusters: Clusters, members: pl.DataFrame, exclusive: pl.DataFrame) -> None:
    """Add stored people as single clusters: (node, unified_id) of every member."""
    values = exclusive_sets(exclusive.join(members.select("node"), on="node", how="semi"), "node")
    for _, nodes in members.group_by("unified_id").agg(pl.col("node").sort()).iter_rows():
        for node in nodes:
            clusters.add(node, values.get(node, {}))
        for node in nodes[1:]:
            clusters.union(clusters.find(nodes[0]), node)


def _compared(keys: pl.DataFrame, clusters: Clusters, config: IdentityConfig) -> pl.DataFrame:
    part = keys.filter(pl.col("attribute_kind").is_in(config.compared_kinds))
    return part.with_columns(cluster=pl.Series([clusters.find(n) for n in part.get_column("node").to_list()],
                                               dtype=pl.Int64)).select("node", "cluster", "attribute_kind", "key")


def _merge_matches(pairs: pl.DataFrame, keys: pl.DataFrame, clusters: Clusters, roles: Roles,
                   config: IdentityConfig) -> tuple[Clusters, list[Link]]:
    """Merge matched clusters strongest first, refusing conflicts and ambiguous fragments."""
    involved = set(pairs.get_column("cluster_a").to_list()) | set(pairs.get_column("cluster_b").to_list())
    part = keys.filter(pl.col("attribute_kind").is_in(roles.matching_exclusive))
    owner = part.with_columns(det=pl.Series([clusters.find(n) for n in part.get_column("node").to_list()],
                                            dtype=pl.Int64)).filter(pl.col("det").is_in(list(involved)))
    values = exclusive_sets(owner.select("det", "kind_ns", "key"), "det")
    merged = Clusters(max_size=config.max_cluster_records, fuzzy=roles.fuzzy)
    for root in involved:
        merged.add(root, values.get(root, {}), clusters.size[root])
    best = unambiguous(pairs, merged).sort("score", "cluster_a", "cluster_b", descending=[True, False, False])
    links = constrained_merge(merged, (("match", (a, b), score) for a, b, score in
                                       best.select("cluster_a", "cluster_b", "score").iter_rows()))
    return merged, links


def _rows(nodes: pl.DataFrame, keyed: pl.DataFrame, strong: pl.DataFrame, previous: pl.DataFrame,
          changed: pl.DataFrame, det_links: list[Link], match_links: list[Link], roles: Roles,
          resolved_at: datetime) -> pl.DataFrame:
    """Method, rule, confidence and size of every node of a touched cluster. Stored nodes keep
    what linked them unless they were alone before; changed nodes say what linked them now."""
    identifiable = keyed.filter(~pl.col("attribute_kind").is_in(roles.context)).select("node").unique()
    linked_actor = strong.select("node").unique()
    old = previous.join(changed, on="node", how="anti").select("node", "method", "rule", "confidence",
                                                               "first_linked_run")
    prior_run = previous.join(changed, on="node", how="semi").select("node", "first_linked_run")
    rule_rank = {r: i for i, r in enumerate(roles.rule_names)}
    det_rule = (pl.DataFrame([(n, link.rule) for link in det_links for n in (link.a, link.b)],
                             schema={"node": pl.Int64, "rule": pl.String}, orient="row")
                .with_columns(p=pl.col("rule").replace_strict(rule_rank, return_dtype=pl.Int64))
                .sort("p").group_by("node").agg(pl.col("rule").first()))
    absorbed = pl.DataFrame([(link.absorbed, link.score) for link in match_links],
                            schema={"det": pl.Int64, "absorbed_score": pl.Float64}, orient="row")
    matched_into = pl.DataFrame([(d, link.score) for link in match_links for d in (link.a, link.b)],
                                schema={"det": pl.Int64, "match_score": pl.Float64}, orient="row") \
        .group_by("det").agg(pl.col("match_score").max())
    current = (nodes.join(changed.with_columns(is_changed=pl.lit(True)), on="node", how="left")
               .with_columns(is_changed=pl.col("is_changed").fill_null(False))
               .join(identifiable.with_columns(identifiable=pl.lit(True)), on="node", how="left")
               .join(linked_actor.with_columns(linked=pl.lit(True)), on="node", how="left")
               .filter(~pl.col("is_changed") | (pl.col("record_type") == "record") | pl.col("linked").is_not_null()))
    sizes = current.group_by("cluster").len("cluster_size")
    current = (current.join(sizes, on="cluster").join(old, on="node", how="left")
               .join(prior_run, on="node", how="left", suffix="_prior")
               .join(det_rule, on="node", how="left", suffix="_det").join(absorbed, on="det", how="left")
               .join(matched_into, on="det", how="left"))
    # changed nodes, and stored people who were alone until now, say what links them now
    score = pl.coalesce("absorbed_score", pl.when(pl.col("rule_det").is_null()).then(pl.col("match_score")))
    method = (pl.when(pl.col("is_changed") & pl.col("identifiable").is_null()).then(pl.lit("anonymous"))
              .when(pl.col("cluster_size") == 1).then(pl.lit("singleton"))
              .when(score.is_not_null()).then(pl.lit("probabilistic"))
              .otherwise(pl.lit("deterministic")))
    fresh = pl.col("fresh")
    return (current
            .with_columns(fresh=pl.col("is_changed") | (pl.col("method") == "singleton"))
            .with_columns(score=score, method=pl.when(fresh).then(method).otherwise(pl.col("method")))
            .with_columns(
                rule=pl.when(~fresh).then(pl.col("rule"))
                .when(pl.col("method") == "probabilistic").then(pl.lit("match"))
                .when(pl.col("method") == "deterministic").then(pl.col("rule_det")),
                confidence=pl.when(~fresh).then(pl.col("confidence"))
                .when(pl.col("method") != "anonymous").then(pl.coalesce("score", pl.lit(1.0))),
                first_linked_run=pl.coalesce("first_linked_run", "first_linked_run_prior"),
                resolved_at=pl.lit(resolved_at, dtype=pl.Datetime("us")))
            .select("node", *NODE_KEYS, "observed_at", "cluster", "method", "rule", "confidence", "cluster_size",
                    "first_linked_run", "resolved_at"))
