"""Incremental identity runs: link the records that changed against the stored graph.

A daily partition adds a few thousand records to a graph of millions. Instead of resolving
everything again, an incremental run

1. normalises only the changed nodes (new records, and actors with new attribute rows); an actor
   already with a person brings back only its old identifiers and exclusive values — its old
   visits and stores stay stored and are read as its person's;
2. asks the store (:class:`~assets.identity.store.GraphLookups`; in DuckDB, ``identity.node_keys``)
   for the people (unified ids) already holding one of their strong identifiers — each person one
   pre-merged unit summarised by the store (size, exclusive values, compared keys), never loaded
   record by record — and re-checks the shared-identifier guard for
   those identifiers over every record holding them;
3. replays the changed nodes' identifiers strongest rule first through the same conflict-aware
   union-find as a full run (two people's cards still never merge);
4. finds the people sharing a blocking-key combination the increment created (one its person did
   not hold) with the touched clusters and scores those pairs with the match model fitted by the
   last full run (name frequencies of the whole graph), merging with the same ambiguity and
   conflict rules (:mod:`assets.identity.increment_matching`);
5. keeps ids by the same rule as a full run (a merge keeps the oldest id) and returns the changed
   nodes' rows and what changes about the stored people it joined, for the store to write.

People it does not touch keep their rows byte for byte. It never splits a stored person: evidence
that would (an identifier turning shared, a new conflict) waits for the next full rebuild
(``incremental.full_rebuild_days``), as does weighing again, with a person's new evidence, a pair
that shares only combinations both held before (an earlier run weighed it).
``benchmarks/bench_identity.py`` measures the agreement with a full rebuild of the same data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

import polars as pl

from assets.identity.clustering import Clusters, Link, constrained_merge
from assets.identity.increment_matching import IncrementMatcher, Units
from assets.identity.increment_rows import (
    _unit_updates,
    assign_ids,
    cluster_rows,
    increment_links,
    link_scores,
    resolved_rows,
    touched_clusters,
)
from assets.identity.matching import MatchResult
from assets.identity.pins import pin_history, pin_keys, pinned_nodes
from assets.identity.results import KEY_COLUMNS, RESOLVED_SCHEMA, Increment, Resolution
from assets.identity.scoring import FellegiSunter
from assets.identity.settings import IdentityConfig
from assets.identity.steps import (
    Clock,
    Roles,
    context_counts,
    context_value_counts,
    exclusive_keys,
    exclusive_sets,
    guarded_values,
    normalise_attributes,
    partner_values,
    shared_identifiers,
    strong_identifiers,
    without_shared,
)
from assets.identity.store import GraphLookups, GraphStore


def resolve_increment(
    store: GraphStore,
    changed: pl.DataFrame,
    attributes: pl.DataFrame,
    config: IdentityConfig,
    *,
    salt: str,
    model: FellegiSunter | None,
    run_id: str,
    resolved_at: datetime,
    users: int,
) -> Increment:
    """Link the changed nodes against the graph ``store`` keeps.

    ``changed``: (node, source, record_id, record_type, observed_at) of new nodes and of nodes that
    gained attribute rows; ``attributes``: all their (node, attribute_kind, namespace, value) — both
    as :meth:`~assets.identity.store.GraphStore.load_changed` returns them; ``model``: the last full
    run's match model (None: no matching); ``users``: how many unified ids the stored graph holds."""
    clock, roles = Clock(), Roles.of(config)
    graph = store.lookups(changed, sorted(set(roles.matching_exclusive) | set(config.compared_kinds)))
    keyed, blocked, pinned = _keyed(changed, attributes, config, salt)
    identifiers = strong_identifiers(keyed, roles)
    clock.lap("normalise")
    guard = _guard(graph, keyed, identifiers, roles, config)
    previous = graph.previous()
    clock.lap("lookup")
    usable = without_shared(keyed, guard.neutral)
    context = usable.filter(pl.col("attribute_kind").is_in(roles.context)).select("node", "kind_ns", "key")
    stitched = _stitch(graph, changed, guard, previous, roles, config, context, model)
    clock.lap("deterministic")
    matched, match_links, merged = _match(
        graph, usable, stitched, changed, roles, config, model, users, clock
    )
    clock.lap("matching")
    frame = touched_clusters(changed, stitched.units, stitched.clusters, merged)
    scores = link_scores(stitched.element_links, match_links, roles)
    rows, stored, sizes = cluster_rows(
        changed, frame, usable, guard.strong, previous, stitched.units, scores, roles
    )
    ids, history, gained = assign_ids(rows, stored, previous, graph, run_id, resolved_at)
    resolved = resolved_rows(rows, ids, run_id, resolved_at)
    pin_events, pin_stats = pin_history(config.pins.all, pinned, resolved, run_id, resolved_at)
    unit_updates = _unit_updates(stored, ids, sizes, scores)
    links = increment_links(graph, stitched.det_links, matched, match_links, rows, resolved, stored, ids)
    clock.lap("ids_and_links")
    rewritten, now = _rewritten(resolved, stored, unit_updates), users + gained
    counts = _stats(
        changed, stitched.units, unit_updates, rewritten, guard, links, matched, match_links, history, now
    )
    final = resolved.select(list(RESOLVED_SCHEMA)).cast(RESOLVED_SCHEMA)
    history, guarded = pl.concat([history, pin_events]), guarded_values(blocked, identifiers, guard.shared)
    weights, stats = model.describe() if model else {}, counts | pin_stats | clock.stats()
    resolution = Resolution(final, links, history, guarded, stats, weights, keyed, model)
    return Increment(resolution, unit_updates)


