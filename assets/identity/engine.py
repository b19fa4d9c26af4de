"""The identity engine: normalise → guard → link → split conflicts → match → stable ids.

Everything it does is driven by the attribute kinds feeds declare and by ``config/identity.yaml``:
which kinds link records on their own (rules, in priority order), which are exclusive (conflict
rules), which values are never merge keys (guards), which kinds probabilistic matching compares
and how. Event actors (the distinct identifier sets behind behaviour rows) go through the same
graph, so ten million events cost as much as their few hundred thousand actors.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import minimum_spanning_tree

from assets.identity.clustering import Clusters, Link, components, conflicted_components, constrained_merge
from assets.identity.matching import match
from assets.identity.normalize import hash_key, normaliser_for
from assets.identity.scoring import FellegiSunter
from assets.identity.stable_ids import assign_ids
from pipelines.config import IdentityConfig

RESOLVED_SCHEMA = {
    "source": pl.String, "record_id": pl.String, "record_type": pl.String, "unified_id": pl.String,
    "method": pl.String, "rule": pl.String, "confidence": pl.Float64,
    "observed_at": pl.Datetime("us"), "first_linked_run": pl.String, "id_created_at": pl.Datetime("us"),
    "resolved_at": pl.Datetime("us"),
    "node": pl.Int64,  # the record's permanent number in the stored graph (identity.nodes)
}
LINKS_SCHEMA = {
    "source_a": pl.String, "record_id_a": pl.String, "record_type_a": pl.String,
    "source_b": pl.String, "record_id_b": pl.String, "record_type_b": pl.String,
    "unified_id": pl.String, "method": pl.String, "rule": pl.String, "score": pl.Float64, "evidence": pl.String,
}
NODE_KEYS = ["source", "record_id", "record_type"]


@dataclass(frozen=True)
class Resolution:
    resolved: pl.DataFrame  # RESOLVED_SCHEMA
    links: pl.DataFrame  # LINKS_SCHEMA: the links that built each cluster
    history: pl.DataFrame  # stable_ids.HISTORY_SCHEMA
    guarded: pl.DataFrame  # attribute_kind, namespace, key, guard
    stats: dict[str, int | float]
    match_weights: dict[str, dict[str, float]] = field(default_factory=dict)
    keys: pl.DataFrame = field(default_factory=pl.DataFrame)  # node, attribute_kind, namespace, kind_ns, key
    model: FellegiSunter | None = None  # the fitted match model (an incremental run reuses it)


@dataclass(frozen=True)
class Roles:
    """What each declared kind does in resolution, read once from the config."""

    rank: dict[str, int]  # strong kind -> priority of its rule (0 strongest)
    rule_names: list[str]
    exclusive: list[str]
    matching_exclusive: list[str]
    context: list[str]
    fuzzy: dict[str, float]  # exclusive kinds whose similar values are no conflict (typo'd names)

    @classmethod
    def of(cls, config: IdentityConfig) -> "Roles":
        kinds = config.attribute_kinds.values()
        return cls({kind: i for i, rule in enumerate(config.rules) for kind in rule.kinds},
                   [rule.name for rule in config.rules],
                   [k.name for k in kinds if k.exclusive], [k.name for k in kinds if k.exclusive_in_matching],
                   [k.name for k in kinds if k.context],
                   {k.name: config.matching.string_threshold for k in kinds if k.compare in ("name", "string")})


def number_nodes(records: pl.DataFrame, attributes: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Give every record and actor an integer ``node`` (the pipeline does this in SQL).

    ``records``: (source, record_id, observed_at); ``attributes``: (source, record_id, record_type,
    attribute_kind, namespace, value, observed_at). Returns (nodes, attributes with ``node``)."""
    actors = (attributes.filter(pl.col("record_type") == "actor").group_by(NODE_KEYS)
              .agg(pl.col("observed_at").min()))
    nodes = (pl.concat([records.select("source", "record_id", pl.lit("record").alias("record_type"), "observed_at"),
                        actors.select(*NODE_KEYS, "observed_at")], how="vertical_relaxed")
             .unique(NODE_KEYS, keep="first").sort(NODE_KEYS).with_row_index("node")
             .with_columns(pl.col("node").cast(pl.Int64)))
    keyed = attributes.join(nodes.select(*NODE_KEYS, "node"), on=NODE_KEYS)
    return nodes, keyed.select("node", "attribute_kind", "namespace", "value")


