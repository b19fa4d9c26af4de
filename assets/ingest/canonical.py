"""Canonical views over the per-feed raw tables, generated from the feed config.

Staging (dbt) reads only these views, so adding a feed to ``config/feeds.yaml`` reaches every
downstream model without touching SQL:

- ``raw.orders`` / ``raw.events`` / ``raw.consents``: every feed of that kind, renamed to the
  canonical fields;
- ``raw.identity_records``: one row per record of identity-bearing feeds (the unit identity maps);
- ``raw.identity_attributes``: one row per (record, identity attribute) with the raw value;
- ``raw.identity_deliveries``: one row per delivered row of a feed with identity attributes, its
  record id or actor key and when it was loaded: what an incremental build of the attributes asks
  (an actor's attribute rows are aggregated over its sightings, so they cannot say when it was last
  seen, and a filter on load time reaches the raw tables only through rows that are not).

Rows of feeds that are not identity-bearing (browse, ads, devices…) are attached to people through
an *actor key*: a hash of the row's identity values. Identity resolves each distinct actor once,
so ten million events cost as much as the few hundred thousand distinct identifier sets behind them."""

from __future__ import annotations

import duckdb

from assets.common.sql import DUCKDB_TYPES, ident, literal, table
from assets.ingest.feeds import CANONICAL_FIELDS, CanonicalField, FeedConfig, FeedsConfig

VIEWS = ("orders", "events", "consents", "identity_records", "identity_attributes", "identity_deliveries")


def _namespace(attr_namespace: str | None, namespace_column: str | None) -> str:
    if namespace_column:
        return f"lower(CAST({ident(namespace_column)} AS VARCHAR))"
    return literal(attr_namespace) if attr_namespace else "CAST(NULL AS VARCHAR)"


def identity_key(feed: FeedConfig) -> str:
    """The key that ties a row to the identity graph: its record id, or its actor key."""
    if feed.identity_bearing:
        return f"CAST({ident(feed.record_id)} AS VARCHAR)"
    if not feed.identity:
        return "CAST(NULL AS VARCHAR)"
    parts = []
    for attr in feed.identity:
        parts.append(f"coalesce({_namespace(attr.namespace, attr.namespace_column)}, '')")
        parts.append(f"coalesce(CAST({ident(attr.column)} AS VARCHAR), '')")
    present = " OR ".join(f"{ident(a.column)} IS NOT NULL" for a in feed.identity)
    return f"CASE WHEN {present} THEN md5(concat_ws('|', {', '.join(parts)})) END"


def _canonical_value(spec: CanonicalField | None, field_type: str) -> str:
    sql_type = DUCKDB_TYPES[field_type]
    if spec is None:
        return f"CAST(NULL AS {sql_type})"
    if spec.const is not None:
        return f"CAST({literal(spec.const)} AS {sql_type})"
    assert spec.column is not None, f"{spec.name}: the feed loader gives a field a column or a const"
    value = ident(spec.column)
    if spec.value_map:
        cases = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in spec.value_map)
        value = f"CASE CAST({value} AS VARCHAR) {cases} ELSE CAST({value} AS VARCHAR) END"
    return f"TRY_CAST({value} AS {sql_type})"


def _fact_select(feed: FeedConfig) -> str:
    by_name = {c.name: c for c in feed.canonical}
    fields = [
        f"{_canonical_value(by_name.get(name), t)} AS {ident(name)}"
        for name, t in CANONICAL_FIELDS[feed.kind].items()
    ]
    channel = literal(feed.channel) if feed.channel else "CAST(NULL AS VARCHAR)"
    return f"""SELECT {literal(feed.name)} AS source, {channel} AS channel,
        CAST({ident(feed.record_id)} AS VARCHAR) AS record_id,
        CAST({ident(feed.timestamp)} AS TIMESTAMP) AS occurred_at,
        {", ".join(fields)}, {identity_key(feed)} AS identity_key, _file_id, _partition, _loaded_at
        FROM {table("raw", feed.name)}"""


def _attribute_selects(feed: FeedConfig) -> list[str]:
    record_type = "record" if feed.identity_bearing else "actor"
    selects = []
    for attr in feed.identity:
        body = f"""SELECT {literal(feed.name)} AS source, {identity_key(feed)} AS record_id,
            {literal(record_type)} AS record_type, {literal(attr.kind)} AS attribute_kind,
            {_namespace(attr.namespace, attr.namespace_column)} AS namespace,
            CAST({ident(attr.column)} AS VARCHAR) AS raw_value,
            {{observed}} AS observed_at, {{loaded}} AS _loaded_at
            FROM {table("raw", feed.name)} WHERE {ident(attr.column)} IS NOT NULL"""
        if feed.identity_bearing:
            selects.append(
                body.format(observed=f"CAST({ident(feed.timestamp)} AS TIMESTAMP)", loaded="_loaded_at")
            )
        else:
            selects.append(
                body.format(
                    observed=f"min(CAST({ident(feed.timestamp)} AS TIMESTAMP))", loaded="min(_loaded_at)"
                )
                + " GROUP BY ALL"
            )
    return selects


MAX_STAY_SECONDS = 24 * 3600  # a stay longer than a day is a clock error, not a visit


