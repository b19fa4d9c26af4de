"""The identity graph normalised and guarded on Spark: :func:`assets.identity.engine.prepare` for
graphs whose raw values one process cannot hold.

It is the same logic run elsewhere, not a second copy of it:
- each distinct (kind, value) is normalised once, on an executor, by the normaliser the DuckDB
  engine calls (``normalize.normaliser_for``), inside ``mapInPandas``; placeholders are matched on
  their normalised form and hashed kinds salted afterwards, as ``steps.normalise_attributes`` does;
- the pinned decisions are found on the driver by ``pins.pinned_nodes`` among the few rows the pins
  name, and their keys (``pins.pin_keys``) join the rest;
- the shared-identifier guard is the aggregation ``steps.shared_identifiers`` states: identifiers
  seen with more than ``max_partner_values`` distinct exclusive values of another kind.

The result holds Spark DataFrames with the polars frames' columns, so the next steps (components,
conflicts, matching) and the tests can hold them to the DuckDB engine's."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from assets.common.spark import to_polars
from assets.identity.normalize import hash_key, normaliser_for
from assets.identity.pins import PIN_CANNOT, PIN_MUST, PINNED_SCHEMA, pin_keys, pinned_nodes
from assets.identity.settings import IdentityConfig
from assets.identity.steps import Roles

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

NORMALISED_SCHEMA = "attribute_kind string, value string, key string, blocked boolean"
PINNED_DDL = "pin long, side string, node long"


@dataclass(frozen=True)
class SparkGraph:
    """A full run's graph on Spark, as :class:`assets.identity.engine.Graph` holds it in polars."""

    usable: DataFrame  # (node, attribute_kind, namespace, key, kind_ns): shared identifiers left out
    refused: DataFrame  # the same columns: the rows of shared identifiers
    blocked: DataFrame  # (attribute_kind, namespace, key): the configured placeholders met
    strong: DataFrame  # (node, priority, identifier): usable strong identifiers
    exclusive: DataFrame  # (node, kind_ns, key) of the exclusive kinds, shared identifiers left out
    shared: DataFrame  # (identifier)
    pinned: DataFrame  # (pin, side, node)


class _ValueNormaliser:
    """A value's key as ``steps.normalise_attributes`` makes it: normalised by its kind's
    normaliser, flagged when it is a configured placeholder, salted when its kind is hashed."""

    def __init__(self, config: IdentityConfig, salt: str) -> None:
        self.kinds, self.salt = config.attribute_kinds, salt
        self.blocked_values, self.readings = config.blocked_values, config.surname_readings
        self.normalisers: dict[str, Any] = {}
        self.stops: dict[str, set[str]] = {}

    def __call__(self, kind: str, value: str) -> tuple[str | None, bool]:
        if kind not in self.normalisers:
            normalise = normaliser_for(self.kinds[kind].normalise, self.readings)
            self.normalisers[kind] = normalise
            self.stops[kind] = {normalise(v) or v for v in self.blocked_values.get(kind, ())}
        key = self.normalisers[kind](value)
        if key is None or key in self.stops[kind]:
            return key, key is not None
        return (hash_key(key, self.salt) if self.kinds[kind].hashed else key), False


