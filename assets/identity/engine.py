"""The identity engine's full run: normalise → guard → link → split conflicts → match → stable ids.

Everything it does is driven by the attribute kinds feeds declare and by ``config/identity.yaml``:
which kinds link records on their own (rules, in priority order), which are exclusive (conflict
rules), which values are never merge keys (guards), which kinds probabilistic matching compares
and how. Event actors (the distinct identifier sets behind behaviour rows) go through the same
graph, so ten million events cost as much as their few hundred thousand actors. The steps it
shares with an incremental run are in :mod:`assets.identity.steps`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import polars as pl

from assets.identity.clustering import Clusters, Link, constrained_merge
from assets.identity.link_rows import build_links
from assets.identity.matching import MatchResult, match_profiled, profiled
from assets.identity.pins import pin_history, pin_keys, pinned_nodes, pins_not_found
from assets.identity.resolved_rows import describe_nodes, resolved_rows
from assets.identity.results import KEY_COLUMNS, NODE_KEYS, Resolution, as_labels
from assets.identity.review import above_threshold, candidate_rows, scoring_config
from assets.identity.scoring import FellegiSunter
from assets.identity.settings import IdentityConfig
from assets.identity.steps import (
    Clock,
    Roles,
    best_matches,
    exclusive_keys,
    exclusive_sets,
    guarded_values,
    match_groups,
    normalise_attributes,
    partner_values,
    shared_identifiers,
    split_shared,
    strong_identifiers,
    without_shared,
)
from assets.identity.stitching import Deterministic, stitch


def number_nodes(records: pl.DataFrame, attributes: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Give every record and actor an integer ``node`` (the pipeline does this in SQL).

    ``records``: (source, record_id, observed_at); ``attributes``: (source, record_id, record_type,
    attribute_kind, namespace, value, observed_at). Returns (nodes, attributes with ``node``)."""
    actors = (
        attributes.filter(pl.col("record_type") == "actor")
        .group_by(NODE_KEYS)
        .agg(pl.col("observed_at").min())
    )
    nodes = (
        pl.concat(
            [
                records.select("source", "record_id", pl.lit("record").alias("record_type"), "observed_at"),
                actors.select(*NODE_KEYS, "observed_at"),
            ],
            how="vertical_relaxed",
        )
        .unique(NODE_KEYS, keep="first")
        .sort(NODE_KEYS)
        .with_row_index("node")
        .with_columns(pl.col("node").cast(pl.Int64))
    )
    keyed = attributes.join(nodes.select(*NODE_KEYS, "node"), on=NODE_KEYS)
    return nodes, keyed.select("node", "attribute_kind", "namespace", "value")


KEY_LABELS = ("attribute_kind", "namespace", "kind_ns")
"""The keys' labels: a full run holds its keys (65 M at 2 M people) from the guards to the writes."""
NODE_LABELS = ("source", "record_type")
"""The nodes' labels: a full run holds its nodes (22 M at 2 M people) as long as its keys."""


@dataclass(frozen=True)
class _Guarded:
    strong: pl.DataFrame  # (node, priority, ident): usable strong identifiers, numbered in their order
    exclusive: pl.DataFrame  # (node, kind_ns, key) of the exclusive kinds, shared identifiers left out
    shared: pl.DataFrame  # (identifier): shared identifiers, never merge keys
    guarded: pl.DataFrame  # steps.guarded_values


@dataclass(frozen=True)
class Graph:
    """A full run's graph once normalised and guarded: only what linking, matching and the outputs
    still need, so the raw values and the phases' working frames are freed before they run."""

    nodes: pl.DataFrame  # (node, source, record_id, record_type, observed_at)
    usable: pl.DataFrame  # (node, attribute_kind, namespace, key, kind_ns): shared identifiers left out
    refused: pl.DataFrame  # the same columns: the rows of shared identifiers (kept in ``node_keys``)
    blocked: pl.DataFrame  # the configured placeholders met
    guard: _Guarded
    pinned: pl.DataFrame  # (pin, side, node)


def prepare(
    nodes: pl.DataFrame,
    attributes: pl.DataFrame | Iterable[pl.DataFrame],
    config: IdentityConfig,
    salt: str,
    clock: Clock,
) -> Graph:
    """Normalise the raw values, add the pinned decisions' keys and apply the guards.

    ``attributes``: (node, attribute_kind, namespace, value) in raw form (see :func:`number_nodes`),
    whole or one kind per frame (:func:`~assets.identity.steps.normalise_attributes`)."""
    keyed, blocked = normalise_attributes(attributes, config, salt)
    hashed = {k.name for k in config.attribute_kinds.values() if k.hashed}
    pinned = pinned_nodes(config.pins.all, nodes, keyed, hashed, salt)
    keyed = as_labels(pl.concat([keyed, pin_keys(config.pins.all, pinned)]), KEY_LABELS)
    nodes = as_labels(nodes, NODE_LABELS)
    clock.lap("normalise")
    guard = _guard(keyed, blocked, Roles.of(config), config)
    usable, refused = split_shared(keyed, guard.shared)
    clock.lap("guards")
    return Graph(nodes, usable, refused, blocked, guard, pinned)


