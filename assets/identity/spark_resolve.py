"""Identity's clusters on Spark: stitched, matched and merged, each step the DuckDB engine's.

The merge of matched clusters (strongest match first, refusing conflicts and ambiguity) is a
union-find over the clusters the accepted pairs involve: a few per cent of the graph. Spark reduces
the graph to those clusters' sizes and exclusive values, and the engine's ``merge_matches`` runs on
the driver; each node's person is then its cluster's root, joined back on Spark.

Who each person is and their unified ids follow in :mod:`assets.identity.spark_ids`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from assets.common.spark import to_polars
from assets.identity.engine import Merged, merge_matches
from assets.identity.matching import MatchResult
from assets.identity.review import above_threshold, scoring_config
from assets.identity.settings import IdentityConfig
from assets.identity.spark_match import match_on_spark
from assets.identity.spark_prepare import SparkGraph
from assets.identity.spark_stitching import SparkStitched
from assets.identity.steps import Roles

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


@dataclass(frozen=True)
class SparkPeople:
    clusters: DataFrame  # (node, det, cluster): each node's deterministic cluster and its person
    scored: MatchResult  # every candidate pair scored down to the review floor
    accepted: pl.DataFrame  # the scored pairs that may merge (reaching ``min_probability``)
    merged: Merged | None  # ``merge_matches`` over the clusters the accepted pairs involve

    @property
    def merges(self) -> int:
        """Matched clusters folded into another."""
        return len(self.merged.links) if self.merged else 0


def _merged(
    graph: SparkGraph, det: DataFrame, pairs: pl.DataFrame, roles: Roles, config: IdentityConfig
) -> Merged:
    """The engine's ``merge_matches`` on the nodes and exclusive values of the clusters the
    accepted pairs involve only (its ``final`` holds those nodes alone)."""
    from pyspark.sql import functions as F

    involved = pl.concat([pairs.get_column("cluster_a"), pairs.get_column("cluster_b")]).unique()
    spark = det.sparkSession
    wanted = F.broadcast(spark.createDataFrame(involved.to_frame("det").to_arrow()))
    members = det.join(wanted, "det")
    keys = graph.usable.where(F.col("attribute_kind").isin(roles.matching_exclusive)).join(
        members.select("node"), "node"
    )
    return merge_matches(to_polars(keys), to_polars(members.select("node", "det")), pairs, roles, config)


def _people_nodes(nodes: DataFrame, graph: SparkGraph) -> DataFrame:
    """The nodes that are someone: every record, and the actors holding a usable strong identifier
    (the others stay anonymous event streams, as ``resolved_rows.describe_nodes`` leaves them out)."""
    from pyspark.sql import functions as F

    records = nodes.where(F.col("record_type") == "record").select("node")
    return records.unionByName(graph.strong.select("node")).distinct()


def people_on_spark(
    spark: SparkSession, graph: SparkGraph, stitched: SparkStitched, nodes: DataFrame, config: IdentityConfig
) -> SparkPeople:
    """Match the stitched clusters and merge the accepted pairs: each person's nodes on Spark.

    ``nodes``: (node, record_type, ...) of the graph."""
    from pyspark.sql import functions as F

    roles = Roles.of(config)
    det = stitched.det.join(_people_nodes(nodes, graph), "node", "left_semi").localCheckpoint()
    compared = (
        graph.usable.where(F.col("attribute_kind").isin(list(config.compared_kinds)))
        .join(det.withColumnRenamed("det", "cluster"), "node")
        .select("node", "cluster", "attribute_kind", "key")
    )
    scored = match_on_spark(spark, compared, scoring_config(config))
    accepted = above_threshold(scored.pairs, config)
    if accepted.is_empty():
        return SparkPeople(det.withColumn("cluster", F.col("det")), scored, accepted, None)
    merged = _merged(graph, det, accepted, roles, config)
    roots = merged.final.select("det", "cluster").unique()
    clusters = det.join(F.broadcast(spark.createDataFrame(roots.to_arrow())), "det", "left").select(
        "node", "det", F.coalesce("cluster", "det").alias("cluster")
    )
    return SparkPeople(clusters, scored, accepted, merged)
