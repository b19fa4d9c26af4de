"""Who each node is on Spark: its person's method, rule and confidence, and the unified id the
person keeps from an earlier run — ``resolved_rows.describe_nodes`` and ``stable_ids.assign_ids``
over a graph one process cannot hold.

The per-node work (each node's rule, its person's size, the join of last run's ids) is Spark joins
and aggregations. What needs one sequence of decisions stays the engine's own code on the driver,
over a frame the size of the people, not of the records: ``stable_ids.kept_ids`` (oldest ids choose
first, each to the cluster holding most of its records) on each (cluster, old id) overlap, and
``stable_ids.history_events`` on the overlaps whose id changed."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import polars as pl

from assets.common.spark import to_polars
from assets.identity.stable_ids import HISTORY_SCHEMA, history_events, kept_ids, moved_overlaps
from assets.identity.steps import Roles

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

    from assets.identity.spark_prepare import SparkGraph
    from assets.identity.spark_resolve import SparkPeople
    from assets.identity.spark_stitching import SparkStitched

NODE_COLUMNS = ("node", "source", "record_id", "record_type", "observed_at")


def at(moment: datetime) -> Column:
    """A naive timestamp as Spark's TIMESTAMP_NTZ, whatever the session's time zone."""
    from pyspark.sql import functions as F

    return F.lit(moment.isoformat(sep=" ")).cast("timestamp_ntz")


def _node_rules(stitched: SparkStitched, roles: Roles) -> DataFrame:
    """(node, rule): the highest-priority rule among the deterministic links a node takes part in."""
    from pyspark.sql import functions as F

    rank = F.create_map(*[F.lit(x) for i, rule in enumerate(roles.rule_names) for x in (rule, i)])
    ends = stitched.links.select(F.col("a").alias("node"), "rule").unionByName(
        stitched.links.select(F.col("b").alias("node"), "rule")
    )
    return ends.groupBy("node").agg(F.min_by("rule", rank[F.col("rule")]).alias("rule"))


def describe_on_spark(
    nodes: DataFrame, graph: SparkGraph, stitched: SparkStitched, people: SparkPeople, roles: Roles
) -> DataFrame:
    """Per person node: its clusters, method, rule and confidence (``resolved_rows.describe_nodes``).

    ``nodes``: (node, source, record_id, record_type, observed_at); the actors without a usable
    strong identifier are left out, as ``people.clusters`` leaves them."""
    from pyspark.sql import functions as F

    spark = nodes.sparkSession
    identifiable = (
        graph.usable.where(~F.col("attribute_kind").isin(roles.context))
        .select("node")
        .distinct()
        .withColumn("identifiable", F.lit(True))
    )
    absorbed = (
        people.merged.absorbed
        if people.merged
        else pl.DataFrame(schema={"det": pl.Int64, "score": pl.Float64})
    )
    scores = spark.createDataFrame(absorbed.to_arrow(), schema="det long, score double")
    current = nodes.select(*NODE_COLUMNS).join(people.clusters, "node").join(identifiable, "node", "left")
    sizes = current.groupBy("cluster").agg(F.count("*").alias("cluster_size"))
    method = (
        F.when(F.col("identifiable").isNull(), "anonymous")
        .when(F.col("cluster_size") == 1, "singleton")
        .when(F.col("score").isNotNull(), "probabilistic")
        .otherwise("deterministic")
    )
    described = (
        current.join(sizes, "cluster")
        .join(_node_rules(stitched, roles), "node", "left")
        .join(F.broadcast(scores), "det", "left")
        .withColumn("method", method)
    )
    return described.select(
        *NODE_COLUMNS,
        "det",
        "cluster",
        "method",
        F.when(F.col("method") == "probabilistic", F.lit("match"))
        .when(F.col("method").isin("singleton", "anonymous"), F.lit(None).cast("string"))
        .otherwise(F.col("rule"))
        .alias("rule"),
        F.when(F.col("method") != "anonymous", F.coalesce("score", F.lit(1.0))).alias("confidence"),
    )


def anchor_ids(known: DataFrame) -> DataFrame:
    """(cluster, fresh_id): ``stable_ids.new_unified_id`` of each cluster's earliest record —
    earliest first, an unknown time last, then by source and record id (the engine's sort).

    ``known``: (cluster, source, record_id, observed_at) of the nodes that are someone."""
    from pyspark.sql import functions as F

    order = F.struct(F.col("observed_at").isNull(), "observed_at", "source", "record_id")
    digest = F.md5(F.concat_ws("|", "anchor.source", "anchor.record_id"))
    return (
        known.groupBy("cluster")
        .agg(F.min(order).alias("anchor"))
        .select("cluster", F.concat(F.lit("u_"), F.substring(digest, 1, 16)).alias("fresh_id"))
    )


def ids_on_spark(
    described: DataFrame, previous: DataFrame | None, run_id: str, resolved_at: datetime
) -> tuple[DataFrame, pl.DataFrame]:
    """(cluster, unified_id, id_created_at) of every person, and the history of merges and splits:
    ``stable_ids.assign_ids`` with last run's ids (node, unified_id, id_created_at) of this graph."""
    from pyspark.sql import functions as F

    known = described.where(F.col("method") != "anonymous").select(
        "node", "source", "record_id", "cluster", "observed_at"
    )
    anchors = anchor_ids(known)
    if previous is None or previous.isEmpty():
        ids = anchors.select(
            "cluster", F.col("fresh_id").alias("unified_id"), at(resolved_at).alias("id_created_at")
        )
        return ids, pl.DataFrame(schema=HISTORY_SCHEMA)
    carried = known.join(previous.select("node", "unified_id", "id_created_at"), "node").localCheckpoint()
    age = carried.groupBy("unified_id").agg(F.min("observed_at").alias("first_seen"))
    overlap = to_polars(
        carried.groupBy("cluster", "unified_id", "id_created_at")
        .agg(F.count("*").alias("shared"))
        .join(age, "unified_id")
    )
    kept = kept_ids(overlap, pl.Int64())
    ids = anchors.join(_spark_frame(known, kept), "cluster", "left").select(
        "cluster",
        F.coalesce("unified_id", "fresh_id").alias("unified_id"),
        F.coalesce("id_created_at", at(resolved_at)).alias("id_created_at"),
    )
    return ids.localCheckpoint(), _history(carried, overlap, ids, run_id, resolved_at)


def _spark_frame(like: DataFrame, frame: pl.DataFrame) -> DataFrame:
    return like.sparkSession.createDataFrame(frame.to_arrow())


def _history(
    carried: DataFrame, overlap: pl.DataFrame, ids: DataFrame, run_id: str, resolved_at: datetime
) -> pl.DataFrame:
    """``history_events`` on the overlaps whose records now carry another id (the people's ids
    on the driver, beside their overlaps), with the record keys gathered on Spark for those alone:
    a run moves a few thousand records of millions."""
    from pyspark.sql import functions as F

    new_ids = to_polars(ids.select("cluster", "unified_id"))
    moved = moved_overlaps(overlap, new_ids)
    if moved.is_empty():
        return pl.DataFrame(schema=HISTORY_SCHEMA)
    wanted = F.broadcast(_spark_frame(ids, moved.select("cluster", "unified_id")))
    keys = to_polars(
        carried.join(wanted, ["cluster", "unified_id"])
        .groupBy("cluster", "unified_id")
        .agg(F.array_sort(F.collect_list(F.concat_ws(":", "source", "record_id"))).alias("keys"))
    )
    return history_events(moved.join(keys, on=["cluster", "unified_id"]), new_ids, run_id, resolved_at)


def resolved_on_spark(
    described: DataFrame, ids: DataFrame, previous: DataFrame | None, run_id: str, resolved_at: datetime
) -> DataFrame:
    """Every person node with its unified id, the run that first linked it and when."""
    from pyspark.sql import functions as F

    first = (
        previous.select("node", "first_linked_run")
        if previous is not None
        else described.sparkSession.createDataFrame([], "node long, first_linked_run string")
    )
    return (
        described.join(ids, "cluster", "left")
        .join(first, "node", "left")
        .withColumn(
            "first_linked_run",
            F.when(F.col("method") != "anonymous", F.coalesce("first_linked_run", F.lit(run_id))),
        )
        .withColumn("resolved_at", at(resolved_at))
    )