def _normalise_kind(values: pl.Series, normalise: Callable[[str], str | None]) -> pl.Series:
    """Normalise each distinct value once and spread the keys back by dense rank."""
    codes = values.rank("dense").cast(pl.Int64) - 1
    distinct = values.drop_nulls().unique().sort()
    keys = pl.Series([normalise(v) for v in distinct.to_list()], dtype=pl.String)
    return keys.gather(codes)


def normalise_attributes(attributes: pl.DataFrame, config: IdentityConfig,
                         salt: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Comparable keys for every declared kind (undeclared kinds are ignored), split into
    (kept, blocked): placeholders are matched on their normalised form."""
    parts, blocked = [], []
    namespaced = {k.name for k in config.attribute_kinds.values() if k.namespaced}
    for (kind_name,), part in attributes.filter(pl.col("value").is_not_null()).partition_by(
            "attribute_kind", as_dict=True).items():
        kind = config.attribute_kinds.get(kind_name)
        if kind is None:
            continue
        normalise = normaliser_for(kind.normalise, config.surname_readings)
        part = part.with_columns(key=_normalise_kind(part.get_column("value"), normalise)).drop_nulls("key")
        stop = sorted({normalise(v) or v for v in config.blocked_values.get(kind_name, ())})
        if stop:
            blocked.append(part.filter(pl.col("key").is_in(stop)).select("attribute_kind", "namespace", "key").unique())
            part = part.filter(~pl.col("key").is_in(stop))
        if kind.hashed:
            part = part.with_columns(key=_normalise_kind(part.get_column("key"), lambda v: hash_key(v, salt)))
        kind_ns = (pl.concat_str([pl.col("attribute_kind"), pl.col("namespace").fill_null("")], separator=":")
                   if kind_name in namespaced else pl.col("attribute_kind"))
        parts.append(part.select("node", "attribute_kind", pl.col("namespace").fill_null(""), "key",
                                 kind_ns.alias("kind_ns")))
    empty = pl.DataFrame(schema={"node": pl.Int64, "attribute_kind": pl.String, "namespace": pl.String,
                                 "key": pl.String, "kind_ns": pl.String})
    guarded = pl.DataFrame(schema={"attribute_kind": pl.String, "namespace": pl.String, "key": pl.String})
    return (pl.concat(parts) if parts else empty), (pl.concat(blocked) if blocked else guarded)


def shared_identifiers(strong: pl.DataFrame, exclusive: pl.DataFrame, max_partner_values: int) -> pl.DataFrame:
    """Identifiers seen with more than ``max_partner_values`` distinct values of one exclusive
    kind (per namespace) other than their own: a front-desk phone, a store's demo tablet."""
    pairs = (strong.select("node", "identifier", "kind_ns")
             .join(exclusive.select("node", pl.col("kind_ns").alias("partner_kind"), pl.col("key").alias("partner")),
                   on="node")
             .filter(pl.col("kind_ns") != pl.col("partner_kind")))
    counts = pairs.group_by("identifier", "partner_kind").agg(pl.col("partner").n_unique().alias("n"))
    return counts.filter(pl.col("n") > max_partner_values).select("identifier").unique()


def _star_forest(strong: pl.DataFrame, n_nodes: int, keep_nodes: pl.Series) -> pl.DataFrame:
    """A spanning forest of the given nodes preferring strong rules: for every identifier, edges from
    its first node to the others weighted by rule priority, then a minimum spanning tree."""
    edges = (strong.filter(pl.col("node").is_in(keep_nodes.implode()))
             .with_columns(first=pl.col("node").min().over("ident"))
             .filter(pl.col("node") != pl.col("first"))
             .group_by("first", "node").agg(pl.col("priority").min()))
    if edges.is_empty():
        return pl.DataFrame(schema={"a": pl.Int64, "b": pl.Int64, "priority": pl.Int64})
    a = edges.get_column("first").to_numpy().astype(np.int64)
    b = edges.get_column("node").to_numpy().astype(np.int64)
    w = edges.get_column("priority").to_numpy().astype(np.float64) + 1.0
    tree = minimum_spanning_tree(coo_matrix((w, (a, b)), shape=(n_nodes, n_nodes)).tocsr()).tocoo()
    return pl.DataFrame({"a": tree.row.astype(np.int64), "b": tree.col.astype(np.int64),
                         "priority": (tree.data - 1).astype(np.int64)})


def exclusive_sets(exclusive: pl.DataFrame, by: str) -> dict[int, dict[str, set[str]]]:
    out: dict[int, dict[str, set[str]]] = {}
    grouped = exclusive.group_by(by, "kind_ns").agg(pl.col("key").unique())
    for owner, kind_ns, keys in grouped.iter_rows():
        out.setdefault(owner, {})[kind_ns] = set(keys)
    return out


def resolve(nodes: pl.DataFrame, attributes: pl.DataFrame, config: IdentityConfig, *, salt: str,
            previous: pl.DataFrame | None = None, run_id: str = "manual",
            resolved_at: datetime | None = None) -> Resolution:
    """Resolve every record and every identifiable event actor to a unified id.

    ``nodes``: (node, source, record_id, record_type, observed_at) — records of identity-bearing
    feeds and event actors; ``attributes``: (node, attribute_kind, namespace, value) in raw form
    (see :func:`number_nodes`); ``previous``: (node, unified_id, id_created_at, first_linked_run)
    from the last run, for stable ids."""
    resolved_at = resolved_at or datetime.now()
    clock = Clock()
    roles = Roles.of(config)
    rank, rule_names, context_kinds = roles.rank, roles.rule_names, roles.context
    exclusive_kinds, matching_exclusive_kinds = roles.exclusive, roles.matching_exclusive

    keyed, blocked = normalise_attributes(attributes, config, salt)
    clock.lap("normalise")
    strong = keyed.filter(pl.col("attribute_kind").is_in(list(rank))).with_columns(
        identifier=pl.concat_str(["kind_ns", "key"], separator=":"),
        priority=pl.col("attribute_kind").replace_strict(rank, return_dtype=pl.Int64))
    exclusive = keyed.filter(pl.col("attribute_kind").is_in(exclusive_kinds)).select("node", "kind_ns", "key")
    shared = shared_identifiers(strong, exclusive, config.max_partner_values)
    guarded = pl.concat([
        blocked.with_columns(guard=pl.lit("blocked_value")),
        strong.join(shared, on="identifier", how="semi").select("attribute_kind", "namespace", "key").unique()
        .with_columns(guard=pl.lit("shared_identifier")),
    ]).sort("attribute_kind", "namespace", "key")
    strong = strong.join(shared, on="identifier", how="anti")
    strong = strong.with_columns(ident=pl.col("identifier").rank("dense").cast(pl.Int64) - 1)
    clock.lap("guards")

    # Deterministic components; conflicted ones are rebuilt link by link, strongest first.
    n_nodes = int(nodes.get_column("node").max()) + 1 if nodes.height else 0
    labels = pl.DataFrame({"node": np.arange(n_nodes, dtype=np.int64), "component": components(n_nodes, strong)})
    bad = conflicted_components(labels, exclusive, config.max_cluster_records)
    in_bad = pl.col("component").is_in(bad.implode())
    bad_nodes = labels.filter(in_bad).get_column("node")
    fuzzy = roles.fuzzy
    clusters = Clusters(max_size=config.max_cluster_records, fuzzy=fuzzy)
    values = exclusive_sets(exclusive.filter(pl.col("node").is_in(bad_nodes.implode())), "node")
    for node in bad_nodes.to_list():
        clusters.add(node, values.get(node, {}))
    groups = (strong.filter(pl.col("node").is_in(bad_nodes.implode())).sort("priority", "identifier", "node")
              .group_by("priority", "identifier", maintain_order=True).agg(pl.col("node")))
    split_links = constrained_merge(clusters, ((rule_names[p], members, None) for p, _, members in groups.iter_rows()))
    offset = int(labels.get_column("component").max() or 0) + 1
    split_label = pl.DataFrame({"node": bad_nodes, "split": [offset + clusters.find(n) for n in bad_nodes.to_list()]},
                               schema={"node": pl.Int64, "split": pl.Int64})
    det = (labels.join(split_label, on="node", how="left")
           .select("node", det=pl.coalesce("split", "component")))
    forest = _star_forest(strong, n_nodes, labels.filter(~in_bad).get_column("node")).with_columns(
        rule=pl.col("priority").replace_strict(dict(enumerate(rule_names)), return_dtype=pl.String))
    det_links = pl.concat([
        forest.select("a", "b", "rule"),
        pl.DataFrame([(link.a, link.b, link.rule) for link in split_links],
                     schema={"a": pl.Int64, "b": pl.Int64, "rule": pl.String}, orient="row"),
    ])
    clock.lap("deterministic")

    # Probabilistic matching between deterministic clusters.
    compared = (keyed.filter(pl.col("attribute_kind").is_in(config.compared_kinds))
                .join(det.rename({"det": "cluster"}), on="node").select("node", "cluster", "attribute_kind", "key"))
    matched = match(compared, config)
    clock.lap("matching")
    involved = pl.concat([matched.pairs.get_column("cluster_a"), matched.pairs.get_column("cluster_b")]).unique()
    det_values = exclusive_sets(
        keyed.filter(pl.col("attribute_kind").is_in(matching_exclusive_kinds)).select("node", "kind_ns", "key")
        .join(det, on="node").filter(pl.col("det").is_in(involved.implode())).select("det", "kind_ns", "key"), "det")
    merged = Clusters(max_size=config.max_cluster_records, fuzzy=fuzzy)
    for cluster, size in det.group_by("det").len("size").filter(pl.col("det").is_in(involved.implode())).iter_rows():
        merged.add(cluster, det_values.get(cluster, {}), size)
    best = unambiguous(matched.pairs, merged).sort("score", "cluster_a", "cluster_b", descending=[True, False, False])
    match_links = constrained_merge(merged, (("match", (a, b), score) for a, b, score in
                                             best.select("cluster_a", "cluster_b", "score").iter_rows()))
    absorbed = pl.DataFrame([(link.absorbed, link.score) for link in match_links],
                            schema={"det": pl.Int64, "score": pl.Float64}, orient="row")
    roots = pl.DataFrame({"det": list(merged.parent), "root": [merged.find(d) for d in merged.parent]},
                         schema={"det": pl.Int64, "root": pl.Int64})
    final = det.join(roots, on="det", how="left").with_columns(cluster=pl.coalesce("root", "det")).drop("root")

    # Per node: method, rule and confidence.
    node_rule = (pl.concat([det_links.select(pl.col("a").alias("node"), "rule"),
                            det_links.select(pl.col("b").alias("node"), "rule")])
                 .with_columns(priority=pl.col("rule").replace_strict({r: i for i, r in enumerate(rule_names)},
                                                                      return_dtype=pl.Int64))
                 .sort("priority").group_by("node").agg(pl.col("rule").first()))
    identifiable = (keyed.filter(~pl.col("attribute_kind").is_in(context_kinds)).select("node").unique()
                    .with_columns(identifiable=pl.lit(True)))
    linked_actor = strong.select("node").unique().with_columns(linked=pl.lit(True))
    current = (nodes.join(final, on="node").join(identifiable, on="node", how="left")
               .join(linked_actor, on="node", how="left")
               # actors without a usable strong identifier stay anonymous event streams
               .filter((pl.col("record_type") == "record") | pl.col("linked").is_not_null()))
    sizes = current.group_by("cluster").len("cluster_size")
    current = (current.join(sizes, on="cluster").join(node_rule, on="node", how="left")
               .join(absorbed, on="det", how="left")
               .with_columns(
                   method=pl.when(pl.col("identifiable").is_null()).then(pl.lit("anonymous"))
                   .when(pl.col("cluster_size") == 1).then(pl.lit("singleton"))
                   .when(pl.col("score").is_not_null()).then(pl.lit("probabilistic"))
                   .otherwise(pl.lit("deterministic")))
               .with_columns(
                   confidence=pl.when(pl.col("method") != "anonymous").then(pl.coalesce("score", pl.lit(1.0))),
                   rule=pl.when(pl.col("method") == "probabilistic").then(pl.lit("match"))
                   .when(pl.col("method").is_in(["singleton", "anonymous"])).then(None).otherwise(pl.col("rule"))))

    # Records without any usable identifier (a cash sale, a placeholder number) are nobody we
    # know: they keep no unified id rather than each becoming a fake one-record customer.
    known = current.filter(pl.col("method") != "anonymous")
    assignment = assign_ids(known.select("node", "source", "record_id", "cluster", "observed_at"), previous, run_id,
                            resolved_at)
    first_run = (previous.select("node", "first_linked_run") if previous is not None and not previous.is_empty()
                 else pl.DataFrame(schema={"node": pl.Int64, "first_linked_run": pl.String}))
    resolved = (current.join(assignment.ids, on="cluster", how="left").join(first_run, on="node", how="left")
                .with_columns(first_linked_run=pl.when(pl.col("method") != "anonymous")
                              .then(pl.coalesce("first_linked_run", pl.lit(run_id))),
                              resolved_at=pl.lit(resolved_at, dtype=pl.Datetime("us"))))
    links = build_links(det_links, matched.pairs, match_links, resolved, det)
    clock.lap("ids_and_links")

    records = resolved.filter(pl.col("record_type") == "record")
    stats: dict[str, int | float] = {
        "records": records.height,
        "actors": resolved.height - records.height,
        "anonymous_records": records.filter(pl.col("method") == "anonymous").height,
        "identifiers": int(strong.get_column("ident").max() or -1) + 1,
        "blocked_values": blocked.height,
        "shared_identifiers": shared.height,
        "conflicted_components": bad.len(),
        "parts_split_from_conflicts": det.filter(pl.col("node").is_in(bad_nodes.implode())).get_column("det").n_unique()
        - bad.len(),
        "match_candidates": matched.candidates,
        "match_blocks_skipped": matched.skipped_blocks,
        "candidate_matches": matched.pairs.height,
        "ambiguous_matches_dropped": matched.pairs.height - best.height,
        "clusters_joined_by_matching": len(match_links),
        "match_prior": matched.prior or 0.0,
        "users": resolved.get_column("unified_id").drop_nulls().n_unique(),
        "users_with_records": records.get_column("unified_id").drop_nulls().n_unique(),
        "largest_cluster": int(records.group_by("unified_id").len().drop_nulls().get_column("len").max() or 0),
        "history_events": assignment.history.height,
        **{f"seconds_{phase}": secs for phase, secs in clock.laps.items()},
    }
    return Resolution(resolved.select(list(RESOLVED_SCHEMA)).cast(RESOLVED_SCHEMA), links, assignment.history,
                      guarded.rename({"key": "value"}), stats, matched.weights,
                      keyed.select("node", "attribute_kind", "namespace", "kind_ns", "key"), matched.model)


def unambiguous(pairs: pl.DataFrame, clusters: Clusters) -> pl.DataFrame:
    """Drop every match of a cluster whose partners are different people from each other: a
    receipt naming 王伟 at a store where two different 王伟 shop belongs to neither for sure."""
    sides = pl.concat([pairs.select(pl.col("cluster_a").alias("c"), pl.col("cluster_b").alias("p")),
                       pairs.select(pl.col("cluster_b").alias("c"), pl.col("cluster_a").alias("p"))])
    multi = sides.group_by("c").agg(pl.col("p").sort()).filter(pl.col("p").list.len() > 1)
    ambiguous = [c for c, partners in multi.iter_rows()
                 if any(not clusters.compatible(x, y) for i, x in enumerate(partners) for y in partners[i + 1:])]
    drop = pl.Series("c", ambiguous, dtype=pl.Int64).implode()
    return pairs.filter(~pl.col("cluster_a").is_in(drop) & ~pl.col("cluster_b").is_in(drop))


class Clock:
    """Seconds per phase, reported in the asset metadata."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.laps[phase] = round(now - self._last, 2)
        self._last = now


def build_links(det_links: pl.DataFrame, pairs: pl.DataFrame, match_links: list[Link], resolved: pl.DataFrame,
                det: pl.DataFrame) -> pl.DataFrame:
    """The links that built each cluster, with the record keys on both sides (a matched pair of
    clusters is shown between their first records)."""
    accepted = pl.DataFrame([(min(link.a, link.b), max(link.a, link.b)) for link in match_links],
                            schema={"cluster_a": pl.Int64, "cluster_b": pl.Int64}, orient="row")
    first = (det.join(resolved.select("node", "record_type"), on="node")
             .sort("record_type", "node", descending=[True, False]).group_by("det", maintain_order=True)
             .agg(pl.col("node").first()))
    prob = (pairs.join(accepted, on=["cluster_a", "cluster_b"], how="semi")
            .join(first, left_on="cluster_a", right_on="det").join(first, left_on="cluster_b", right_on="det",
                                                                    suffix="_b")
            .select(pl.col("node").alias("a"), pl.col("node_b").alias("b"), pl.lit("probabilistic").alias("method"),
                    pl.lit("match").alias("rule"), "score", "evidence"))
    det_rows = det_links.select("a", "b", pl.lit("deterministic").alias("method"), "rule",
                                pl.lit(None, dtype=pl.Float64).alias("score"),
                                pl.lit(None, dtype=pl.String).alias("evidence"))
    side = resolved.select("node", *NODE_KEYS, "unified_id")
    return (pl.concat([det_rows, prob])
            .join(side, left_on="a", right_on="node").join(side.drop("unified_id"), left_on="b", right_on="node",
                                                           suffix="_b")
            .select(pl.col("source").alias("source_a"), pl.col("record_id").alias("record_id_a"),
                    pl.col("record_type").alias("record_type_a"), "source_b", "record_id_b", "record_type_b",
                    "unified_id", "method", "rule", "score", "evidence")
            .cast(LINKS_SCHEMA))