def _normalise_values(config: IdentityConfig, salt: str) -> Any:
    """The function ``mapInPandas`` runs on each partition of distinct (kind, value) rows."""

    def normalise(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        import pandas as pd

        key_of = _ValueNormaliser(config, salt)
        for batch in batches:
            keys = [key_of(k, v) for k, v in zip(batch["attribute_kind"], batch["value"], strict=True)]
            yield batch.assign(
                key=pd.Series([k for k, _ in keys], dtype=object, index=batch.index),
                blocked=pd.Series([b for _, b in keys], dtype=bool, index=batch.index),
            )

    return normalise


def normalised_keys(attributes: DataFrame, config: IdentityConfig, salt: str) -> tuple[DataFrame, DataFrame]:
    """(kept, blocked), as ``steps.normalise_attributes`` returns them, from (node, attribute_kind,
    namespace, value): each distinct value normalised once, however many rows repeat it."""
    from pyspark.sql import functions as F

    declared = attributes.where(
        F.col("value").isNotNull() & F.col("attribute_kind").isin(list(config.attribute_kinds))
    )
    normalised = (
        declared.select("attribute_kind", "value")
        .distinct()
        .mapInPandas(_normalise_values(config, salt), NORMALISED_SCHEMA)
        .where(F.col("key").isNotNull())
    )
    keyed = declared.join(normalised, ["attribute_kind", "value"]).withColumn(
        "namespace", F.coalesce("namespace", F.lit(""))
    )
    namespaced = [k.name for k in config.attribute_kinds.values() if k.namespaced]
    kind_ns = F.when(
        F.col("attribute_kind").isin(namespaced), F.concat_ws(":", "attribute_kind", "namespace")
    ).otherwise(F.col("attribute_kind"))
    kept = keyed.where(~F.col("blocked")).select(
        "node", "attribute_kind", "namespace", "key", kind_ns.alias("kind_ns")
    )
    blocked = keyed.where(F.col("blocked")).select("attribute_kind", "namespace", "key").distinct()
    return kept, blocked


def _pinned(nodes: DataFrame, keyed: DataFrame, config: IdentityConfig, salt: str) -> pl.DataFrame:
    """(pin, side, node), found by ``pins.pinned_nodes`` on the driver among the rows pins name."""
    from pyspark.sql import functions as F

    pins = config.pins.all
    sides = [side for pin in pins for side in (pin.a, pin.b)]
    records = sorted({f"{s.source}\x00{s.record_id}" for s in sides if s.source is not None})
    named_kinds = sorted({s.kind for s in sides if s.source is None and s.kind is not None})
    record_rows = nodes.where(F.concat_ws("\x00", "source", "record_id").isin(records))
    hashed = {k.name for k in config.attribute_kinds.values() if k.hashed}
    return pinned_nodes(
        pins,
        to_polars(record_rows.select("node", "source", "record_id", "record_type")),
        to_polars(keyed.where(F.col("attribute_kind").isin(named_kinds))),
        hashed,
        salt,
    )


def shared_on_spark(strong: DataFrame, exclusive: DataFrame, max_partner_values: int) -> DataFrame:
    """``steps.shared_identifiers(steps.partner_values(strong, exclusive), max_partner_values)``."""
    from pyspark.sql import functions as F

    partners = (
        strong.select("identifier", F.col("kind_ns").alias("own"), "node")
        .join(exclusive.select("node", F.col("kind_ns").alias("partner_kind"), "key"), "node")
        .where(F.col("own") != F.col("partner_kind"))
    )
    counted = partners.where(
        ~F.col("identifier").startswith(f"{PIN_MUST}:") & ~F.col("partner_kind").startswith(PIN_CANNOT)
    )
    return (
        counted.groupBy("identifier", "partner_kind")
        .agg(F.countDistinct("key").alias("n"))
        .where(F.col("n") > max_partner_values)
        .select("identifier")
        .distinct()
    )


def prepare_on_spark(
    spark: SparkSession, nodes: DataFrame, attributes: DataFrame, config: IdentityConfig, salt: str
) -> SparkGraph:
    """Normalise, add the pins' keys and apply the guards: ``engine.prepare`` on Spark.

    ``nodes``: (node, source, record_id, record_type, observed_at); ``attributes``: (node,
    attribute_kind, namespace, value) in raw form."""
    from pyspark.sql import functions as F

    kept, blocked = normalised_keys(attributes, config, salt)
    keyed = kept.localCheckpoint()  # read by the pins, the guards and both outputs
    pinned = _pinned(nodes, keyed, config, salt) if config.pins.all else pl.DataFrame(schema=PINNED_SCHEMA)
    pin_rows = pin_keys(config.pins.all, pinned)
    if pin_rows.height:
        keyed = keyed.unionByName(spark.createDataFrame(pin_rows.to_pandas(), schema=keyed.schema))
    roles = Roles.of(config)
    priority = F.create_map(*[F.lit(x) for kind, rank in roles.rank.items() for x in (kind, rank)])
    keyed = keyed.withColumn("identifier", F.concat_ws(":", "kind_ns", "key"))
    identifiers = keyed.where(F.col("attribute_kind").isin(list(roles.rank))).withColumn(
        "priority", priority[F.col("attribute_kind")].cast("long")
    )
    exclusive = keyed.where(F.col("attribute_kind").isin(roles.exclusive))
    refused_identifiers = to_polars(shared_on_spark(identifiers, exclusive, config.max_partner_values))
    # the guards refuse a few thousand values at most: they travel to every executor
    shared = F.broadcast(spark.createDataFrame(refused_identifiers.to_pandas(), schema="identifier string"))
    columns = ["node", "attribute_kind", "namespace", "key", "kind_ns"]
    return SparkGraph(
        usable=keyed.join(shared, "identifier", "left_anti").select(*columns),
        refused=keyed.join(shared, "identifier", "left_semi").select(*columns),
        blocked=blocked,
        strong=identifiers.join(shared, "identifier", "left_anti").select("node", "priority", "identifier"),
        exclusive=exclusive.join(shared, "identifier", "left_anti").select("node", "kind_ns", "key"),
        shared=shared,
        pinned=spark.createDataFrame(pinned.to_pandas(), schema=PINNED_DDL),
    )
