"""Stable unified ids across runs.

A person whose records did not change keeps their ``unified_id``. When clusters merge, the merged
cluster keeps the oldest of their ids; when a cluster splits, the part holding most of its records
keeps the id and the other parts get new ones. A brand-new cluster's id is derived from its
earliest record, so a rebuild from scratch reproduces the same ids. Every merge and split is
returned as a history event for ``marts.identity_history``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import polars as pl

HISTORY_SCHEMA = pl.Schema(
    {
        "run_id": pl.String(),
        "event": pl.String(),
        "unified_id": pl.String(),
        "other_unified_id": pl.String(),
        "records": pl.Int64(),
        "record_keys": pl.List(pl.String()),
        "reason": pl.String(),
        "happened_at": pl.Datetime("us"),
    }
)


def new_unified_id(source: str, record_id: str) -> str:
    return "u_" + hashlib.md5(f"{source}|{record_id}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Assignment:
    ids: pl.DataFrame  # cluster, unified_id, id_created_at (when the id was first given)
    history: pl.DataFrame  # HISTORY_SCHEMA


def assign_ids(
    current: pl.DataFrame,
    names: pl.DataFrame,
    previous: pl.DataFrame | None,
    run_id: str,
    happened_at: datetime,
) -> Assignment:
    """Choose the unified id of each cluster.

    ``current``: (node, cluster, observed_at) of this run; ``names``: (node, source, record_id), read
    only for the rows an id is derived from or carried by (at 2 M people, the names of every node
    beside their clusters are gigabytes). ``previous``: (node, unified_id, id_created_at) — last
    run's ids of this run's nodes."""
    now = pl.lit(happened_at, dtype=pl.Datetime("us"))
    anchors = _anchors(current, names)
    if previous is None or previous.is_empty():
        ids = anchors.select("cluster", pl.col("fresh_id").alias("unified_id"), now.alias("id_created_at"))
        return Assignment(ids, pl.DataFrame(schema=HISTORY_SCHEMA))

    carried = current.select("node", "cluster", "observed_at").join(
        previous.select("node", "unified_id", "id_created_at"), on="node"
    )
    # an id's age: when it was given, then when its person was first seen
    age = carried.group_by("unified_id").agg(pl.col("observed_at").min().alias("first_seen"))
    overlap = (
        carried.group_by("cluster", "unified_id", "id_created_at")
        .agg(pl.len().alias("shared"))
        .join(age, on="unified_id")
    )
    kept = kept_ids(overlap, anchors.schema["cluster"])
    ids = anchors.join(kept, on="cluster", how="left").select(
        "cluster",
        pl.coalesce("unified_id", "fresh_id").alias("unified_id"),
        pl.coalesce("id_created_at", now).alias("id_created_at"),
    )
    # A fresh id may equal a retired id of the same anchor; it is a new cluster all the same.
    moved = moved_overlaps(overlap, ids)
    return Assignment(ids, history_events(_named(moved, carried, names), ids, run_id, happened_at))


def _named(moved: pl.DataFrame, carried: pl.DataFrame, names: pl.DataFrame) -> pl.DataFrame:
    """``moved`` (the overlaps whose records now carry another id) with those records' keys
    (``source:record_id``): named for the few that moved, not for every record of the graph."""
    keys = (
        carried.lazy()
        .join(moved.lazy().select("cluster", "unified_id"), on=["cluster", "unified_id"], how="semi")
        .join(names.lazy(), on="node")
        .group_by("cluster", "unified_id")
        .agg(pl.concat_str("source", "record_id", separator=":").sort().alias("keys"))
    )
    return moved.join(keys.collect(), on=["cluster", "unified_id"])


def _anchors(current: pl.DataFrame, names: pl.DataFrame) -> pl.DataFrame:
    """Per cluster: its earliest record (the anchor a fresh id is derived from): the earliest dated
    one, or any when none is dated; ties go to the smallest (source, record_id). Only the records
    dated as their cluster's earliest are named and sorted, not every node."""
    earliest = pl.col("observed_at").min().over("cluster")
    anchors = (
        current.lazy()
        .select("node", "cluster", "observed_at")
        .filter((pl.col("observed_at") == earliest) | earliest.is_null())
        .join(names.lazy(), on="node")
        .sort("source", "record_id")
        .group_by("cluster", maintain_order=True)
        .agg(pl.col("source").first(), pl.col("record_id").first())
        .collect()
    )
    return anchors.with_columns(
        fresh_id=pl.struct("source", "record_id").map_elements(
            lambda r: new_unified_id(r["source"], r["record_id"]), return_dtype=pl.String
        )
    )


def kept_ids(overlap: pl.DataFrame, cluster_dtype: pl.DataType) -> pl.DataFrame:
    """Which old id each cluster keeps: oldest ids choose first, and each goes to the cluster
    holding most of its records; a cluster keeps at most one id and an id goes to one cluster."""
    candidates = overlap.sort(
        ["id_created_at", "first_seen", "unified_id", "shared", "cluster"],
        descending=[False, False, False, True, False],
        nulls_last=True,
    )
    taken_cluster: dict[int, tuple[str, datetime]] = {}
    used_ids: set[str] = set()
    for cluster, uid, created in candidates.select("cluster", "unified_id", "id_created_at").iter_rows():
        if cluster in taken_cluster or uid in used_ids:
            continue
        taken_cluster[cluster] = (uid, created)
        used_ids.add(uid)
    return pl.DataFrame(
        {
            "cluster": list(taken_cluster),
            "unified_id": [v[0] for v in taken_cluster.values()],
            "id_created_at": [v[1] for v in taken_cluster.values()],
        },
        schema={"cluster": cluster_dtype, "unified_id": pl.String, "id_created_at": pl.Datetime("us")},
    )


def moved_overlaps(overlap: pl.DataFrame, ids: pl.DataFrame) -> pl.DataFrame:
    """The overlaps (cluster, old ``unified_id``, shared records) whose records now carry another id
    (``new_id``, the cluster's id in ``ids``): the history's merges and splits, the only overlaps
    whose records' keys are gathered."""
    return overlap.join(ids.select("cluster", new_id=pl.col("unified_id")), on="cluster").filter(
        pl.col("unified_id") != pl.col("new_id")
    )


def history_events(
    moved: pl.DataFrame, ids: pl.DataFrame, run_id: str, happened_at: datetime
) -> pl.DataFrame:
    """Merges (an old id absorbed into another cluster's id) and splits (records of an old id now
    under a different id while the old id lives on elsewhere), from :func:`moved_overlaps` with the
    moved records' ``keys``."""
    surviving = set(ids.get_column("unified_id").to_list())
    events = moved.with_columns(
        event=pl.when(pl.col("unified_id").is_in(list(surviving)))
        .then(pl.lit("split"))
        .otherwise(pl.lit("merge"))
    ).select(
        pl.lit(run_id).alias("run_id"),
        "event",
        pl.col("new_id").alias("unified_id"),
        pl.col("unified_id").alias("other_unified_id"),
        pl.col("shared").cast(pl.Int64).alias("records"),
        pl.col("keys").alias("record_keys"),
        pl.when(pl.col("event") == "merge")
        .then(pl.lit("clusters joined by new evidence; the oldest id is kept"))
        .otherwise(
            pl.lit("records left their cluster (conflict or lost evidence); the larger part keeps the id")
        )
        .alias("reason"),
        pl.lit(happened_at, dtype=pl.Datetime("us")).alias("happened_at"),
    )
    return events.sort("event", "unified_id", "other_unified_id").cast(HISTORY_SCHEMA)
