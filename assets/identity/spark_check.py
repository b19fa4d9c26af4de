"""Identity on Spark held to the DuckDB engine's full run on the same graph: the check ``cdp parity``
makes.

Both engines start from the same numbered nodes and raw values, so what is compared is identity
alone (the dbt parity holds the staged inputs equal). Clusters are compared as partitions, by
pairwise F1 of one engine's clusters against the other's (1.0 only when they are identical); links
and refused identifiers row for row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from assets.common.spark import to_polars
from assets.identity.engine import Graph, prepare, resolve_prepared, stitch_prepared
from assets.identity.evaluation import truth_scores
from assets.identity.settings import IdentityConfig
from assets.identity.spark_prepare import prepare_on_spark
from assets.identity.spark_resolve import fresh_ids_on_spark, people_on_spark
from assets.identity.spark_stitching import stitch_on_spark
from assets.identity.steps import Clock, Roles
from assets.identity.stitching import Deterministic

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

NODE_COLUMNS = ("node", "source", "record_id", "record_type", "observed_at")


@dataclass(frozen=True)
class Compared:
    """One output of identity on both engines: its rows on each, and what differs."""

    output: str
    duckdb_rows: int
    spark_rows: int
    differences: list[str]


def partition_agreement(left: pl.DataFrame, right: pl.DataFrame) -> float:
    """Pairwise F1 of ``right``'s clusters against ``left``'s, both (node, det)."""
    as_resolved = right.select(source=pl.lit(""), record_id="node", unified_id="det")
    as_truth = left.select(source=pl.lit(""), record_id="node", person_id="det")
    return float(truth_scores(as_resolved, as_truth).get("pairwise_f1", 1.0))


def same_groups(left: pl.DataFrame, right: pl.DataFrame) -> bool:
    """The same nodes in the same groups, both (node, det), whatever the labels (the pairwise
    agreement is rounded to five decimals: it cannot tell one node in a million)."""
    canonical = [
        f.select("node", smallest=pl.col("node").min().over("det")).sort("node") for f in (left, right)
    ]
    return canonical[0].equals(canonical[1])


def _rows(name: str, duck: pl.DataFrame, spark: pl.DataFrame) -> Compared:
    same = duck.sort(duck.columns).equals(spark.select(duck.columns).sort(duck.columns))
    return Compared(name, duck.height, spark.height, [] if same else ["rows differ"])


def _clusters(name: str, expected: pl.DataFrame, got: pl.DataFrame) -> Compared:
    """Two partitions of nodes, each (node, det): the same groups, whatever their labels."""
    same = same_groups(expected, got)
    agreement = [] if same else [f"pairwise agreement {partition_agreement(expected, got)}"]
    return Compared(name, expected.height, got.height, agreement)


def _on_duckdb(
    nodes: pl.DataFrame, attributes: pl.DataFrame, config: IdentityConfig, salt: str
) -> tuple[Graph, Deterministic, pl.DataFrame]:
    """The DuckDB engine's full run: its graph, its deterministic clusters and (node, unified_id)."""
    graph = prepare(nodes, attributes, config, salt, Clock())
    run = resolve_prepared(
        graph, config, previous=None, run_id="parity", resolved_at=None, previous_model=None, clock=Clock()
    )
    return graph, stitch_prepared(graph, config), run.resolved.select("node", "unified_id")


def identity_parity(
    spark: SparkSession,
    nodes: pl.DataFrame,
    attributes: pl.DataFrame,
    config: IdentityConfig,
    salt: str,
    buckets: int = 16,
) -> list[Compared]:
    """A full identity run on both engines: the deterministic clusters, the links that built them,
    the refused identifiers, the people (records a unified id groups; a record without one alone)
    and their unified ids. ``nodes`` and ``attributes`` as ``GraphStore.load_all`` gives them."""
    graph, expected, resolved = _on_duckdb(nodes, attributes, config, salt)
    people = resolved.select("node", det=pl.coalesce("unified_id", pl.col("node").cast(pl.String)))
    spark_nodes = spark.createDataFrame(nodes.select(*NODE_COLUMNS).to_arrow())
    spark_attributes = spark.createDataFrame(attributes.to_arrow())
    spark_graph = prepare_on_spark(spark, spark_nodes, spark_attributes, config, salt)
    stitched = stitch_on_spark(spark_graph, spark_nodes, config, buckets=buckets)
    found = people_on_spark(spark, spark_graph, stitched, spark_nodes, config).clusters.select(
        "node", "cluster"
    )
    ids = fresh_ids_on_spark(found, spark_nodes, spark_graph, Roles.of(config))
    return [
        _clusters("identity: deterministic clusters", expected.det, to_polars(stitched.det)),
        _rows("identity: links", expected.links, to_polars(stitched.links)),
        _rows("identity: shared identifiers", graph.guard.shared, to_polars(spark_graph.shared)),
        _clusters("identity: people", people, to_polars(found.select("node", found.cluster.alias("det")))),
        _rows("identity: unified ids", resolved.drop_nulls("unified_id"), to_polars(ids)),
    ]
