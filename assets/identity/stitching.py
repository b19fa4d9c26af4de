"""Deterministic stitching: records (and event actors) that share a normalised strong identifier
belong to the same person, found as connected components of the record–identifier graph.

Guards keep shared identifiers from gluing strangers together: configured placeholder values are
never merge keys, and a value seen alongside more than ``max_partner_values`` distinct values of
another strong kind (a family phone with three shop accounts, a front-desk number with dozens of
member cards) is treated as shared and not used either."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pipelines.config import IdentityConfig

RESOLVED_SCHEMA = {
    "source": pl.String, "record_id": pl.String, "record_type": pl.String, "unified_id": pl.String,
    "method": pl.String, "rule": pl.String, "cluster_size": pl.Int64, "observed_at": pl.Datetime("us"),
    "resolved_at": pl.Datetime("us"),
}


@dataclass(frozen=True)
class StitchResult:
    resolved: pl.DataFrame  # RESOLVED_SCHEMA
    guarded: pl.DataFrame  # attribute_kind, value, guard: identifier values never used as merge keys
    stats: "StitchStats"


@dataclass(frozen=True)
class StitchStats:
    nodes: int
    identifiers: int
    blocked_values: int
    shared_identifiers: int
    clusters: int
    largest_cluster: int
    singleton_records: int


def identifier_keys(attributes: pl.DataFrame, config: IdentityConfig) -> pl.DataFrame:
    """Valid attribute rows of the kinds stitching rules use, with an ``identifier`` key
    (namespaced kinds keep their namespace: ``platform_account:jd:alice``)."""
    namespaced = [k.name for k in config.attribute_kinds.values() if k.namespaced]
    linking = sorted({kind for rule in config.rules for kind in rule.kinds})
    strong = attributes.filter(pl.col("attribute_kind").is_in(linking) & pl.col("value").is_not_null())
    return strong.with_columns(
        identifier=pl.when(pl.col("attribute_kind").is_in(namespaced))
        .then(pl.concat_str(["attribute_kind", "namespace", "value"], separator=":"))
        .otherwise(pl.concat_str(["attribute_kind", "value"], separator=":")),
        kind_ns=pl.when(pl.col("attribute_kind").is_in(namespaced))
        .then(pl.concat_str(["attribute_kind", "namespace"], separator=":"))
        .otherwise(pl.col("attribute_kind")),
    )


def blocked_mask(edges: pl.DataFrame, config: IdentityConfig) -> pl.Expr:
    conditions = [(pl.col("attribute_kind") == kind) & pl.col("value").is_in(sorted(values))
                  for kind, values in config.blocked_values.items() if values]
    return pl.any_horizontal(conditions) if conditions else pl.lit(False)


def shared_identifiers(edges: pl.DataFrame, max_partner_values: int) -> pl.Series:
    """Identifiers seen with more than ``max_partner_values`` distinct values of some other kind."""
    pairs = (
        edges.select("node", "identifier", "kind_ns")
        .join(edges.select("node", pl.col("identifier").alias("partner"), pl.col("kind_ns").alias("partner_kind")),
              on="node")
        .filter(pl.col("kind_ns") != pl.col("partner_kind"))
    )
    counts = pairs.group_by("identifier", "partner_kind").agg(pl.col("partner").n_unique().alias("n"))
    return counts.filter(pl.col("n") > max_partner_values).get_column("identifier").unique()


def unified_id(source: str, record_id: str) -> str:
    return "u_" + hashlib.md5(f"{source}|{record_id}".encode()).hexdigest()[:16]


def stitch(records: pl.DataFrame, attributes: pl.DataFrame, config: IdentityConfig,
           resolved_at: datetime | None = None) -> StitchResult:
    """Resolve every record and every identifiable event actor to a unified id.

    ``records``: (source, record_id, observed_at) of identity-bearing feeds — each gets an id, alone
    if need be. ``attributes``: normalised attributes (source, record_id, record_type,
    attribute_kind, namespace, value, observed_at) of records and actors. Actors without a usable
    identifier get no id: their events stay anonymous rather than forming a fake person."""
    resolved_at = resolved_at or datetime.now()
    edges = identifier_keys(attributes, config)
    is_blocked = edges.select(blocked_mask(edges, config)).to_series()
    blocked = edges.filter(is_blocked).select("attribute_kind", "value").unique()
    edges = edges.filter(~is_blocked)

    nodes = pl.concat([
        records.select("source", "record_id", pl.lit("record").alias("record_type"), "observed_at"),
        edges.group_by("source", "record_id", "record_type").agg(pl.col("observed_at").min())
        .filter(pl.col("record_type") == "actor"),
    ], how="vertical_relaxed").unique(["source", "record_id", "record_type"], keep="first", maintain_order=True)
    nodes = nodes.sort("source", "record_id").with_row_index("node")
    edges = edges.join(nodes.select("source", "record_id", "record_type", "node"),
                       on=["source", "record_id", "record_type"], how="inner")

    shared = shared_identifiers(edges, config.max_partner_values)
    guarded = pl.concat([
        blocked.with_columns(guard=pl.lit("blocked_value")),
        edges.filter(pl.col("identifier").is_in(shared.implode())).select("attribute_kind", "value").unique()
        .with_columns(guard=pl.lit("shared_identifier")),
    ]).sort("attribute_kind", "value")
    edges = edges.filter(~pl.col("identifier").is_in(shared.implode()))
    ident_codes = edges.get_column("identifier").cast(pl.Categorical).to_physical()
    edges = edges.with_columns(ident=ident_codes.cast(pl.Int64))

    n_nodes, n_idents = nodes.height, int(ident_codes.max() or 0) + 1 if edges.height else 0
    rows = edges.get_column("node").to_numpy().astype(np.int64)
    cols = edges.get_column("ident").to_numpy() + n_nodes
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n_nodes + n_idents,) * 2)
    _, labels = connected_components(graph, directed=False)
    nodes = nodes.with_columns(component=pl.Series(labels[:n_nodes]))

    # Actors left with no usable identifier stay anonymous.
    linked_nodes = edges.get_column("node").unique()
    nodes = nodes.filter((pl.col("record_type") == "record") | pl.col("node").is_in(linked_nodes.implode()))

    anchors = (nodes.sort("observed_at", "source", "record_id", nulls_last=True)
               .group_by("component", maintain_order=True)
               .agg(pl.col("source").first(), pl.col("record_id").first(), pl.len().alias("cluster_size")))
    anchors = anchors.with_columns(unified_id=pl.struct("source", "record_id").map_elements(
        lambda r: unified_id(r["source"], r["record_id"]), return_dtype=pl.String)).select(
        "component", "unified_id", "cluster_size")

    rules = _linking_rule(edges, config)
    resolved = (
        nodes.join(anchors, on="component").join(rules, on="node", how="left")
        .with_columns(method=pl.when(pl.col("cluster_size") > 1).then(pl.lit("deterministic"))
                      .otherwise(pl.lit("singleton")),
                      resolved_at=pl.lit(resolved_at, dtype=pl.Datetime("us")))
        .with_columns(rule=pl.when(pl.col("method") == "singleton").then(None).otherwise(pl.col("rule")))
        .select(list(RESOLVED_SCHEMA)).cast(RESOLVED_SCHEMA)
    )
    stats = StitchStats(
        nodes=resolved.height,
        identifiers=n_idents,
        blocked_values=blocked.height,
        shared_identifiers=shared.len(),
        clusters=resolved.get_column("unified_id").n_unique(),
        largest_cluster=int(resolved.get_column("cluster_size").max() or 0),
        singleton_records=resolved.filter((pl.col("method") == "singleton") & (pl.col("record_type") == "record")).height,
    )
    return StitchResult(resolved, guarded, stats)


def _linking_rule(edges: pl.DataFrame, config: IdentityConfig) -> pl.DataFrame:
    """For each node, the highest-priority rule among the identifiers it shares with another node."""
    priority = {kind: (i, rule.name) for i, rule in enumerate(config.rules) for kind in rule.kinds}
    ranks = pl.DataFrame({"attribute_kind": list(priority), "priority": [p[0] for p in priority.values()],
                          "rule": [p[1] for p in priority.values()]},
                         schema={"attribute_kind": pl.String, "priority": pl.Int64, "rule": pl.String})
    degree = edges.group_by("ident").agg(pl.col("node").n_unique().alias("degree"))
    return (edges.join(degree, on="ident").filter(pl.col("degree") > 1).join(ranks, on="attribute_kind")
            .sort("priority").group_by("node").agg(pl.col("rule").first()))