def stitch_prepared(graph: Graph, config: IdentityConfig) -> Deterministic:
    """The deterministic clusters of a graph :func:`prepare` made (the Spark engine is held to them)."""
    roles = Roles.of(config)
    context = graph.usable.filter(pl.col("attribute_kind").is_in(roles.context)).select(
        "node", "kind_ns", "key"
    )
    return stitch(graph.nodes, graph.guard.strong, graph.guard.exclusive, roles, config, context)


def resolve(
    nodes: pl.DataFrame,
    attributes: pl.DataFrame,
    config: IdentityConfig,
    *,
    salt: str,
    previous: pl.DataFrame | None = None,
    run_id: str = "manual",
    resolved_at: datetime | None = None,
    previous_model: FellegiSunter | None = None,
) -> Resolution:
    """Resolve every record and every identifiable event actor to a unified id.

    ``nodes``: (node, source, record_id, record_type, observed_at) — records of identity-bearing
    feeds and event actors; ``attributes``: (node, attribute_kind, namespace, value) in raw form
    (see :func:`number_nodes`); ``previous``: (node, unified_id, id_created_at, first_linked_run)
    from the last run, for stable ids; ``previous_model``: the last run's match model, to report how
    far this run's fitted weights moved from it."""
    clock = Clock()
    return resolve_prepared(
        prepare(nodes, attributes, config, salt, clock),
        config,
        previous=previous,
        run_id=run_id,
        resolved_at=resolved_at,
        previous_model=previous_model,
        clock=clock,
    )


def resolve_prepared(
    graph: Graph,
    config: IdentityConfig,
    *,
    previous: pl.DataFrame | None,
    run_id: str,
    resolved_at: datetime | None,
    previous_model: FellegiSunter | None,
    clock: Clock,
) -> Resolution:
    """:func:`resolve` on a graph :func:`prepare` made: link, match, give stable ids.

    The graph is consumed: pass it straight from :func:`prepare` (a call hands its arguments over
    to the callee), and what the outputs do not hold (the strong identifiers, the scored pairs, the
    clusters of every node) is freed before the largest output is built, the links with both
    records' names (15 M rows at 2 M people)."""
    resolved_at = resolved_at or datetime.now()
    det = stitch_prepared(graph, config)
    clock.lap("deterministic")
    scored, matched = _match(graph.usable, det, config)
    clock.lap("matching")
    people = _people(graph, det, scored, matched, config, previous, run_id, resolved_at)
    del graph, scored
    links = build_links(det.links, matched.pairs, people.match_links, people.resolved, det.det)
    clock.lap("ids_and_links")
    stats = _stats(people, det, matched) | matched.fit | people.pin_stats | clock.stats()
    weights, changes = matched.weights, matched.model.changes(previous_model) if matched.model else {}
    model = dataclasses.replace(matched.model, context_values=det.context_values) if matched.model else None
    return Resolution(
        people.resolved,
        links,
        people.history,
        people.guarded,
        stats,
        weights,
        people.keys,
        model,
        people.candidates,
        changes,
    )


@dataclass(frozen=True)
class _People:
    """A full run's outputs but the links, and what the links and the figures still need of the
    graph and the merge once both are freed."""

    resolved: pl.DataFrame
    history: pl.DataFrame  # the merges and splits, then the pins' events
    candidates: pl.DataFrame
    keys: pl.DataFrame
    guarded: pl.DataFrame
    match_links: list[Link]
    pin_stats: dict[str, int]
    counts: dict[str, int]  # what the figures count of the graph and of the merge


def _people(
    graph: Graph,
    det: Deterministic,
    scored: MatchResult,
    matched: MatchResult,
    config: IdentityConfig,
    previous: pl.DataFrame | None,
    run_id: str,
    resolved_at: datetime,
) -> _People:
    """Merge the matches, give stable ids, keep the review candidates: everything of the graph the
    links do not need."""
    roles, nodes, usable, guard = Roles.of(config), graph.nodes, graph.usable, graph.guard
    merge = merge_matches(usable, det.det, matched.pairs, roles, config)
    described = describe_nodes(nodes, usable, guard.strong, det.links, merge.final, merge.absorbed, roles)
    resolved, history = resolved_rows(described, nodes, previous, run_id, resolved_at)
    del described
    pin_events, pin_stats = pin_history(config.pins.all, graph.pinned, resolved, run_id, resolved_at)
    pin_stats["pins_with_a_side_not_found"] = pins_not_found(config.pins.all, graph.pinned)
    counts = {
        "identifiers": cast(int, guard.strong.get_column("ident").max() or -1) + 1,
        "blocked_values": graph.blocked.height,
        "shared_identifiers": guard.shared.height,
        "ambiguous_matches_dropped": matched.pairs.height - merge.best.height,
        "clusters_joined_by_matching": len(merge.links),
        "history_events": history.height,  # the merges and splits; the pins' events are not counted
    }
    return _People(
        resolved,
        pl.concat([history, pin_events]),
        candidate_rows(scored.pairs, merge.final, nodes, config, run_id),
        pl.concat([usable.select(KEY_COLUMNS), graph.refused.select(KEY_COLUMNS)]),
        guard.guarded,
        merge.links,
        pin_stats,
        counts,
    )


