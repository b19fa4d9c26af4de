"""Identity assets: resolve staged records and event actors into stable unified ids."""

import dataclasses
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import dagster as dg
import polars as pl
from pydantic import Field

from assets.common.metadata import OWNERS, markdown_table
from assets.common.paths import hash_salt
from assets.common.pipeline_config import pipeline_config
from assets.common.spark import to_polars
from assets.common.warehouse import Warehouse
from assets.identity import DuckDBGraphStore, Outcome, Resolution, resolve_stored
from assets.identity.evaluation import health, read_truth, threshold_curve, truth_scores
from assets.identity.review import threshold_figures
from assets.identity.settings import identity_config
from assets.identity.spark_outputs import SparkResolution
from assets.identity.spark_store import SparkGraphStore, SparkOutcome, resolve_spark_store

STAGED = [["staging", "stg_identity_records"], ["staging", "stg_identity_attributes"]]
RESOLVED = dg.AssetKey(["identity", "resolved_records"])


class IdentityRunConfig(dg.Config):
    full_rebuild: bool = Field(
        default=False,
        description="Resolve every record again and refit the match model instead of linking only "
        "the records that changed (also `cdp run --full-identity`).",
    )


def _spec(key: dg.AssetKey | list[str], description: str) -> dg.AssetSpec:
    """One of the identity tables the run writes, all from the staged identity records."""
    return dg.AssetSpec(
        key,
        group_name="identity",
        deps=STAGED,
        kinds={"python", "duckdb"},
        owners=OWNERS,
        description=description,
    )


@dg.multi_asset(
    name="identity_resolution",
    specs=[
        _spec(
            RESOLVED,
            "Restricted. The stable unified id of every identity-bearing record and every "
            "identifiable event actor: deterministic stitching on strong identifiers with "
            "conflict splitting, then Fellegi-Sunter matching of what is left (weights fitted "
            "by EM on the deployment's own candidate pairs, their change since the last run "
            "in the metadata); "
            "rules, guards and matching in config/identity.yaml.",
        ),
        _spec(
            ["identity", "links"],
            "The links that built each cluster: the stitching rule, or the match score and "
            "per-attribute evidence (log2 Bayes factors).",
        ),
        _spec(
            ["identity", "history"],
            "Every merge and split of unified ids, run by run, with the records involved.",
        ),
        _spec(
            ["identity", "match_candidates"],
            "Restricted. The last full run's scored candidate pairs near the match threshold "
            "(accepted, refused or rejected) with their evidence: the review queue and the "
            "threshold figures are built from it.",
        ),
        _spec(
            ["identity", "threshold_curve"],
            "Precision, recall and F1 of the match decisions over the threshold, against "
            "landing/_truth when the deployment has one (empty otherwise).",
        ),
        _spec(
            ["identity", "guarded_values"],
            "Restricted. Identifier values never used as merge keys: configured placeholders "
            "and values shared by several people (front-desk numbers, shared tablets).",
        ),
    ],
)
def identity_resolution(context: dg.AssetExecutionContext, warehouse: Warehouse, config: IdentityRunConfig):
    if warehouse.on_spark:
        yield from _resolve_on_spark(context, warehouse)
        return
    settings = identity_config()
    paths = warehouse.paths
    with warehouse.connect(memory_limit=pipeline_config().identity_memory_limit) as con:
        store = DuckDBGraphStore(con)
        outcome = resolve_stored(
            store,
            settings,
            salt=hash_salt(paths),
            run_id=context.run_id,
            now=datetime.now(),
            full_rebuild=config.full_rebuild,
        )
        resolved = outcome.resolution.resolved if outcome.mode == "full" else store.resolved_records()
    # written: what the metadata below needs is the resolved rows and the run's links, history and
    # guards — let the graph's keys and candidates go before reading the truth beside them
    outcome = dataclasses.replace(outcome, resolution=_written(outcome.resolution))
    context.log.info(
        f"identity ({outcome.mode}{': ' + outcome.reason if outcome.reason else ''}): "
        f"{outcome.resolution.stats}"
    )
    truth = read_truth(paths.landing)
    yield dg.MaterializeResult(asset_key=RESOLVED, metadata=_resolved_metadata(outcome, resolved, truth))
    with warehouse.connect(memory_limit=pipeline_config().identity_memory_limit) as con:
        store = DuckDBGraphStore(con)
        candidates = store.candidates()
        curve = threshold_curve(candidates, truth, settings.review.thresholds)
        store.write_threshold_curve(curve)
        counts = store.row_counts()
    yield from _table_results(
        outcome.resolution, _links_by_rule(outcome.resolution.links), candidates, curve, counts
    )


def _links_by_rule(links: pl.DataFrame) -> dict[str, int]:
    return dict(links.group_by("rule").len().sort("rule").iter_rows())


def _resolve_on_spark(
    context: dg.AssetExecutionContext, warehouse: Warehouse
) -> Iterator[dg.MaterializeResult]:
    """The run on the Spark engine (assets/identity/spark_store.py): every record resolved on
    Spark, the ids of the last run kept; the same figures as a DuckDB run, the graph-sized ones
    counted on Spark."""
    settings, paths, spark = identity_config(), warehouse.paths, warehouse.spark()
    store = SparkGraphStore(spark)
    outcome = resolve_spark_store(
        store, settings, salt=hash_salt(paths), run_id=context.run_id, now=datetime.now()
    )
    context.log.info(f"identity (full on Spark: {outcome.reason}): {outcome.resolution.stats}")
    truth = read_truth(paths.landing)
    # the tables the run wrote: the resolution's frames are plans that would be computed again
    resolved = to_polars(spark.table(store.names["resolved"]))
    yield dg.MaterializeResult(asset_key=RESOLVED, metadata=_resolved_metadata(outcome, resolved, truth))
    candidates = store.candidates()
    curve = threshold_curve(candidates, truth, settings.review.thresholds)
    store.write_threshold_curve(curve)
    rules = spark.table(store.names["links"]).groupBy("rule").count().orderBy("rule").collect()
    warehouse.mount_spark_tables()
    yield from _table_results(
        outcome.resolution, {r["rule"]: r["count"] for r in rules}, candidates, curve, store.row_counts()
    )


