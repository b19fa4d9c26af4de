"""An incremental run's output: the rows of the changed nodes, the ids of the touched clusters,
what changes about the stored people they joined, and the links that joined them.

Ids are kept by the same rule as a full run (a merge keeps the oldest id); stored people are
rewritten only when their id changes or they stop being alone."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from assets.identity.clustering import Clusters, Link
from assets.identity.increment_matching import Units
from assets.identity.link_rows import build_links
from assets.identity.matching import PAIRS_SCHEMA, MatchResult
from assets.identity.results import NODE_KEYS, UNIT_UPDATE_SCHEMA
from assets.identity.stable_ids import HISTORY_SCHEMA, new_unified_id
from assets.identity.steps import Roles
from assets.identity.store import GraphLookups


def touched_clusters(
    changed: pl.DataFrame, units: Units, clusters: Clusters, merged: Clusters | None
) -> pl.DataFrame:
    """(element, det, cluster) of every changed node and stored person in a cluster some changed
    node is in; ``det``: the deterministic cluster, ``cluster``: after matching."""
    elements = (
        pl.concat([changed.select(pl.col("node").alias("element")), units.summary.select("element")])
        .get_column("element")
        .to_list()
    )
    det_of = {e: clusters.find(e) for e in elements}
    final_of = {
        e: (merged.find(d) if merged is not None and d in merged.parent else d) for e, d in det_of.items()
    }
    frame = pl.DataFrame(
        {
            "element": elements,
            "det": [det_of[e] for e in elements],
            "cluster": [final_of[e] for e in elements],
        },
        schema={"element": pl.Int64, "det": pl.Int64, "cluster": pl.Int64},
    )
    affected = frame.filter(pl.col("element") >= 0).get_column("cluster").unique()
    return frame.filter(pl.col("cluster").is_in(affected.implode()))


def link_scores(det_links: list[Link], match_links: list[Link], roles: Roles) -> tuple[pl.DataFrame, ...]:
    """Per element: its strongest deterministic rule; per det root: the match score that absorbed
    it, and the best score of any match it took part in."""
    rank = {r: i for i, r in enumerate(roles.rule_names)}
    det_rule = (
        pl.DataFrame(
            [(n, link.rule) for link in det_links for n in (link.a, link.b)],
            schema={"node": pl.Int64, "rule_det": pl.String},
            orient="row",
        )
        .with_columns(p=pl.col("rule_det").replace_strict(rank, return_dtype=pl.Int64))
        .sort("p")
        .group_by("node")
        .agg(pl.col("rule_det").first())
    )
    absorbed = pl.DataFrame(
        [(link.absorbed, link.score) for link in match_links],
        schema={"det": pl.Int64, "absorbed_score": pl.Float64},
        orient="row",
    )
    matched = (
        pl.DataFrame(
            [(d, link.score) for link in match_links for d in (link.a, link.b)],
            schema={"det": pl.Int64, "match_score": pl.Float64},
            orient="row",
        )
        .group_by("det")
        .agg(pl.col("match_score").max())
    )
    return det_rule, absorbed, matched


def _linked_by() -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(method, rule, confidence) of someone joined this run, from the columns of :func:`link_scores`."""
    score = pl.coalesce("absorbed_score", pl.when(pl.col("rule_det").is_null()).then(pl.col("match_score")))
    method = pl.when(score.is_not_null()).then(pl.lit("probabilistic")).otherwise(pl.lit("deterministic"))
    rule = pl.when(score.is_not_null()).then(pl.lit("match")).otherwise(pl.col("rule_det"))
    return method, rule, pl.coalesce(score, pl.lit(1.0))


def _changed_rows(
    nodes: pl.DataFrame,
    keyed: pl.DataFrame,
    strong: pl.DataFrame,
    previous: pl.DataFrame,
    scores: tuple[pl.DataFrame, ...],
    roles: Roles,
) -> pl.DataFrame:
    """The changed nodes of touched clusters, with what linked them (singletons are decided once
    cluster sizes are known). Actors without a usable strong identifier stay anonymous streams."""
    identifiable = keyed.filter(~pl.col("attribute_kind").is_in(roles.context)).select("node").unique()
    linked = strong.select("node").unique()
    det_rule, absorbed, matched = scores
    method, rule, confidence = _linked_by()
    return (
        nodes.join(linked.with_columns(linked=pl.lit(True)), on="node", how="left")
        .filter((pl.col("record_type") == "record") | pl.col("linked").is_not_null())
        .join(identifiable.with_columns(identifiable=pl.lit(True)), on="node", how="left")
        .join(det_rule, on="node", how="left")
        .join(absorbed, on="det", how="left")
        .join(matched, on="det", how="left")
        .join(previous.select("node", "first_linked_run"), on="node", how="left")
        .with_columns(
            method=pl.when(pl.col("identifiable").is_null()).then(pl.lit("anonymous")).otherwise(method),
            rule=rule,
            confidence=confidence,
        )
        .with_columns(
            rule=pl.when(pl.col("method") != "anonymous").then(pl.col("rule")),
            confidence=pl.when(pl.col("method") != "anonymous").then(pl.col("confidence")),
        )
        .select(
            "node",
            *NODE_KEYS,
            "observed_at",
            "det",
            "cluster",
            "method",
            "rule",
            "confidence",
            "first_linked_run",
        )
    )