def _match(
    usable: pl.DataFrame, det: Deterministic, config: IdentityConfig
) -> tuple[MatchResult, MatchResult]:
    """Probabilistic matching of the stitched clusters on the compared kinds: every candidate pair
    scored down to the review floor, and those that may merge (reaching ``min_probability``)."""
    settings = scoring_config(config)
    compared = (
        usable.filter(pl.col("attribute_kind").is_in(config.compared_kinds))
        .join(det.det.rename({"det": "cluster"}), on="node")
        .select("node", "cluster", "attribute_kind", "key")
    )
    inputs = profiled(compared, settings)
    del compared  # the compared keys are the largest frame of the run: free them before the pairs
    scored = match_profiled(inputs, settings)
    return scored, dataclasses.replace(scored, pairs=above_threshold(scored.pairs, config))


def _guard(keyed: pl.DataFrame, blocked: pl.DataFrame, roles: Roles, config: IdentityConfig) -> _Guarded:
    """Drop the shared identifiers from the strong ones and from the exclusive values."""
    identifiers = strong_identifiers(keyed, roles)
    exclusive = exclusive_keys(keyed, roles.exclusive)
    shared = shared_identifiers(partner_values(identifiers, exclusive), config.max_partner_values)
    strong = identifiers.join(shared, on="identifier", how="anti").select(
        "node", "priority", ident=pl.col("identifier").rank("dense").cast(pl.Int64) - 1
    )
    return _Guarded(
        strong, without_shared(exclusive, shared), shared, guarded_values(blocked, identifiers, shared)
    )


@dataclass(frozen=True)
class Merged:
    final: pl.DataFrame  # (node, det, cluster): each node's cluster after matching
    best: pl.DataFrame  # the unambiguous scored pairs
    links: list[Link]  # the matches merged
    absorbed: pl.DataFrame  # (det, score): deterministic clusters folded into another by a match


def merge_matches(
    keyed: pl.DataFrame, det: pl.DataFrame, pairs: pl.DataFrame, roles: Roles, config: IdentityConfig
) -> Merged:
    """Merge matched deterministic clusters strongest first, refusing conflicts and ambiguity."""
    involved = pl.concat([pairs.get_column("cluster_a"), pairs.get_column("cluster_b")]).unique().implode()
    det_values = exclusive_sets(
        exclusive_keys(keyed, roles.matching_exclusive)
        .join(det, on="node")
        .filter(pl.col("det").is_in(involved))
        .select("det", "kind_ns", "key"),
        "det",
    )
    merged = Clusters(max_size=config.max_cluster_records, fuzzy=roles.fuzzy, owner_share=config.owner_share)
    for cluster, size in det.group_by("det").len("size").filter(pl.col("det").is_in(involved)).iter_rows():
        merged.add(cluster, det_values.get(cluster, {}), size)
    best = best_matches(pairs, merged, config.matching.min_probability)
    links = constrained_merge(merged, match_groups(best))
    absorbed = pl.DataFrame(
        [(link.absorbed, link.score) for link in links],
        schema={"det": pl.Int64, "score": pl.Float64},
        orient="row",
    )
    roots = pl.DataFrame(
        {"det": list(merged.parent), "root": [merged.find(d) for d in merged.parent]},
        schema={"det": pl.Int64, "root": pl.Int64},
    )
    final = (
        det.join(roots, on="det", how="left").with_columns(cluster=pl.coalesce("root", "det")).drop("root")
    )
    return Merged(final, best, links, absorbed)


def _stats(people: _People, det: Deterministic, matched: MatchResult) -> dict[str, int | float]:
    resolved = people.resolved
    records = resolved.filter(pl.col("record_type") == "record")
    split_parts = det.det.filter(pl.col("node").is_in(det.split_nodes.implode())).get_column("det").n_unique()
    return people.counts | {
        "records": records.height,
        "actors": resolved.height - records.height,
        "anonymous_records": records.filter(pl.col("method") == "anonymous").height,
        "conflicted_components": det.conflicted.len(),
        "parts_split_from_conflicts": split_parts - det.conflicted.len(),
        "match_candidates": matched.candidates,
        "match_blocks_skipped": matched.skipped_blocks,
        "candidate_matches": matched.pairs.height,
        "match_prior": matched.prior or 0.0,
        "users": resolved.get_column("unified_id").drop_nulls().n_unique(),
        "users_with_records": records.get_column("unified_id").drop_nulls().n_unique(),
        "largest_cluster": cast(
            int, records.group_by("unified_id").len().drop_nulls().get_column("len").max() or 0
        ),
    }
