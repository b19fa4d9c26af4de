"""The identity graph kept in the Spark warehouse: what a full run on Spark reads and writes.

It mirrors :class:`~assets.identity.graph_store.DuckDBGraphStore`'s full run table for table, so the
dbt project's ``identity`` sources read the same names and columns on either engine: staging's
records and actors numbered in the same order, last run's ids carried by record keys, and the
published tables (``resolved_records``, ``links``, ``history`` appended, ``guarded_values``,
``match_candidates``, ``threshold_curve``) beside the graph's own (``nodes``, ``node_keys``,
``state``). The graph-sized tables are written from Spark; the small ones from the driver.

Every run on Spark resolves in full: the incremental run's lookups around the changed nodes
(``GraphLookups``) are DuckDB's so far, so :func:`resolve_spark_store` says so as the reason."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import polars as pl

from assets.common.spark import replace_table, to_polars
from assets.identity.evaluation import CURVE_SCHEMA
from assets.identity.results import CANDIDATES_SCHEMA
from assets.identity.run import fingerprint, run_record
from assets.identity.scoring import FellegiSunter
from assets.identity.settings import IdentityConfig
from assets.identity.spark_outputs import SparkResolution, resolve_on_spark
from assets.identity.store import RunRecord, State, Tables

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

CURRENT_NODES_SQL = """
SELECT CAST(row_number() OVER (ORDER BY source, record_type, record_id) - 1 AS BIGINT) AS node,
       source, record_id, record_type, observed_at
FROM (
    SELECT source, record_id, 'record' AS record_type, CAST(observed_at AS TIMESTAMP_NTZ) AS observed_at
    FROM {staged_records}
    UNION ALL
    SELECT source, record_id, record_type, CAST(min(observed_at) AS TIMESTAMP_NTZ)
    FROM {staged_attributes} WHERE record_type = 'actor' AND is_valid
    GROUP BY source, record_id, record_type
)
"""
"""Every record and event actor staging holds, numbered in the DuckDB store's order (one ordered
window: the numbers are consecutive, as the engine's labels and tie-breaks expect)."""
STATE_DDL = (
    "run_id string, mode string, reason string, resolved_at timestamp_ntz, last_full_at timestamp_ntz, "
    "fingerprint string, model string, nodes long, changed_nodes long, rewritten_nodes long, "
    "seconds double, watermark timestamp_ntz, users long"
)
SPARK_FULL_RUN = "the Spark engine resolves in full each run (incremental runs are the DuckDB engine's)"


