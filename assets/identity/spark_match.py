""":func:`assets.identity.matching.match` on Spark: the per-pair work on the executors, the model on
the driver.

What grows with the graph runs where the graph is: profiles, blocking, each pair's agreement levels
and its term-frequency adjustment (``spark_matching``, and here ``adjust`` per partition with the
graph-wide name and context counts shipped to it). What the model is fitted from reaches the driver,
as the DuckDB engine holds it: the seed's linked and random pairs (sampled by the engine's own
functions from the cluster order, then compared on Spark) and the candidates' levels for the EM, in
the engine's pair order so the fit's sums run in the same order. Scoring is the engine's
``score_pairs`` on those levels."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pandas as pd
import polars as pl

from assets.common.spark import to_polars
from assets.identity.estimation import estimate
from assets.identity.matching import (
    PAIRS_SCHEMA,
    MatchResult,
    name_kinds,
    sample_linked_pairs,
    sample_random_pairs,
    score_pairs,
)
from assets.identity.scoring import FellegiSunter
from assets.identity.settings import IdentityConfig
from assets.identity.spark_matching import (
    candidate_pairs_on_spark,
    compare_on_spark,
    partition_pairs,
    profile_sides,
    profiles_on_spark,
)
from assets.identity.term_frequency import Frequencies, adjust

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

PAIR = ["cluster_a", "cluster_b"]


def _key_counts(profile: DataFrame, kind: str) -> pl.DataFrame:
    """``term_frequency.key_counts``: how many clusters hold each key of the kind."""
    from pyspark.sql import functions as F

    exploded = profile.select(F.explode(f"{kind}__set").alias("key"))
    return to_polars(exploded.groupBy("key").agg(F.count(F.lit(1)).alias("n")))


def _frequencies(profile: DataFrame, kinds: list[str], config: IdentityConfig, total: int) -> Frequencies:
    """``Frequencies.of_profile``, counted on Spark: a few rows per distinct name and context value."""
    contexts = [c for c in config.matching.term_frequency_context if f"{c}__set" in profile.columns]
    names = {k: _key_counts(profile, k) for k in name_kinds(config, kinds)}
    return Frequencies(names, {c: _key_counts(profile, c) for c in contexts}, total)


def _adjuster(frequencies: Frequencies, columns: list[str]) -> Any:
    """The function ``mapInArrow`` runs on each partition of pairs: ``adjust`` on its pairs."""

    def adjust_pairs(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            pairs, profile = partition_pairs(batch, columns)
            tf_u, folded = adjust(profile, pairs, frequencies)
            adjusted = pairs.with_columns(
                **{f"u:{k}": pl.Series(tf_u[k].to_numpy()) for k in tf_u},
                **{f"folded:{c}": pl.Series(folded[c].to_numpy()) for c in folded},
            )
            yield from adjusted.to_arrow().to_batches()

    return adjust_pairs


def _adjusted(
    profile: DataFrame, pairs: DataFrame, frequencies: Frequencies, count: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``term_frequency.adjust`` per candidate pair, computed per partition, in the pairs' order."""
    columns = [f"{k}__set" for k in [*frequencies.names, *frequencies.contexts]]
    schema = ", ".join(
        ["cluster_a long", "cluster_b long"]
        + [f"`u:{k}` double" for k in frequencies.names if f"{k}__set" in profile.columns]
        + [f"`folded:{c}` boolean" for c in frequencies.contexts]
    )
    joined = profile_sides(profile, pairs, columns)
    rows = to_polars(joined.mapInArrow(_adjuster(frequencies, columns), schema)).sort(PAIR)
    index = pd.RangeIndex(count)
    tf_u = pd.DataFrame(
        {c[2:]: rows.get_column(c).to_numpy() for c in rows.columns if c.startswith("u:")}, index
    )
    folded = pd.DataFrame(
        {c[7:]: rows.get_column(c).to_numpy() for c in rows.columns if c.startswith("folded:")}, index
    )
    return tf_u, folded


def _compared_in_order(
    spark: SparkSession, profile: DataFrame, pairs: pl.DataFrame, config: IdentityConfig, kinds: list[str]
) -> pd.DataFrame:
    """The engine's ``compare_profiles`` of driver-side ``pairs`` (repeats kept, in their order)."""
    distinct = spark.createDataFrame(pairs.unique().to_arrow())
    levels = to_polars(compare_on_spark(profile, distinct, config, kinds))
    ordered = pairs.join(levels, on=PAIR, how="left", maintain_order="left")
    return ordered.select(kinds).to_pandas()


def _seed(
    spark: SparkSession, compared: DataFrame, profile: DataFrame, config: IdentityConfig, kinds: list[str]
) -> tuple[FellegiSunter, pl.DataFrame]:
    """``FellegiSunter.fit`` on pairs sampled as the engine samples them; also the cluster ids."""
    from pyspark.sql import functions as F

    clusters = to_polars(profile.select("cluster")).sort("cluster")
    linked_pairs = sample_linked_pairs(to_polars(compared.select("node", "cluster").distinct()))
    sampled = spark.createDataFrame(
        pl.concat([linked_pairs.get_column(c) for c in PAIR]).unique().to_frame("node").to_arrow()
    )
    node_rows = compared.join(F.broadcast(sampled), "node").select(
        F.col("node").alias("cluster"), "attribute_kind", "key"
    )
    linked = _compared_in_order(spark, profiles_on_spark(node_rows, kinds), linked_pairs, config, kinds)
    random = _compared_in_order(spark, profile, sample_random_pairs(clusters), config, kinds)
    methods = {k: config.attribute_kinds[k].compare or "exact" for k in kinds}
    return FellegiSunter.fit(linked, random, 1.0 / max(clusters.height, 2), methods), clusters


def match_on_spark(spark: SparkSession, compared: DataFrame, config: IdentityConfig) -> MatchResult:
    """``matching.match`` of ``compared`` (node, cluster, attribute_kind, key) on Spark."""
    present = {row[0] for row in compared.select("attribute_kind").distinct().collect()}
    kinds = [k for k in config.compared_kinds if k in present]
    empty = pl.DataFrame(schema=PAIRS_SCHEMA)
    if not kinds:
        return MatchResult(empty, 0, 0, {})
    profile = profiles_on_spark(compared.select("cluster", "attribute_kind", "key"), kinds).localCheckpoint()
    blocking = config.matching
    found, skipped = candidate_pairs_on_spark(profile, blocking.blocking, blocking.max_block_size)
    pairs = to_polars(found).sort(PAIR)
    if pairs.is_empty():
        return MatchResult(empty, 0, skipped, {})
    seed, clusters = _seed(spark, compared, profile, config, kinds)
    features = _compared_in_order(spark, profile, pairs, config, kinds)
    frequencies = _frequencies(profile, kinds, config, clusters.height)
    tf_u, folded = _adjusted(profile, spark.createDataFrame(pairs.to_arrow()), frequencies, pairs.height)
    model, fit = estimate(seed, features, tf_u, folded[[c for c in folded if c in kinds]], blocking.blocking)
    model = dataclasses.replace(model, context_shares=frequencies.shares())
    columns = pl.DataFrame(schema={f"{k}__set": pl.List(pl.String) for k in kinds})
    scored = score_pairs(columns, pairs, model, frequencies, config, skipped, (features, tf_u, folded))
    return dataclasses.replace(scored, fit=fit)