def _keyed(
    changed: pl.DataFrame, attributes: pl.DataFrame, config: IdentityConfig, salt: str
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The changed nodes' normalised keys with the keys of the pins naming them; the placeholder
    values refused; which node each pin side names."""
    keyed, blocked = normalise_attributes(attributes, config, salt)
    hashed = {k.name for k in config.attribute_kinds.values() if k.hashed}
    pinned = pinned_nodes(config.pins.all, changed, keyed, hashed, salt)
    keyed = pl.concat([keyed.select(KEY_COLUMNS), pin_keys(config.pins.all, pinned).select(KEY_COLUMNS)])
    return keyed, blocked, pinned


def _match(
    graph: GraphLookups,
    usable: pl.DataFrame,
    stitched: _Stitched,
    changed: pl.DataFrame,
    roles: Roles,
    config: IdentityConfig,
    model: FellegiSunter | None,
    users: int,
    clock: Clock,
) -> tuple[MatchResult | None, list[Link], Clusters | None]:
    """Probabilistic matching of the clusters the changed nodes touch, with the last full run's
    model (nothing to do without one, or when it compares none of the configured kinds)."""
    if model is None or not any(k in model.weights for k in config.compared_kinds):
        return None, [], None
    dirty = {stitched.clusters.find(n) for n in changed.get_column("node").to_list()}
    matcher = IncrementMatcher(
        graph, usable, stitched.unit_keys, stitched.units, stitched.clusters, roles, config, model, users
    )
    return matcher.run(dirty, clock)


def _rewritten(resolved: pl.DataFrame, stored: pl.DataFrame, unit_updates: pl.DataFrame) -> int:
    """Rows this run writes: the changed nodes' and those of stored people whose id changes."""
    moved = stored.join(unit_updates.select(pl.col("old_id").alias("unified_id")), on="unified_id")
    return resolved.height + cast(int, moved.get_column("size").sum() or 0)


@dataclass(frozen=True)
class _Guarded:
    strong: pl.DataFrame  # the changed nodes' usable strong identifiers
    holders: pl.DataFrame  # (unified_id, identifier, node): stored people holding them
    shared: pl.DataFrame  # (identifier): identifiers this run found shared
    exclusive: (
        pl.DataFrame
    )  # (node, kind_ns, key) of the changed nodes' exclusive kinds, neutral values left out
    neutral: pl.DataFrame  # (identifier): shared identifiers, found now or before — neutral evidence


def _guard(
    graph: GraphLookups, keyed: pl.DataFrame, identifiers: pl.DataFrame, roles: Roles, config: IdentityConfig
) -> _Guarded:
    """The shared-identifier guard over every record holding the changed nodes' identifiers,
    stored ones included; identifiers found shared before stay guarded."""
    strong = identifiers.join(
        graph.guarded_identifiers(), on=["attribute_kind", "namespace", "key"], how="anti"
    ).select("node", "attribute_kind", "namespace", "kind_ns", "key", "identifier", "priority")
    exclusive = exclusive_keys(keyed, roles.exclusive)
    holders, stored_partners = graph.holders(
        strong.select("attribute_kind", "kind_ns", "key", "identifier").unique(), roles.exclusive
    )
    partners = pl.concat(
        [partner_values(strong, exclusive), stored_partners.rename({"kind_ns": "partner_kind"})]
    )
    shared = shared_identifiers(partners, config.max_partner_values)
    guarded_before = identifiers.join(graph.guarded_identifiers(), on=["attribute_kind", "namespace", "key"])
    neutral = pl.concat([shared, guarded_before.select("identifier")]).unique()
    return _Guarded(
        strong.join(shared, on="identifier", how="anti"),
        holders.join(shared, on="identifier", how="anti"),
        shared,
        without_shared(exclusive, neutral),
        neutral,
    )


@dataclass(frozen=True)
class _Stitched:
    clusters: Clusters  # union-find over changed nodes (>= 0) and stored people (< 0)
    units: Units
    unit_keys: pl.DataFrame  # the stored people's keys (store.PERSON_KEYS_SCHEMA)
    element_links: list[Link]  # the links between union-find elements
    det_links: list[Link]  # as shown: a stored person's side at one of their records holding the identifier


def _union_find(
    roles: Roles, config: IdentityConfig, context: pl.DataFrame, model: FellegiSunter | None
) -> Clusters:
    return Clusters(
        max_size=config.max_cluster_records,
        fuzzy=roles.fuzzy,
        owner_share=config.owner_share,
        # the full run's counts: the increment's own few values would make a new one look likely
        context_values=(model.context_values if model else None) or context_value_counts(context),
    )


def _stitch(
    graph: GraphLookups,
    changed: pl.DataFrame,
    guard: _Guarded,
    previous: pl.DataFrame,
    roles: Roles,
    config: IdentityConfig,
    context: pl.DataFrame,
    model: FellegiSunter | None,
) -> _Stitched:
    """Deterministic linking: stored people are single elements; the changed nodes' identifiers,
    strongest rule first, join them through the same conflict-aware union-find as a full run."""
    clusters = _union_find(roles, config, context, model)
    units = Units()
    summary, unit_keys = graph.units(
        pl.concat([guard.holders.get_column("unified_id"), previous.get_column("unified_id")])
    )
    unit_keys = without_shared(unit_keys, guard.neutral)
    units.add(summary, unit_keys, clusters, roles)
    values = exclusive_sets(guard.exclusive, "node")
    contexts = context_counts(context, changed.get_column("node"))
    for node in changed.get_column("node").to_list():
        clusters.add(node, values.get(node, {}), context=contexts.get(node))
    # a changed node that already belonged to a stored person stays with them
    for node, element in units.of(previous).select("node", "element").iter_rows():
        if clusters.compatible(clusters.find(element), clusters.find(node)):
            clusters.union(clusters.find(element), clusters.find(node))
    held = units.of(guard.holders)
    members = pl.concat(
        [
            guard.strong.select("identifier", "priority", "node"),
            held.join(guard.strong.select("identifier", "priority").unique(), on="identifier").select(
                "identifier", "priority", pl.col("element").alias("node")
            ),
        ]
    )
    groups = (
        members.sort("priority", "identifier", "node")
        .group_by("priority", "identifier", maintain_order=True)
        .agg(pl.col("node"))
    )
    shown = {(e, i): n for i, e, n in held.select("identifier", "element", "node").iter_rows()}
    element_links: list[Link] = []
    det_links: list[Link] = []
    for priority, identifier, nodes in groups.iter_rows():
        for link in constrained_merge(clusters, [(roles.rule_names[priority], nodes, None)]):
            element_links.append(link)
            det_links.append(
                Link(
                    shown.get((link.a, identifier), link.a),
                    shown.get((link.b, identifier), link.b),
                    link.rule,
                    None,
                    link.absorbed,
                )
            )
    return _Stitched(clusters, units, unit_keys, element_links, det_links)


def _stats(
    changed: pl.DataFrame,
    units: Units,
    unit_updates: pl.DataFrame,
    rewritten: int,
    guard: _Guarded,
    links: pl.DataFrame,
    matched: MatchResult | None,
    match_links: list[Link],
    history: pl.DataFrame,
    users: int,
) -> dict[str, int | float]:
    return {
        "changed_nodes": changed.height,
        "stored_people_loaded": units.summary.height,
        "stored_people_rewritten": unit_updates.height,
        "rewritten_nodes": rewritten,
        "new_shared_identifiers": guard.shared.height,
        "links_added": links.height,
        "match_candidates": matched.candidates if matched else 0,
        "candidate_matches": matched.pairs.height if matched else 0,
        "clusters_joined_by_matching": len(match_links),
        "history_events": history.height,
        "users": users,
    }
