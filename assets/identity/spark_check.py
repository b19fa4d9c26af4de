"""Identity's Spark steps held to the DuckDB engine's on the same graph: the check ``cdp parity``
and ``benchmarks/bench_spark_identity.py`` make.

Both engines start from the same numbered nodes and raw values, so what is compared is identity
alone (the dbt parity holds the staged inputs equal). Clusters are compared as partitions, by
pairwise F1 of one engine's clusters against the other's (1.0 only when they are identical); links
and refused identifiers row for row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from assets.common.spark import to_polars
from assets.identity.engine import prepare, stitch_prepared
from assets.identity.evaluation import truth_scores
from assets.identity.settings import IdentityConfig
from assets.identity.spark_prepare import prepare_on_spark
from assets.identity.spark_stitching import stitch_on_spark
from assets.identity.steps import Clock

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

NODE_COLUMNS = ("node", "source", "record_id", "record_type")


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


def _canonical(det: pl.DataFrame) -> pl.DataFrame:
    """(node, smallest node of its cluster), sorted: equal only for identical partitions."""
    return det.select("node", smallest=pl.col("node").min().over("det")).sort("node")


def _rows(name: str, duck: pl.DataFrame, spark: pl.DataFrame) -> Compared:
    same = duck.sort(duck.columns).equals(spark.select(duck.columns).sort(duck.columns))
    return Compared(name, duck.height, spark.height, [] if same else ["rows differ"])


def deterministic_parity(
    spark: SparkSession,
    nodes: pl.DataFrame,
    attributes: pl.DataFrame,
    config: IdentityConfig,
    salt: str,
    buckets: int = 16,
) -> list[Compared]:
    """Prepare and stitch the graph on both engines; the clusters, links and refused identifiers.

    ``nodes`` and ``attributes`` as ``GraphStore.load_all`` gives them."""
    graph = prepare(nodes, attributes, config, salt, Clock())
    expected = stitch_prepared(graph, config)

    spark_nodes = spark.createDataFrame(nodes.select(*NODE_COLUMNS).to_arrow())
    spark_attributes = spark.createDataFrame(attributes.to_arrow())
    spark_graph = prepare_on_spark(spark, spark_nodes, spark_attributes, config, salt)
    stitched = stitch_on_spark(spark_graph, spark_nodes, config, buckets=buckets)
    det = to_polars(stitched.det)
    same = _canonical(expected.det).equals(_canonical(det))
    clusters = Compared(
        "identity: deterministic clusters",
        expected.det.height,
        det.height,
        [] if same else [f"pairwise agreement {partition_agreement(expected.det, det)}"],
    )
    return [
        clusters,
        _rows("identity: links", expected.links, to_polars(stitched.links)),
        _rows("identity: shared identifiers", graph.guard.shared, to_polars(spark_graph.shared)),
    ]