def _presence_select(feed: FeedConfig) -> list[str]:
    """The feed's presence as attribute rows: per row, its place and each time slot its stay covers
    (``place@YYYY-MM-DD HH:MM``), for the record or the event actor the row belongs to."""
    spec = feed.presence
    if spec is None:
        return []
    seconds = spec.bucket_minutes * 60
    at = f"epoch(CAST({ident(spec.at or feed.timestamp)} AS TIMESTAMP))::BIGINT"
    stay = (
        f"least(greatest(coalesce(TRY_CAST({ident(spec.stay)} AS BIGINT), 0), 0), {MAX_STAY_SECONDS})"
        if spec.stay
        else "0"
    )
    record_type = "record" if feed.identity_bearing else "actor"
    slots = f"""SELECT {identity_key(feed)} AS record_id, CAST({ident(spec.place)} AS VARCHAR) AS place,
            CAST({ident(feed.timestamp)} AS TIMESTAMP) AS observed_at, _loaded_at,
            unnest(generate_series({at} // {seconds}, ({at} + {stay}) // {seconds})) AS slot
            FROM {table("raw", feed.name)}
            WHERE {ident(spec.place)} IS NOT NULL AND {ident(spec.at or feed.timestamp)} IS NOT NULL"""
    value = f"place || '@' || strftime(make_timestamp(slot * {seconds * 1_000_000}), '%Y-%m-%d %H:%M')"
    body = f"""SELECT {literal(feed.name)} AS source, record_id, {literal(record_type)} AS record_type,
        {literal(spec.kind)} AS attribute_kind, CAST(NULL AS VARCHAR) AS namespace, {value} AS raw_value,
        {{observed}} AS observed_at, {{loaded}} AS _loaded_at
        FROM ({slots}) WHERE record_id IS NOT NULL"""
    if feed.identity_bearing:
        return [body.format(observed="observed_at", loaded="_loaded_at")]
    return [body.format(observed="min(observed_at)", loaded="min(_loaded_at)") + " GROUP BY ALL"]


def _deliveries(config: FeedsConfig) -> str:
    selects = [
        f"SELECT {literal(f.name)} AS source, {identity_key(f)} AS record_id, _loaded_at "
        f"FROM {table('raw', f.name)}"
        for f in config.feeds.values()
        if f.identity or f.presence
    ]
    empty = (
        "SELECT CAST(NULL AS VARCHAR) AS source, CAST(NULL AS VARCHAR) AS record_id, "
        "CAST(NULL AS TIMESTAMP) AS _loaded_at WHERE false"
    )
    return _union(selects, empty)


def _union(selects: list[str], empty: str) -> str:
    return "\nUNION ALL BY NAME\n".join(f"({s})" for s in selects) if selects else empty


def view_sql(config: FeedsConfig) -> dict[str, str]:
    """The CREATE VIEW statement of each canonical view."""
    empty_facts = {
        kind: "SELECT "
        + ", ".join(
            [
                f"CAST(NULL AS VARCHAR) AS {c}"
                for c in ("source", "channel", "record_id", "identity_key", "_file_id")
            ]
            + [
                "CAST(NULL AS TIMESTAMP) AS occurred_at",
                "CAST(NULL AS DATE) AS _partition",
                "CAST(NULL AS TIMESTAMP) AS _loaded_at",
            ]
            + [f"CAST(NULL AS {DUCKDB_TYPES[t]}) AS {ident(n)}" for n, t in fields.items()]
        )
        + " WHERE false"
        for kind, fields in CANONICAL_FIELDS.items()
        if kind in ("orders", "events", "consents")
    }
    bearing = [f for f in config.feeds.values() if f.identity_bearing]
    records = [
        f"""SELECT {literal(f.name)} AS source, CAST({ident(f.record_id)} AS VARCHAR) AS record_id,
                   CAST({ident(f.timestamp)} AS TIMESTAMP) AS observed_at, _loaded_at
                   FROM {table("raw", f.name)}"""
        for f in bearing
    ]
    attributes = [s for f in config.feeds.values() for s in (*_attribute_selects(f), *_presence_select(f))]
    return {
        "orders": _union([_fact_select(f) for f in config.of_kind("orders")], empty_facts["orders"]),
        "events": _union([_fact_select(f) for f in config.of_kind("events")], empty_facts["events"]),
        "consents": _union([_fact_select(f) for f in config.of_kind("consents")], empty_facts["consents"]),
        "identity_records": _union(
            records,
            "SELECT CAST(NULL AS VARCHAR) AS source, CAST(NULL AS VARCHAR) AS "
            "record_id, CAST(NULL AS TIMESTAMP) AS observed_at, "
            "CAST(NULL AS TIMESTAMP) AS _loaded_at WHERE false",
        ),
        "identity_attributes": _union(
            attributes,
            "SELECT "
            + ", ".join(
                f"CAST(NULL AS VARCHAR) AS {c}"
                for c in ("source", "record_id", "record_type", "attribute_kind", "namespace", "raw_value")
            )
            + ", CAST(NULL AS TIMESTAMP) AS observed_at, CAST(NULL AS TIMESTAMP) AS _loaded_at WHERE false",
        ),
        "identity_deliveries": _deliveries(config),
    }


def create_views(con: duckdb.DuckDBPyConnection, config: FeedsConfig) -> None:
    for name, sql in view_sql(config).items():
        con.execute(f"CREATE OR REPLACE VIEW {table('raw', name)} AS {sql}")