def cluster_rows(
    changed: pl.DataFrame,
    frame: pl.DataFrame,
    keyed: pl.DataFrame,
    strong: pl.DataFrame,
    previous: pl.DataFrame,
    units: Units,
    scores: tuple[pl.DataFrame, ...],
    roles: Roles,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(rows of the changed nodes, the stored people in touched clusters, (cluster, cluster_size));
    a changed node alone in its cluster is a singleton."""
    rows = _changed_rows(
        changed.join(frame.rename({"element": "node"}), on="node"), keyed, strong, previous, scores, roles
    )
    stored = units.summary.join(frame, on="element")
    sizes = (
        pl.concat(
            [
                rows.filter(pl.col("method") != "anonymous")
                .group_by("cluster")
                .len("size")
                .with_columns(pl.col("size").cast(pl.Int64)),
                stored.select("cluster", pl.col("size").cast(pl.Int64)),
            ]
        )
        .group_by("cluster")
        .agg(pl.col("size").sum().alias("cluster_size"))
    )
    rows = rows.join(sizes, on="cluster", how="left").with_columns(
        cluster_size=pl.coalesce("cluster_size", pl.lit(1)),
        method=pl.when((pl.col("method") != "anonymous") & (pl.col("cluster_size") == 1))
        .then(pl.lit("singleton"))
        .otherwise(pl.col("method")),
    )
    return (
        rows.with_columns(rule=pl.when(pl.col("method") != "singleton").then(pl.col("rule"))),
        stored,
        sizes,
    )


def _chosen_ids(carried: pl.DataFrame) -> tuple[dict[int, tuple[str, datetime]], set[str]]:
    """Oldest ids choose first; each goes to the cluster sharing most of its records."""
    order = carried.sort(
        ["id_created_at", "first_seen", "unified_id", "shared", "cluster"],
        descending=[False, False, False, True, False],
        nulls_last=True,
    )
    chosen: dict[int, tuple[str, datetime]] = {}
    used: set[str] = set()
    for cluster, uid, created in order.select("cluster", "unified_id", "id_created_at").iter_rows():
        if cluster not in chosen and uid not in used:
            chosen[cluster] = (uid, created)
            used.add(uid)
    return chosen, used


def assign_ids(
    rows: pl.DataFrame,
    stored: pl.DataFrame,
    previous: pl.DataFrame,
    graph: GraphLookups,
    run_id: str,
    happened_at: datetime,
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """The unified id of each touched cluster — the oldest id among its people, as in a full run,
    else a fresh id from its earliest record — the merges this makes, and how many unified ids the
    graph gains (fresh ids less the ids merged away)."""
    known = rows.filter(pl.col("method") != "anonymous")
    carried = (
        pl.concat(
            [
                stored.select(
                    "cluster",
                    "unified_id",
                    "id_created_at",
                    "first_seen",
                    pl.col("size").cast(pl.Int64).alias("shared"),
                ),
                known.join(previous.select("node", "unified_id", "id_created_at"), on="node")
                .group_by("cluster", "unified_id", "id_created_at")
                .agg(
                    pl.col("observed_at").min().alias("first_seen"), pl.len().cast(pl.Int64).alias("shared")
                ),
            ]
        )
        .group_by("cluster", "unified_id")
        .agg(pl.col("id_created_at").min(), pl.col("first_seen").min(), pl.col("shared").sum())
    )
    chosen, used = _chosen_ids(carried)
    anchors = (
        known.sort("observed_at", "source", "record_id", nulls_last=True)
        .group_by("cluster", maintain_order=True)
        .agg(pl.col("source").first(), pl.col("record_id").first())
    )
    fresh = {c: (new_unified_id(s, r), happened_at) for c, s, r in anchors.iter_rows() if c not in chosen}
    ids = pl.DataFrame(
        [(c, uid, created) for c, (uid, created) in {**chosen, **fresh}.items()],
        schema={"cluster": pl.Int64, "unified_id": pl.String, "id_created_at": pl.Datetime("us")},
        orient="row",
    )
    gained = ids.get_column("unified_id").n_unique() - carried.get_column("unified_id").n_unique()
    moved = carried.join(ids.select("cluster", pl.col("unified_id").alias("new_id")), on="cluster").filter(
        pl.col("unified_id") != pl.col("new_id")
    )
    if moved.is_empty():
        return ids, pl.DataFrame(schema=HISTORY_SCHEMA), gained
    return (
        ids,
        _history(moved, graph.record_keys(moved.get_column("unified_id")), used, run_id, happened_at),
        gained,
    )


def _history(
    moved: pl.DataFrame, keys: pl.DataFrame, used: set[str], run_id: str, happened_at: datetime
) -> pl.DataFrame:
    """A merge (or split, when the old id lives on elsewhere) per stored id that moved."""
    return (
        moved.join(keys, on="unified_id", how="left")
        .select(
            pl.lit(run_id).alias("run_id"),
            pl.when(pl.col("unified_id").is_in(list(used)))
            .then(pl.lit("split"))
            .otherwise(pl.lit("merge"))
            .alias("event"),
            pl.col("new_id").alias("unified_id"),
            pl.col("unified_id").alias("other_unified_id"),
            pl.col("shared").alias("records"),
            pl.col("keys").alias("record_keys"),
            pl.lit("clusters joined by new evidence; the oldest id is kept").alias("reason"),
            pl.lit(happened_at, dtype=pl.Datetime("us")).alias("happened_at"),
        )
        .sort("event", "unified_id", "other_unified_id")
        .cast(HISTORY_SCHEMA)
    )


def resolved_rows(rows: pl.DataFrame, ids: pl.DataFrame, run_id: str, resolved_at: datetime) -> pl.DataFrame:
    """The changed nodes' rows with their cluster's id; anonymous ones keep none."""
    known = pl.col("method") != "anonymous"
    return rows.join(ids, on="cluster", how="left").with_columns(
        unified_id=pl.when(known).then(pl.col("unified_id")),
        id_created_at=pl.when(known).then(pl.col("id_created_at")),
        first_linked_run=pl.when(known).then(pl.coalesce("first_linked_run", pl.lit(run_id))),
        resolved_at=pl.lit(resolved_at, dtype=pl.Datetime("us")),
    )


def _unit_updates(
    stored: pl.DataFrame, ids: pl.DataFrame, sizes: pl.DataFrame, scores: tuple[pl.DataFrame, ...]
) -> pl.DataFrame:
    """Per stored person in a touched cluster: the new id and size; someone alone until now also
    says what links them (method, rule, confidence; null keeps the stored values)."""
    det_rule, absorbed, matched = scores
    method, rule, confidence = _linked_by()
    # one stored record: its method is the person's (a bigger person's records may differ)
    alone = (pl.col("size") == 1) & (pl.col("method") == "singleton") & (pl.col("cluster_size") > 1)
    return (
        stored.join(ids, on="cluster", how="left", suffix="_new")
        .join(sizes, on="cluster")
        .join(det_rule.rename({"node": "element"}), on="element", how="left")
        .join(absorbed, on="det", how="left")
        .join(matched, on="det", how="left")
        .filter(alone | (pl.col("unified_id") != pl.col("unified_id_new")))
        .select(
            pl.col("unified_id").alias("old_id"),
            pl.col("unified_id_new").alias("unified_id"),
            pl.col("id_created_at_new").alias("id_created_at"),
            pl.when(alone).then(method).alias("method"),
            pl.when(alone).then(rule).alias("rule"),
            pl.when(alone).then(confidence).alias("confidence"),
        )
        .cast(UNIT_UPDATE_SCHEMA)
    )


def increment_links(
    graph: GraphLookups,
    det_links: list[Link],
    matched: MatchResult | None,
    match_links: list[Link],
    rows: pl.DataFrame,
    resolved: pl.DataFrame,
    stored: pl.DataFrame,
    ids: pl.DataFrame,
) -> pl.DataFrame:
    """The links this run added, shown between records: a stored person's side at the record
    holding the identifier of a deterministic link, at their first record for a match."""
    shown = pl.concat(
        [
            pl.DataFrame(
                {"node": [n for link in det_links for n in (link.a, link.b) if n >= 0]},
                schema={"node": pl.Int64},
            ),
            stored.select("node"),
        ]
    ).unique()
    by_unit = stored.select(pl.col("unified_id").alias("old_id"), "det", "cluster").join(
        ids.select("cluster", "unified_id"), on="cluster"
    )
    shown_stored = (
        graph.stored_records(shown)
        .join(by_unit, on="old_id")
        .select("node", *NODE_KEYS, "unified_id", "det")
        .join(rows.select("node"), on="node", how="anti")
    )
    det_frame = pl.DataFrame(
        [(link.a, link.b, link.rule) for link in det_links],
        schema={"a": pl.Int64, "b": pl.Int64, "rule": pl.String},
        orient="row",
    )
    return build_links(
        det_frame,
        matched.pairs if matched is not None else pl.DataFrame(schema=PAIRS_SCHEMA),
        match_links,
        pl.concat(
            [
                resolved.select("node", *NODE_KEYS, "unified_id"),
                shown_stored.select("node", *NODE_KEYS, "unified_id"),
            ]
        ),
        pl.concat([rows.select("node", "det"), shown_stored.select("node", "det")]).unique("node"),
    )
