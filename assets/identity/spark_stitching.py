"""Deterministic stitching on Spark: :func:`assets.identity.stitching.stitch` run where the graph is.

Components are what makes stitching divisible. Two nodes in different components of the strong
identifiers never meet in a rule, a conflict or a spanning tree, so:
1. the components are found over the whole graph in DataFrames (``spark_components``);
2. the components are dealt into buckets by a hash, and each bucket is stitched by the same
   ``stitch`` the DuckDB engine calls, in ``applyInPandas`` on an executor. A bucket's nodes are
   numbered afresh in their global order and its identifiers ranked in theirs, so the union-find
   replays the conflicted components' links in the order a whole-graph run does. The one figure
   that spans components, the distinct values per context kind, is counted once and shipped.

A cluster is labelled by its smallest node, whichever bucket it was stitched in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from assets.identity.settings import IdentityConfig
from assets.identity.spark_components import connected_components, shared_identifier_edges
from assets.identity.steps import Roles
from assets.identity.stitching import stitch

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame

    from assets.identity.spark_prepare import SparkGraph

STITCHED_SCHEMA = "row string, a long, b long, rule string"
"""What a bucket returns: ``det`` rows (a: node, b: its cluster), ``link`` rows (a, b, rule) and
``conflicted`` rows (a: the smallest node of a component rebuilt link by link)."""
PART_SCHEMA = {
    "part": pl.String,
    "node": pl.Int64,
    "priority": pl.Int64,
    "identifier": pl.String,
    "kind_ns": pl.String,
    "key": pl.String,
}


@dataclass(frozen=True)
class SparkStitched:
    det: DataFrame  # (node, det): each node's deterministic cluster, labelled by its smallest node
    links: DataFrame  # (a, b, rule): the links that built them
    conflicted: DataFrame  # (component): components rebuilt link by link, by their smallest node
    split_nodes: DataFrame  # (node): their nodes
    context_values: dict[str, int]  # per context kind, its distinct values (the model keeps them)


def _local(parts: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The bucket's rows with nodes numbered 0.. in their global order, and (local, node)."""
    numbering = (
        parts.select(pl.col("node").unique().sort())
        .with_row_index("local")
        .with_columns(pl.col("local").cast(pl.Int64))
    )
    return parts.join(numbering, on="node").drop("node").rename({"local": "node"}), numbering


def _stitch_bucket(
    parts: pl.DataFrame, roles: Roles, config: IdentityConfig, values: dict[str, int]
) -> pl.DataFrame:
    """``stitch`` on one bucket of whole components, answered in global node numbers."""
    local, numbering = _local(parts)
    strong = local.filter(pl.col("part") == "strong").select(
        "node", "priority", ident=pl.col("identifier").rank("dense").cast(pl.Int64) - 1
    )
    exclusive = local.filter(pl.col("part") == "exclusive").select("node", "kind_ns", "key")
    context = local.filter(pl.col("part") == "context").select("node", "kind_ns", "key")
    result = stitch(numbering.select(node="local"), strong, exclusive, roles, config, context, values)
    to_global = dict(numbering.select("local", "node").iter_rows())
    det = result.det.select(
        row=pl.lit("det"),
        a=pl.col("node").replace_strict(to_global),
        b=pl.col("node").min().over("det").replace_strict(to_global),
        rule=pl.lit(None, pl.String),
    )
    links = result.links.select(
        row=pl.lit("link"),
        a=pl.col("a").replace_strict(to_global),
        b=pl.col("b").replace_strict(to_global),
        rule="rule",
    )
    split = result.split_nodes.to_frame("node").select(
        row=pl.lit("split"),
        a=pl.col("node").replace_strict(to_global),
        b=pl.lit(None, pl.Int64),
        rule=pl.lit(None, pl.String),
    )
    return pl.concat([det, links, split])


def _bucket_stitcher(roles: Roles, config: IdentityConfig, values: dict[str, int]) -> Any:
    """The function ``applyInPandas`` runs on each bucket."""

    def stitch_bucket(parts: pd.DataFrame) -> pd.DataFrame:
        frame = pl.from_pandas(parts, schema_overrides=PART_SCHEMA)
        return _stitch_bucket(frame, roles, config, values).to_pandas()

    return stitch_bucket


def _parts(graph: SparkGraph, nodes: DataFrame, roles: Roles) -> tuple[DataFrame, DataFrame]:
    """Every row a bucket's stitch reads, tagged with its part, and the context rows alone."""
    from pyspark.sql import functions as F

    none_long, none_text = F.lit(None).cast("long"), F.lit(None).cast("string")
    context = graph.usable.where(F.col("attribute_kind").isin(roles.context)).select("node", "kind_ns", "key")
    rows = [
        graph.strong.select(
            F.lit("strong").alias("part"), "node", "priority", "identifier", none_text, none_text
        ),
        graph.exclusive.select(F.lit("exclusive"), "node", none_long, none_text, "kind_ns", "key"),
        context.select(F.lit("context"), "node", none_long, none_text, "kind_ns", "key"),
        nodes.select(F.lit("node"), "node", none_long, none_text, none_text, none_text),
    ]
    parts = rows[0]
    for more in rows[1:]:
        parts = parts.union(more)
    return parts.toDF(*PART_SCHEMA), context


def stitch_on_spark(
    graph: SparkGraph, nodes: DataFrame, config: IdentityConfig, buckets: int = 16
) -> SparkStitched:
    """``stitching.stitch`` over a graph on Spark (:func:`spark_prepare.prepare_on_spark`).

    ``nodes``: (node, ...) of every record and actor; ``buckets``: how many groups of components
    are stitched apart (each one is held by one Python worker)."""
    from pyspark.sql import functions as F

    roles = Roles.of(config)
    memberships = graph.strong.select("node", F.col("identifier").alias("ident"))
    components = connected_components(shared_identifier_edges(memberships)).localCheckpoint()
    labelled = (
        nodes.select("node")
        .join(components, "node", "left")
        .select("node", F.coalesce("component", "node").alias("component"))
    )
    parts, context = _parts(graph, nodes, roles)
    kind = F.split("kind_ns", ":").getItem(0)
    values = {
        r["kind"]: r["n"]
        for r in context.groupBy(kind.alias("kind")).agg(F.countDistinct("key").alias("n")).collect()
    }
    bucketed = parts.join(
        labelled.select("node", F.pmod(F.xxhash64("component"), F.lit(buckets)).alias("bucket")), "node"
    )
    stitched = (
        bucketed.groupBy("bucket").applyInPandas(_bucket_stitcher(roles, config, values), STITCHED_SCHEMA)
    ).localCheckpoint()
    split_nodes = stitched.where(F.col("row") == "split").select(F.col("a").alias("node"))
    return SparkStitched(
        det=stitched.where(F.col("row") == "det").select(F.col("a").alias("node"), F.col("b").alias("det")),
        links=stitched.where(F.col("row") == "link").select("a", "b", "rule"),
        conflicted=split_nodes.join(labelled, "node").select("component").distinct(),
        split_nodes=split_nodes,
        context_values=values,
    )
