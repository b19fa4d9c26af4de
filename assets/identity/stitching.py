"""Deterministic stitching of a full run: records sharing a strong identifier are one person,
except where a component holds conflicting exclusive values (two national ids, two names) — such
a component is rebuilt link by link, strongest rule first, and split at its weakest links; every
other component is shown by a spanning forest preferring strong rules (the links kept as
evidence)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import minimum_spanning_tree

from assets.identity.clustering import Clusters, Link, components, conflicted_components, constrained_merge
from assets.identity.settings import IdentityConfig
from assets.identity.steps import Roles, context_counts, context_value_counts, exclusive_sets


@dataclass(frozen=True)
class Deterministic:
    det: pl.DataFrame  # (node, det): each node's deterministic cluster, named by its smallest node
    links: pl.DataFrame  # (a, b, rule): the links that built them
    conflicted: pl.Series  # components rebuilt link by link
    split_nodes: pl.Series  # their nodes
    context_values: dict[str, int]  # per context kind, its distinct values (Clusters.context_values)


def stitch(
    nodes: pl.DataFrame,
    strong: pl.DataFrame,
    exclusive: pl.DataFrame,
    roles: Roles,
    config: IdentityConfig,
    context: pl.DataFrame | None = None,
    context_values: dict[str, int] | None = None,
) -> Deterministic:
    """Connected components of the strong identifiers; conflicted ones are rebuilt link by link,
    strongest first, and every other one is shown by a spanning forest preferring strong rules.

    ``context_values``: the graph's distinct values per context kind, when ``nodes`` are only some
    of its components (Spark stitches buckets of components); counted from ``context`` otherwise."""
    n_nodes = cast(int, nodes.get_column("node").max()) + 1 if nodes.height else 0
    labels = pl.DataFrame(
        {"node": np.arange(n_nodes, dtype=np.int64), "component": components(n_nodes, strong)}
    )
    bad = conflicted_components(labels, exclusive, config.max_cluster_records)
    in_bad = pl.col("component").is_in(bad.implode())
    bad_nodes = labels.filter(in_bad).get_column("node")
    if context_values is not None:
        values = context_values
    else:
        values = context_value_counts(context) if context is not None else {}
    split_links, split_label = _split_conflicts(
        labels, bad_nodes, strong, exclusive, roles, config, context, values
    )
    # each cluster named by its smallest node: the same name on every engine and in every bucket of
    # components (matching samples its pairs in cluster order, so the name is not only a label)
    det = (
        labels.join(split_label, on="node", how="left")
        .select("node", det=pl.coalesce("split", "component"))
        .with_columns(det=pl.col("node").min().over("det"))
    )
    forest = _star_forest(strong, n_nodes, labels.filter(~in_bad).get_column("node")).with_columns(
        rule=pl.col("priority").replace_strict(dict(enumerate(roles.rule_names)), return_dtype=pl.String)
    )
    links = pl.concat(
        [
            forest.select("a", "b", "rule"),
            pl.DataFrame(
                [(link.a, link.b, link.rule) for link in split_links],
                schema={"a": pl.Int64, "b": pl.Int64, "rule": pl.String},
                orient="row",
            ),
        ]
    )
    return Deterministic(det, links, bad, bad_nodes, values)


def _split_conflicts(
    labels: pl.DataFrame,
    bad_nodes: pl.Series,
    strong: pl.DataFrame,
    exclusive: pl.DataFrame,
    roles: Roles,
    config: IdentityConfig,
    context: pl.DataFrame | None,
    context_values: dict[str, int],
) -> tuple[list[Link], pl.DataFrame]:
    """Replay the conflicted components' identifiers through the conflict-aware union-find; returns
    its links and (node, split): each node's part, numbered after every component."""
    clusters = Clusters(
        max_size=config.max_cluster_records,
        fuzzy=roles.fuzzy,
        owner_share=config.owner_share,
        context_values=context_values,
    )
    values = exclusive_sets(exclusive.filter(pl.col("node").is_in(bad_nodes.implode())), "node")
    contexts = context_counts(context, bad_nodes)
    for node in bad_nodes.to_list():
        clusters.add(node, values.get(node, {}), context=contexts.get(node))
    groups = (
        strong.filter(pl.col("node").is_in(bad_nodes.implode()))
        .sort("priority", "ident", "node")
        .group_by("priority", "ident", maintain_order=True)
        .agg(pl.col("node"))
    )
    links = constrained_merge(
        clusters, ((roles.rule_names[p], members, None) for p, _, members in groups.iter_rows())
    )
    offset = cast(int, labels.get_column("component").max() or 0) + 1
    split = pl.DataFrame(
        {"node": bad_nodes, "split": [offset + clusters.find(n) for n in bad_nodes.to_list()]},
        schema={"node": pl.Int64, "split": pl.Int64},
    )
    return links, split


def _star_forest(strong: pl.DataFrame, n_nodes: int, keep_nodes: pl.Series) -> pl.DataFrame:
    """A spanning forest of the given nodes preferring strong rules: for every identifier, edges from
    its first node to the others weighted by rule priority, then a minimum spanning tree."""
    edges = (
        strong.filter(pl.col("node").is_in(keep_nodes.implode()))
        .with_columns(first=pl.col("node").min().over("ident"))
        .filter(pl.col("node") != pl.col("first"))
        .group_by("first", "node")
        .agg(pl.col("priority").min())
    )
    if edges.is_empty():
        return pl.DataFrame(schema={"a": pl.Int64, "b": pl.Int64, "priority": pl.Int64})
    a = edges.get_column("first").to_numpy().astype(np.int64)
    b = edges.get_column("node").to_numpy().astype(np.int64)
    w = edges.get_column("priority").to_numpy().astype(np.float64) + 1.0
    tree = minimum_spanning_tree(coo_matrix((w, (a, b)), shape=(n_nodes, n_nodes)).tocsr()).tocoo()
    return pl.DataFrame(
        {
            "a": tree.row.astype(np.int64),
            "b": tree.col.astype(np.int64),
            "priority": (tree.data - 1).astype(np.int64),
        }
    )