def _written(result: Resolution) -> Resolution:
    empty = pl.DataFrame()
    return dataclasses.replace(result, resolved=empty, keys=empty, candidates=empty)


def _resolved_metadata(
    outcome: Outcome | SparkOutcome, resolved: pl.DataFrame, truth: pl.DataFrame | None
) -> dict[str, Any]:
    """The run's figures: how it ran, the engine's counts, health (and scores against the truth)."""
    result = outcome.resolution
    quality = health(resolved, identity_config().max_cluster_records)
    if truth is not None:
        quality |= {
            f"truth_{k}": v
            for k, v in truth_scores(resolved.filter(pl.col("unified_id").is_not_null()), truth).items()
        }
    return {
        "mode": outcome.mode,
        "full_rebuild_reason": outcome.reason or "",
        "seconds_resolving": round(outcome.seconds, 2),
        **result.stats,
        "records": resolved.filter(pl.col("record_type") == "record").height,
        **quality,
        "dagster/row_count": resolved.height,
        "match_weights": dg.MetadataValue.json(result.match_weights),
        "match_weight_changes": dg.MetadataValue.json(result.match_weight_changes),
        "cluster_sizes": cluster_size_chart(
            resolved.filter(pl.col("record_type") == "record").drop_nulls("unified_id")
        ),
    }


def _counts_by(frame: pl.DataFrame, column: str) -> dg.MetadataValue:
    return dg.MetadataValue.json(dict(frame.group_by(column).len().sort(column).iter_rows()))


def _table_results(
    result: Resolution | SparkResolution,
    links_by_rule: dict[str, int],
    candidates: pl.DataFrame,
    curve: pl.DataFrame,
    counts: dict[str, int],
) -> Iterator[dg.MaterializeResult]:
    """The materialisations of the identity tables beside ``resolved_records``."""
    yield dg.MaterializeResult(
        asset_key=["identity", "links"],
        metadata={
            "dagster/row_count": counts["links"],
            "added_this_run": sum(links_by_rule.values()),
            "by_rule_this_run": dg.MetadataValue.json(links_by_rule),
        },
    )
    yield dg.MaterializeResult(
        asset_key=["identity", "history"],
        metadata={
            "dagster/row_count": counts["history"],
            "events_this_run": result.history.height,
            "by_event": _counts_by(result.history, "event"),
        },
    )
    yield dg.MaterializeResult(
        asset_key=["identity", "match_candidates"],
        metadata={
            "dagster/row_count": candidates.height,
            **threshold_figures(candidates),
            "by_decision": _counts_by(candidates, "decision"),
        },
    )
    yield dg.MaterializeResult(
        asset_key=["identity", "threshold_curve"],
        metadata={
            "dagster/row_count": curve.height,
            "curve": markdown_table(curve.to_dicts()) if curve.height else "no ground truth (landing/_truth)",
        },
    )
    yield dg.MaterializeResult(
        asset_key=["identity", "guarded_values"],
        metadata={
            "dagster/row_count": counts["guarded"],
            "by_guard_this_run": _counts_by(result.guarded, "guard"),
        },
    )


CLUSTER_BUCKETS = ((1, 1, "1"), (2, 2, "2"), (3, 3, "3"), (4, 5, "4-5"), (6, 10, "6-10"), (11, None, "11+"))


def cluster_size_chart(records: pl.DataFrame, width: int = 40) -> dg.MetadataValue:
    """Unified ids by number of records, as a Markdown bar chart: a long tail of huge clusters is
    the first sign of over-merging, a spike at 1 of under-merging."""
    sizes = records.group_by("unified_id").len()["len"]
    rows = []
    for low, high, label in CLUSTER_BUCKETS:
        n = int(((sizes >= low) & (sizes <= (high or sizes.max() or low))).sum()) if sizes.len() else 0
        rows.append((label, n))
    top = max((n for _, n in rows), default=0) or 1
    return markdown_table(
        [{"records per id": label, "ids": n, "": "█" * round(width * n / top)} for label, n in rows]
    )


@dg.asset_check(
    asset=RESOLVED,
    name="identity_quality",
    blocking=False,
    description="Match quality every run: pairwise and B-cubed precision / recall / F1 against "
    "landing/_truth when present; always the label-free health figures (giant clusters, "
    "singleton share).",
)
def identity_quality(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    event = context.instance.get_latest_materialization_event(RESOLVED)
    metadata = {k: v.value for k, v in event.asset_materialization.metadata.items()} if event else {}
    giant = int(metadata.get("giant_clusters", 0))
    f1 = metadata.get("truth_pairwise_f1")
    passed = giant == 0 and (f1 is None or f1 >= identity_config().quality_floor_f1)
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            k: v
            for k, v in metadata.items()
            if k.startswith("truth_")
            or k
            in (
                "clusters",
                "singleton_share",
                "records_per_user",
                "largest_cluster",
                "giant_clusters",
                "probabilistic_share",
                "anonymous_records",
                "shared_identifiers",
                "blocked_values",
                "conflicted_components",
            )
        },
    )


def identity_defs() -> dg.Definitions:
    return dg.Definitions(assets=[identity_resolution], asset_checks=[identity_quality])
