"""Probabilistic matching's distributed part on Spark: cluster profiles and blocking.

These are the two steps of ``matching.match`` whose work grows with the graph rather than with the
candidate pairs: one row per cluster with its keys of every compared kind, and the pairs of clusters
sharing a value combination of some blocking pass (a combination shared by more than
``max_block_size`` clusters is skipped, as too common to be evidence). They are stated here as
DataFrame operations that give ``matching.profiles`` and ``matching.candidate_pairs`` row for row.
Comparing a pair's key sets is Python (typo and name similarity), run on the executors by
``matching.compare_profiles`` itself over each partition of pairs. ``spark_match`` fits the model
and scores the pairs from these."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import polars as pl

from assets.identity.matching import compare_profiles
from assets.identity.settings import IdentityConfig

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame


def profiles_on_spark(keyed: DataFrame, kinds: list[str]) -> DataFrame:
    """``matching.profiles``: per cluster, ``<kind>`` its most frequent key (the smallest among
    equally frequent ones) and ``<kind>__set`` all its keys, most frequent first.

    ``keyed``: (cluster, attribute_kind, key) of the compared kinds."""
    from pyspark.sql import functions as F

    counted = keyed.groupBy("cluster", "attribute_kind", "key").agg(F.count(F.lit(1)).alias("len"))
    ordered = F.array_sort(F.collect_list(F.struct((-F.col("len")).alias("rank"), F.col("key"))))
    grouped = (
        counted.groupBy("cluster", "attribute_kind")
        .agg(ordered.alias("keys"))
        .select(
            "cluster",
            "attribute_kind",
            F.col("keys")[0]["key"].alias("main"),
            F.transform("keys", lambda entry: entry["key"]).alias("set"),
        )
    )
    # one row per cluster in one aggregation (a join per kind would stack a sort per kind in a task)
    columns = []
    for kind in kinds:
        of_kind = F.col("attribute_kind") == kind
        columns += [
            F.first(F.when(of_kind, F.col("main")), ignorenulls=True).alias(kind),
            F.first(F.when(of_kind, F.col("set")), ignorenulls=True).alias(f"{kind}__set"),
        ]
    return grouped.groupBy("cluster").agg(*columns)


def _block_keys(profile: DataFrame, kinds: tuple[str, ...]) -> DataFrame:
    """``matching.block_keys``: every value combination of the pass's kinds a cluster holds."""
    from pyspark.sql import functions as F

    keyed = profile.select("cluster", *(F.col(f"{k}__set").alias(k) for k in kinds)).dropna()
    for kind in kinds:
        keyed = keyed.withColumn(kind, F.explode(kind))
    return keyed.distinct()


def candidate_pairs_on_spark(
    profile: DataFrame, passes: tuple[tuple[str, ...], ...], max_block_size: int
) -> tuple[DataFrame, int]:
    """``matching.candidate_pairs``: (cluster_a < cluster_b) pairs sharing every kind of some pass,
    and how many combinations were skipped as too common."""
    from pyspark.sql import functions as F

    found, skipped = None, 0
    for kinds in passes:
        if not all(f"{k}__set" in profile.columns for k in kinds):
            continue
        keyed = _block_keys(profile, kinds).localCheckpoint()
        sizes = keyed.groupBy(*kinds).agg(F.count(F.lit(1)).alias("len")).localCheckpoint()
        skipped += sizes.where(F.col("len") > max_block_size).count()
        usable = sizes.where((F.col("len") > 1) & (F.col("len") <= max_block_size)).drop("len")
        blocked = keyed.join(usable, list(kinds), "left_semi")
        other = blocked.select(*kinds, F.col("cluster").alias("cluster_b"))
        pairs = (
            blocked.join(other, list(kinds))
            .where(F.col("cluster") < F.col("cluster_b"))
            .select(F.col("cluster").alias("cluster_a"), "cluster_b")
        )
        found = pairs if found is None else found.unionByName(pairs)
    if found is None:
        return profile.sparkSession.createDataFrame([], "cluster_a long, cluster_b long"), skipped
    return found.distinct(), skipped


def profile_sides(profile: DataFrame, pairs: DataFrame, columns: list[str]) -> DataFrame:
    """``pairs`` with both clusters' profile ``columns``, as ``a:<column>`` and ``b:<column>`` (null
    where a cluster has no profile, as the engine's left joins give)."""
    from pyspark.sql import functions as F

    for side in ("a", "b"):
        named = profile.select(
            F.col("cluster").alias(f"cluster_{side}"), *(F.col(c).alias(f"{side}:{c}") for c in columns)
        )
        pairs = pairs.join(named, f"cluster_{side}", "left")
    return pairs


def partition_pairs(batch: pa.RecordBatch, columns: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A partition of :func:`profile_sides` rows as the engine's functions take them: the pairs, and
    the profile (``cluster`` and ``columns``) of the clusters they name."""
    rows = pl.from_arrow(batch)
    assert isinstance(rows, pl.DataFrame)
    sides = [
        rows.select(cluster=f"cluster_{side}", **{c: f"{side}:{c}" for c in columns}) for side in ("a", "b")
    ]
    return rows.select("cluster_a", "cluster_b"), pl.concat(sides).unique("cluster")


def _comparer(config: IdentityConfig, kinds: list[str]) -> Any:
    """The function ``mapInArrow`` runs on each partition of pairs with both sides' key sets."""

    def compare(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            pairs, profile = partition_pairs(batch, [f"{k}__set" for k in kinds])
            levels = compare_profiles(profile, pairs, config, kinds)
            compared = pairs.with_columns(**{k: pl.Series(levels[k].to_numpy()) for k in kinds})
            yield from compared.to_arrow().to_batches()

    return compare


def compare_on_spark(
    profile: DataFrame, pairs: DataFrame, config: IdentityConfig, kinds: list[str]
) -> DataFrame:
    """``matching.compare_profiles`` per candidate pair, on the executors: (cluster_a, cluster_b,
    <kind>: the agreement level, NaN when a side has no key of it)."""
    joined = profile_sides(profile, pairs, [f"{k}__set" for k in kinds])
    schema = ", ".join(["cluster_a long", "cluster_b long", *(f"`{k}` double" for k in kinds)])
    return joined.mapInArrow(_comparer(config, kinds), schema)
