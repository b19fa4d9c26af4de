"""A full identity run on Spark: ``engine.resolve`` for graphs one process cannot hold, returning
what it returns — the resolved nodes, the links that built each person, the history, the refused
values, the review queue's candidates, the figures and the fitted model.

The tables the size of the graph (resolved nodes, links, keys) stay Spark DataFrames; the rest is
the size of the matches or of the guards and is built on the driver by the engine's own functions
(``link_rows.matched_link_rows``, ``review.candidate_rows``, ``pins.pin_history``) from the few rows
they read."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import polars as pl

from assets.common.spark import to_polars
from assets.identity.link_rows import matched_link_rows
from assets.identity.pins import PIN_RULE, pin_history, pins_not_found
from assets.identity.results import KEY_COLUMNS, LINKS_SCHEMA, NODE_KEYS, RESOLVED_SCHEMA
from assets.identity.review import candidate_rows
from assets.identity.scoring import FellegiSunter
from assets.identity.settings import IdentityConfig
from assets.identity.spark_ids import NODE_COLUMNS, describe_on_spark, ids_on_spark, resolved_on_spark
from assets.identity.spark_prepare import SparkGraph, prepare_on_spark
from assets.identity.spark_resolve import SparkPeople, people_on_spark
from assets.identity.spark_stitching import SparkStitched, stitch_on_spark
from assets.identity.steps import Clock, Roles

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


@dataclass(frozen=True)
class SparkResolution:
    """:class:`assets.identity.results.Resolution` with its graph-sized frames on Spark."""

    resolved: DataFrame  # RESOLVED_SCHEMA's columns
    links: DataFrame  # LINKS_SCHEMA's columns
    keys: DataFrame  # KEY_COLUMNS: every normalised key, the refused ones included
    history: pl.DataFrame  # stable_ids.HISTORY_SCHEMA, the pins' events after the merges and splits
    guarded: pl.DataFrame  # attribute_kind, namespace, value, guard
    candidates: pl.DataFrame  # CANDIDATES_SCHEMA
    stats: dict[str, int | float]
    match_weights: dict[str, dict[str, float]]
    model: FellegiSunter | None
    match_weight_changes: dict[str, float]


def _involved(frame: DataFrame, pairs: pl.DataFrame) -> DataFrame:
    """``frame``'s rows whose ``det`` is one of the clusters the scored ``pairs`` name."""
    from pyspark.sql import functions as F

    dets = pl.concat([pairs.get_column("cluster_a"), pairs.get_column("cluster_b")]).unique()
    wanted = frame.sparkSession.createDataFrame(dets.to_frame("det").to_arrow(), schema="det long")
    return frame.join(F.broadcast(wanted), "det")


def links_on_spark(stitched: SparkStitched, people: SparkPeople, resolved: DataFrame) -> DataFrame:
    """``link_rows.build_links``: the deterministic links on Spark, the accepted matches between their
    clusters' first records (on the driver), each side named by its record keys."""
    from pyspark.sql import functions as F

    rows = stitched.links.select(
        "a",
        "b",
        F.when(F.col("rule") == PIN_RULE, "pinned").otherwise("deterministic").alias("method"),
        "rule",
        F.lit(None).cast("double").alias("score"),
        F.lit(None).cast("string").alias("evidence"),
    )
    if people.merged is not None and people.merged.links:
        sides = to_polars(_involved(resolved, people.accepted).select("node", "det", "record_type"))
        matched = matched_link_rows(people.accepted, people.merged.links, sides, sides.select("node", "det"))
        rows = rows.unionByName(resolved.sparkSession.createDataFrame(matched.to_arrow(), schema=rows.schema))
    side = resolved.select(*NODE_KEYS, "node", "unified_id")
    other = side.select(*[F.col(c).alias(f"{c}_b") for c in (*NODE_KEYS, "node")])
    return (
        rows.join(side, rows.a == side.node)
        .join(other, rows.b == other.node_b)
        .select(
            *[F.col(c).alias(f"{c}_a") for c in NODE_KEYS],
            *[f"{c}_b" for c in NODE_KEYS],
            "unified_id",
            "method",
            "rule",
            "score",
            "evidence",
        )
    )


def guarded_on_spark(graph: SparkGraph) -> pl.DataFrame:
    """``steps.guarded_values``: the placeholders met and the shared identifiers refused."""
    columns = ["attribute_kind", "namespace", "key"]
    refused = to_polars(graph.refused.select(*columns).distinct())
    return (
        pl.concat(
            [
                to_polars(graph.blocked.select(*columns)).with_columns(guard=pl.lit("blocked_value")),
                refused.with_columns(guard=pl.lit("shared_identifier")),
            ]
        )
        .sort(columns)
        .rename({"key": "value"})
    )


def _counts(resolved: DataFrame) -> dict[str, int]:
    """The figures ``engine._stats`` reads off the resolved nodes, in one pass and one grouping."""
    from pyspark.sql import functions as F

    record = F.col("record_type") == "record"
    totals = resolved.agg(
        F.count(F.when(record, 1)).alias("records"),
        F.count("*").alias("nodes"),
        F.count(F.when(record & (F.col("method") == "anonymous"), 1)).alias("anonymous_records"),
        F.countDistinct("unified_id").alias("users"),
        F.countDistinct(F.when(record, F.col("unified_id"))).alias("users_with_records"),
    ).first()
    largest = (
        resolved.where(record & F.col("unified_id").isNotNull())
        .groupBy("unified_id")
        .count()
        .agg(F.max("count"))
        .first()
    )
    assert totals is not None and largest is not None
    figures = totals.asDict()
    figures["actors"] = figures.pop("nodes") - figures["records"]
    return figures | {"largest_cluster": largest[0] or 0}