class SparkGraphStore:
    """The identity tables of a Spark session's catalog (Parquet tables in its warehouse folder)."""

    version = "spark-1"

    def __init__(self, spark: SparkSession, tables: Tables = Tables()) -> None:
        self.spark, self.tables = spark, tables
        self.names = tables.qualified()
        self._nodes: DataFrame | None = None

    def sql(self, template: str) -> str:
        return template.format(**self.names)

    def _exists(self, name: str) -> bool:
        return bool(self.spark.catalog.tableExists(self.names[name]))

    def watermark(self) -> datetime | None:
        row = self.spark.sql(
            self.sql(
                "SELECT max(loaded_at) FROM (SELECT max(loaded_at) AS loaded_at FROM {staged_records} "
                "UNION ALL SELECT max(loaded_at) FROM {staged_attributes} WHERE is_valid)"
            )
        ).first()
        return row[0] if row else None

    def last_state(self) -> State | None:
        if not self._exists("state"):
            return None
        row = self.spark.sql(
            self.sql(
                "SELECT mode, resolved_at, last_full_at, fingerprint, model, nodes, watermark, users "
                "FROM {state} ORDER BY resolved_at DESC LIMIT 1"
            )
        ).first()
        return State(*row) if row else None

    def load_all(self) -> tuple[DataFrame, DataFrame]:
        """(nodes, attributes) as :func:`~assets.identity.spark_outputs.resolve_on_spark` takes them."""
        self._nodes = self.spark.sql(self.sql(CURRENT_NODES_SQL)).localCheckpoint()
        self._nodes.createOrReplaceTempView("identity_nodes")
        attributes = self.spark.sql(
            self.sql(
                "SELECT n.node, a.attribute_kind, a.namespace, a.value FROM {staged_attributes} AS a "
                "JOIN identity_nodes AS n USING (source, record_id, record_type) WHERE a.is_valid"
            )
        )
        return self._nodes, attributes

    def previous_ids(self) -> DataFrame | None:
        """(node, unified_id, id_created_at, first_linked_run) of last run's people, by record keys."""
        if not self._exists("resolved"):
            return None
        return self.spark.sql(
            self.sql(
                "SELECT n.node, r.unified_id, r.id_created_at, r.first_linked_run FROM {resolved} AS r "
                "JOIN identity_nodes AS n USING (source, record_id, record_type) "
                "WHERE r.unified_id IS NOT NULL"
            )
        ).localCheckpoint()  # read before the run replaces the table

    def write_full(self, resolution: SparkResolution) -> None:
        """Replace the graph and the published tables, and append the run's history."""
        assert self._nodes is not None, "load_all comes first: it numbers the nodes written here"
        self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {self.tables.schema}")
        for name, frame in (("resolved", resolution.resolved), ("links", resolution.links)):
            frame.write.mode("overwrite").format("parquet").saveAsTable(self.names[name])
        self._nodes.select("node", "source", "record_id", "record_type").write.mode("overwrite").format(
            "parquet"
        ).saveAsTable(self.names["nodes"])
        keys = resolution.keys.join(self._nodes.select("node", "source", "record_id", "record_type"), "node")
        keys.select(
            "node", "source", "record_id", "record_type", "attribute_kind", "namespace", "kind_ns", "key"
        ).write.mode("overwrite").format("parquet").saveAsTable(self.names["node_keys"])
        replace_table(self.spark, self.names["guarded"], resolution.guarded)
        replace_table(self.spark, self.names["candidates"], resolution.candidates.cast(CANDIDATES_SCHEMA))
        history = self.spark.createDataFrame(resolution.history.to_arrow())
        history.write.mode("append").format("parquet").saveAsTable(self.names["history"])
        if not self._exists("curve"):
            self.write_threshold_curve(pl.DataFrame(schema=CURVE_SCHEMA))

    def candidates(self) -> pl.DataFrame:
        return to_polars(self.spark.table(self.names["candidates"]))

    def write_threshold_curve(self, curve: pl.DataFrame) -> None:
        replace_table(self.spark, self.names["curve"], curve.cast(CURVE_SCHEMA))

    def row_counts(self) -> dict[str, int]:
        return {name: self.spark.table(self.names[name]).count() for name in ("history", "links", "guarded")}

    def record_state(self, run: RunRecord) -> None:
        nodes = self.spark.table(self.names["nodes"]).count()
        row = (
            run.run_id,
            run.mode,
            run.reason,
            run.resolved_at,
            run.last_full_at,
            run.fingerprint,
            run.model,
            nodes,
            run.changed_nodes,
            run.rewritten_nodes,
            round(run.seconds, 2),
            run.watermark,
            run.users,
        )
        mode = "append" if self._exists("state") else "overwrite"
        self.spark.createDataFrame([row], STATE_DDL).write.mode(mode).format("parquet").saveAsTable(
            self.names["state"]
        )


@dataclass(frozen=True)
class SparkOutcome:
    mode: str  # always "full" on Spark, so far
    reason: str
    resolution: SparkResolution
    seconds: float


def resolve_spark_store(
    store: SparkGraphStore,
    config: IdentityConfig,
    *,
    salt: str,
    run_id: str,
    now: datetime,
    buckets: int = 16,
) -> SparkOutcome:
    """One identity run on Spark against its stored graph: every node resolved, last run's ids
    kept, the tables replaced and the run's state appended (``run.resolve_stored`` on Spark)."""
    began = time.perf_counter()
    state = store.last_state()
    previous_model = FellegiSunter.from_json(state.model) if state and state.model else None
    watermark = store.watermark()
    nodes, attributes = store.load_all()
    resolution = resolve_on_spark(
        store.spark,
        nodes,
        attributes,
        config,
        salt=salt,
        previous=store.previous_ids(),
        run_id=run_id,
        resolved_at=now,
        previous_model=previous_model,
        buckets=buckets,
    )
    store.write_full(resolution)
    seconds = time.perf_counter() - began
    record = run_record(
        run_id,
        "full",
        SPARK_FULL_RUN,
        now,
        now,
        fingerprint(config, salt, store.version),
        resolution,
        seconds,
        watermark,
    )
    store.record_state(record)
    return SparkOutcome("full", SPARK_FULL_RUN, resolution, seconds)
