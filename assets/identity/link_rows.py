"""The links that built each cluster, as ``identity.links`` holds them: the stitching rule or the
match, between the two records' keys.

At 2 M people a full run writes 15 M links, each with both records' names: the largest frame the
run builds. Each column is gathered once from the resolved rows by row number, so no wider
intermediate frame (the links joined with one side, then the other) is ever held beside it."""

from __future__ import annotations

import polars as pl

from assets.identity.clustering import Link
from assets.identity.pins import PIN_RULE
from assets.identity.results import LINKS_SCHEMA, NODE_KEYS


def first_nodes(det: pl.DataFrame, nodes: pl.DataFrame, clusters: pl.Series) -> pl.DataFrame:
    """(det, node): the first node of each of ``clusters`` (records before event actors, then the
    smallest number), the record a pair of clusters is shown between. ``det``: (node, det);
    ``nodes``: (node, record_type). Only those clusters are sorted: at 2 M people ``det`` holds 22 M
    nodes, the clusters of the matches and of the review candidates about a million."""
    return (
        det.filter(pl.col("det").is_in(clusters.implode()))
        .join(nodes.select("node", "record_type"), on="node")
        .sort("record_type", "node", descending=[True, False])
        .group_by("det", maintain_order=True)
        .agg(pl.col("node").first())
    )


def matched_link_rows(
    pairs: pl.DataFrame, match_links: list[Link], resolved: pl.DataFrame, det: pl.DataFrame
) -> pl.DataFrame:
    """The accepted matches as links between node ``a`` and ``b``, each shown between the first
    records (records before event actors) of its two clusters."""
    accepted = pl.DataFrame(
        [(min(link.a, link.b), max(link.a, link.b)) for link in match_links],
        schema={"cluster_a": pl.Int64, "cluster_b": pl.Int64},
        orient="row",
    )
    ends = pl.concat([accepted.get_column("cluster_a"), accepted.get_column("cluster_b")])
    first = first_nodes(det, resolved, ends)
    return (
        pairs.join(accepted, on=["cluster_a", "cluster_b"], how="semi")
        .join(first, left_on="cluster_a", right_on="det")
        .join(first, left_on="cluster_b", right_on="det", suffix="_b")
        .select(
            pl.col("node").alias("a"),
            pl.col("node_b").alias("b"),
            pl.lit("probabilistic").alias("method"),
            pl.lit("match").alias("rule"),
            "score",
            "evidence",
        )
    )


def build_links(
    det_links: pl.DataFrame,
    pairs: pl.DataFrame,
    match_links: list[Link],
    resolved: pl.DataFrame,
    det: pl.DataFrame,
) -> pl.DataFrame:
    """The links that built each cluster (LINKS_SCHEMA), with the record keys on both sides (a
    matched pair of clusters is shown between their first records). A link one of whose nodes
    ``resolved`` does not hold is left out; a node it holds twice shows the link twice."""
    det_rows = det_links.select(
        "a",
        "b",
        pl.when(pl.col("rule") == PIN_RULE)
        .then(pl.lit("pinned"))
        .otherwise(pl.lit("deterministic"))
        .alias("method"),
        "rule",
        pl.lit(None, dtype=pl.Float64).alias("score"),
        pl.lit(None, dtype=pl.String).alias("evidence"),
    )
    rows = pl.concat([det_rows, matched_link_rows(pairs, match_links, resolved, det)])
    side = resolved.select("node", *NODE_KEYS, "unified_id")
    at = side.select("node").with_row_index("at")
    located = (  # row numbers only: which link, and where its two records are in ``side``
        rows.select("a", "b")
        .with_row_index("link")
        .join(at.rename({"node": "a", "at": "at_a"}), on="a")
        .join(at.rename({"node": "b", "at": "at_b"}), on="b")
        .select("link", "at_a", "at_b")
    )
    link, at_a, at_b = (located.get_column(c) for c in ("link", "at_a", "at_b"))
    del located
    columns = [side.get_column(k).gather(at_a).alias(f"{k}_a") for k in NODE_KEYS]
    columns += [side.get_column(k).gather(at_b).alias(f"{k}_b") for k in NODE_KEYS]
    columns.append(side.get_column("unified_id").gather(at_a))
    columns += [rows.get_column(c).gather(link) for c in ("method", "rule", "score", "evidence")]
    return pl.DataFrame(columns).select(list(LINKS_SCHEMA)).cast(LINKS_SCHEMA)