def _stats(
    graph: SparkGraph, stitched: SparkStitched, people: SparkPeople, resolved: DataFrame, history: int
) -> dict[str, int | float]:
    """``engine._stats`` on Spark."""
    conflicted = stitched.conflicted.count()
    parts = stitched.det.join(stitched.split_nodes, "node", "left_semi").select("det").distinct().count()
    best = people.merged.best.height if people.merged else 0
    scored = people.scored
    return _counts(resolved) | {
        "identifiers": graph.strong.select("identifier").distinct().count(),
        "blocked_values": graph.blocked.count(),
        "shared_identifiers": graph.shared.count(),
        "conflicted_components": conflicted,
        "parts_split_from_conflicts": parts - conflicted,
        "match_candidates": scored.candidates,
        "match_blocks_skipped": scored.skipped_blocks,
        "candidate_matches": people.accepted.height,
        "ambiguous_matches_dropped": people.accepted.height - best,
        "clusters_joined_by_matching": people.merges,
        "match_prior": scored.prior or 0.0,
        "history_events": history,
    }


def _review_candidates(
    people: SparkPeople, described: DataFrame, config: IdentityConfig, run_id: str
) -> pl.DataFrame:
    """``review.candidate_rows`` from the nodes of the scored pairs' clusters alone."""
    involved = to_polars(
        _involved(described, people.scored.pairs).select("node", "det", "cluster", *NODE_KEYS)
    )
    return candidate_rows(
        people.scored.pairs, involved.select("node", "det", "cluster"), involved, config, run_id
    )


def resolve_on_spark(
    spark: SparkSession,
    nodes: DataFrame,
    attributes: DataFrame,
    config: IdentityConfig,
    *,
    salt: str,
    previous: DataFrame | None = None,
    run_id: str = "manual",
    resolved_at: datetime | None = None,
    previous_model: FellegiSunter | None = None,
    buckets: int = 16,
) -> SparkResolution:
    """``engine.resolve`` on Spark: the same arguments with Spark DataFrames for the graph-sized
    ones (``nodes``: NODE_COLUMNS; ``attributes``: node, attribute_kind, namespace, value;
    ``previous``: node, unified_id, id_created_at, first_linked_run)."""
    clock, resolved_at, roles = Clock(), resolved_at or datetime.now(), Roles.of(config)
    nodes = nodes.select(*NODE_COLUMNS)
    graph = prepare_on_spark(spark, nodes, attributes, config, salt)
    clock.lap("prepare")
    stitched = stitch_on_spark(graph, nodes, config, buckets=buckets)
    clock.lap("deterministic")
    people = people_on_spark(spark, graph, stitched, nodes, config)
    clock.lap("matching")
    described = describe_on_spark(nodes, graph, stitched, people, roles).localCheckpoint()
    ids, history = ids_on_spark(described, previous, run_id, resolved_at)
    resolved = resolved_on_spark(described, ids, previous, run_id, resolved_at).localCheckpoint()
    pin_events, pin_stats = _pin_events(graph, resolved, config, run_id, resolved_at)
    model = people.scored.model
    result = SparkResolution(
        resolved=_typed(resolved, RESOLVED_SCHEMA),
        links=_typed(links_on_spark(stitched, people, resolved), LINKS_SCHEMA),
        keys=graph.usable.select(*KEY_COLUMNS).unionByName(graph.refused.select(*KEY_COLUMNS)),
        history=pl.concat([history, pin_events]),
        guarded=guarded_on_spark(graph),
        candidates=_review_candidates(people, resolved, config, run_id),
        stats=_stats(graph, stitched, people, resolved, history.height) | people.scored.fit | pin_stats,
        match_weights=people.scored.weights,
        model=dataclasses.replace(model, context_values=stitched.context_values) if model else None,
        match_weight_changes=model.changes(previous_model) if model else {},
    )
    clock.lap("ids_and_links")
    return dataclasses.replace(result, stats=result.stats | clock.stats())


def _pin_events(
    graph: SparkGraph, resolved: DataFrame, config: IdentityConfig, run_id: str, resolved_at: datetime
) -> tuple[pl.DataFrame, dict[str, int]]:
    """``pins.pin_history`` over the pinned nodes, and how many pins name no record of the run."""
    from pyspark.sql import functions as F

    pinned = to_polars(graph.pinned)
    sides = resolved.join(F.broadcast(graph.pinned.select("node").distinct()), "node", "left_semi")
    events, stats = pin_history(
        config.pins.all,
        pinned,
        to_polars(sides.select("node", "source", "record_id", "unified_id")),
        run_id,
        resolved_at,
    )
    return events, stats | {"pins_with_a_side_not_found": pins_not_found(config.pins.all, pinned)}


SPARK_TYPES = {
    pl.String: "string",
    pl.Categorical: "string",
    pl.Int64: "long",
    pl.Float64: "double",
    pl.Datetime: "timestamp_ntz",
}
"""The Spark type of each polars type the identity tables hold (timestamps without a zone)."""


def _typed(frame: DataFrame, schema: pl.Schema) -> DataFrame:
    """``frame``'s columns of ``schema``, in its order and with its types."""
    from pyspark.sql import functions as F

    types = [next(name for kind, name in SPARK_TYPES.items() if dtype == kind) for dtype in schema.values()]
    return frame.select(*[F.col(c).cast(t).alias(c) for c, t in zip(schema, types, strict=True)])
