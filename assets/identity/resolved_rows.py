"""The rows a full run resolves: each node's cluster, method, rule, confidence and stable id.

Built as lazy queries over the whole graph with only the columns kept: at 2 M people the graph holds
22 M nodes, and every eager step of the chain was another copy of them. The nodes' names (source,
record_id) join only the finished rows, and the stable ids read the names of the records they are
derived from (:func:`assets.identity.stable_ids.assign_ids`)."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from assets.identity.results import LABEL, RESOLVED_SCHEMA
from assets.identity.stable_ids import assign_ids
from assets.identity.steps import Roles


def node_rules(links: pl.DataFrame, roles: Roles) -> pl.DataFrame:
    """(node, rule): the strongest rule among each node's deterministic links."""
    rule_rank = {r: i for i, r in enumerate(roles.rule_names)}
    return (
        pl.concat(
            [links.select(pl.col("a").alias("node"), "rule"), links.select(pl.col("b").alias("node"), "rule")]
        )
        .with_columns(priority=pl.col("rule").replace_strict(rule_rank, return_dtype=pl.Int64))
        .sort("priority")
        .group_by("node")
        .agg(pl.col("rule").first())
    )


def describe_nodes(
    nodes: pl.DataFrame,
    keyed: pl.DataFrame,
    strong: pl.DataFrame,
    det_links: pl.DataFrame,
    final: pl.DataFrame,
    absorbed: pl.DataFrame,
    roles: Roles,
) -> pl.DataFrame:
    """Per node (node, record_type, observed_at): its cluster, method, rule and confidence. Actors
    without a usable strong identifier stay anonymous event streams and are left out.

    ``final``: (node, det, cluster) after matching; ``absorbed``: (det, score), the deterministic
    clusters a match folded into another; ``det_links``: (a, b, rule)."""
    identifiable = (
        keyed.lazy()
        .filter(~pl.col("attribute_kind").is_in(roles.context))
        .select("node")
        .unique()
        .with_columns(identifiable=pl.lit(True))
    )
    linked_actor = strong.lazy().select("node").unique().with_columns(linked=pl.lit(True))
    current = (
        nodes.lazy()
        .select("node", "record_type", "observed_at")
        .join(final.lazy(), on="node")
        .join(identifiable, on="node", how="left")
        .join(linked_actor, on="node", how="left")
        .filter((pl.col("record_type") == "record") | pl.col("linked").is_not_null())
        .drop("linked")
    )
    sizes = current.group_by("cluster").len("cluster_size")
    return (
        current.join(sizes, on="cluster")
        .join(node_rules(det_links, roles).lazy(), on="node", how="left")
        .join(absorbed.lazy(), on="det", how="left")
        .with_columns(
            method=pl.when(pl.col("identifiable").is_null())
            .then(pl.lit("anonymous"))
            .when(pl.col("cluster_size") == 1)
            .then(pl.lit("singleton"))
            .when(pl.col("score").is_not_null())
            .then(pl.lit("probabilistic"))
            .otherwise(pl.lit("deterministic"))
        )
        .with_columns(
            confidence=pl.when(pl.col("method") != "anonymous").then(pl.coalesce("score", pl.lit(1.0))),
            rule=pl.when(pl.col("method") == "probabilistic")
            .then(pl.lit("match"))
            .when(pl.col("method").is_in(["singleton", "anonymous"]))
            .then(None)
            .otherwise(pl.col("rule")),
        )
        .drop("det", "identifiable", "cluster_size", "score")
        .collect()
    )


def resolved_rows(
    current: pl.DataFrame,
    nodes: pl.DataFrame,
    previous: pl.DataFrame | None,
    run_id: str,
    resolved_at: datetime,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Stable ids for the clusters :func:`describe_nodes` found (the resolved rows, RESOLVED_SCHEMA),
    and the history of merges and splits.

    Records without any usable identifier (a cash sale, a placeholder number) are nobody we
    know: they keep no unified id rather than each becoming a fake one-record customer."""
    names = nodes.select("node", "source", "record_id")
    known = current.filter(pl.col("method") != "anonymous").select("node", "cluster", "observed_at")
    assignment = assign_ids(known, names, previous, run_id, resolved_at)
    first_run = (  # a label: the 22 M earlier rows of a rebuild at 2 M people name a few runs
        previous.select("node", pl.col("first_linked_run").cast(LABEL))
        if previous is not None and not previous.is_empty()
        else pl.DataFrame(schema={"node": pl.Int64, "first_linked_run": LABEL})
    )
    resolved = (
        current.lazy()
        .join(assignment.ids.lazy(), on="cluster", how="left")
        .join(first_run.lazy(), on="node", how="left")
        .join(names.lazy(), on="node")
        .with_columns(
            first_linked_run=pl.when(pl.col("method") != "anonymous").then(
                pl.coalesce("first_linked_run", pl.lit(run_id, dtype=LABEL))
            ),
            resolved_at=pl.lit(resolved_at, dtype=pl.Datetime("us")),
        )
        .select(list(RESOLVED_SCHEMA))  # the working columns go
        .cast(RESOLVED_SCHEMA)
        .collect()
    )
    return resolved, assignment.history
