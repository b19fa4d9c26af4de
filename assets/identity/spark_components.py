"""Connected components of the identity graph on Spark, for graphs one process cannot hold.

The full run on DuckDB labels components with scipy on one machine (``clustering.components``).
On Spark the graph is a DataFrame spread over executors, and GraphFrames (whose JAR comes from
Maven) is not available everywhere, so the components are found by the large-star / small-star
algorithm of Kiveris et al. ("Connected Components in MapReduce and Beyond", SoCC 2014) in plain
DataFrame operations: each round is a few joins and aggregations, and the rounds needed grow with
the logarithm of the largest component's diameter, not with its size.

A component is labelled by its smallest node, so the labels do not depend on the order Spark
returns rows in; only the partition is compared with scipy's (whose labels are positional)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

MAX_ROUNDS = 64
"""Rounds before giving up. Each round at least halves a path's length in practice; 64 rounds
would need a component of astronomically many nodes, so reaching it means a bug, not a graph."""


def shared_identifier_edges(memberships: DataFrame) -> DataFrame:
    """(node, ident) rows of the bipartite graph as node-to-node edges (hi, lo), hi > lo: every
    node holding an identifier is linked to the smallest node holding it. The components are those
    of the bipartite graph, and a value held by a million records gives a million edges, not 10¹²."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    smallest = F.min("node").over(Window.partitionBy("ident"))
    return (
        memberships.select("node", "ident")
        .withColumn("lo", smallest)
        .where(F.col("node") > F.col("lo"))
        .select(F.col("node").alias("hi"), "lo")
        .distinct()
    )


def _canonical(edges: DataFrame) -> DataFrame:
    """Undirected edges as (hi, lo) with hi > lo, once each; self-loops dropped."""
    from pyspark.sql import functions as F

    return (
        edges.where(F.col("a") != F.col("b"))
        .select(F.greatest("a", "b").alias("hi"), F.least("a", "b").alias("lo"))
        .distinct()
    )


def _large_star(edges: DataFrame) -> DataFrame:
    """Every node's larger neighbours are linked to the smallest node of its neighbourhood."""
    from pyspark.sql import functions as F

    both = edges.select(F.col("hi").alias("u"), F.col("lo").alias("v")).unionByName(
        edges.select(F.col("lo").alias("u"), F.col("hi").alias("v"))
    )
    smallest = both.groupBy("u").agg(F.least(F.min("v"), F.col("u")).alias("m"))
    return (
        both.where(F.col("v") > F.col("u"))
        .join(smallest, "u")
        .select(F.col("v").alias("a"), F.col("m").alias("b"))
    )


def _small_star(edges: DataFrame) -> DataFrame:
    """Every node and its smaller neighbours are linked to the smallest of them."""
    from pyspark.sql import functions as F

    smallest = edges.groupBy("hi").agg(F.min("lo").alias("m"))
    linked = edges.join(smallest, "hi")
    return linked.select(F.col("lo").alias("a"), F.col("m").alias("b")).unionByName(
        smallest.select(F.col("hi").alias("a"), F.col("m").alias("b"))
    )


def _converged(edges: DataFrame) -> bool:
    """Stars: no node is both a centre and a leaf, and no leaf hangs on two centres."""
    from pyspark.sql import functions as F

    leaves_that_lead = edges.select(F.col("lo").alias("hi")).distinct().join(edges, "hi", "left_semi")
    if not leaves_that_lead.isEmpty():
        return False
    return edges.groupBy("hi").agg(F.countDistinct("lo").alias("n")).where(F.col("n") > 1).isEmpty()


def connected_components(edges: DataFrame) -> DataFrame:
    """(node, component) for every node of the undirected ``edges`` (hi, lo), the component being
    its smallest node. Nodes without an edge are not listed: each is a component of its own."""
    from pyspark.sql import functions as F

    current = _canonical(edges.select(F.col("hi").alias("a"), F.col("lo").alias("b"))).localCheckpoint()
    for _ in range(MAX_ROUNDS):
        if _converged(current):
            leaves = current.select(F.col("hi").alias("node"), F.col("lo").alias("component"))
            centres = current.select(F.col("lo").alias("node"), F.col("lo").alias("component"))
            return leaves.unionByName(centres).distinct()
        starred = _canonical(_large_star(current)).localCheckpoint()  # cuts the plan's lineage
        current = _canonical(_small_star(starred)).localCheckpoint()
    raise RuntimeError(f"connected components did not converge in {MAX_ROUNDS} rounds")
