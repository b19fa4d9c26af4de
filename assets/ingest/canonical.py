"""Canonical views over the per-feed raw tables, generated from the feed config.

Staging (dbt) reads only these views, so adding a feed to ``config/feeds.yaml`` reaches every
downstream model without touching SQL:

- ``raw.orders`` / ``raw.events`` / ``raw.consents``: every feed of that kind, renamed to the
  canonical fields;
- ``raw.identity_records``: one row per record of identity-bearing feeds (the unit identity maps);
- ``raw.identity_attributes``: one row per (record, identity attribute) with the raw value;
- ``raw.identity_attribute_deliveries``: the same rows before an actor's are aggregated over its
  sightings: one per delivered row and attribute, with when it was loaded. An incremental build of
  the attributes folds the deliveries since its last build into the rows it holds; a filter on load
  time reaches the raw tables only through rows that are not aggregated.

Rows of feeds that are not identity-bearing (browse, ads, devices…) are attached to people through
an *actor key*: a hash of the row's identity values. Identity resolves each distinct actor once,
so ten million events cost as much as the few hundred thousand distinct identifier sets behind them."""

from __future__ import annotations

import duckdb

from assets.common.dialect import DUCKDB, Dialect
from assets.ingest.feeds import CANONICAL_FIELDS, CanonicalField, FeedConfig, FeedsConfig

VIEWS = (
    "orders",
    "events",
    "consents",
    "identity_records",
    "identity_attributes",
    "identity_attribute_deliveries",
)


def _namespace(attr_namespace: str | None, namespace_column: str | None, d: Dialect) -> str:
    if namespace_column:
        return f"lower({d.cast(d.ident(namespace_column), 'varchar')})"
    return d.literal(attr_namespace) if attr_namespace else d.cast("NULL", "varchar")


def identity_key(feed: FeedConfig, d: Dialect = DUCKDB) -> str:
    """The key that ties a row to the identity graph: its record id, or its actor key."""
    if feed.identity_bearing:
        return d.cast(d.ident(feed.record_id), "varchar")
    if not feed.identity:
        return d.cast("NULL", "varchar")
    parts = []
    for attr in feed.identity:
        parts.append(f"coalesce({_namespace(attr.namespace, attr.namespace_column, d)}, '')")
        parts.append(f"coalesce({d.cast(d.ident(attr.column), 'varchar')}, '')")
    present = " OR ".join(f"{d.ident(a.column)} IS NOT NULL" for a in feed.identity)
    return f"CASE WHEN {present} THEN md5(concat_ws('|', {', '.join(parts)})) END"


def _canonical_value(spec: CanonicalField | None, field_type: str, source: dict[str, str], d: Dialect) -> str:
    """A canonical field from its column (``source``: each raw column's config type) or constant."""
    if spec is None:
        return d.cast("NULL", field_type)
    if spec.const is not None:
        return d.cast(d.literal(spec.const), field_type)
    assert spec.column is not None, f"{spec.name}: the feed loader gives a field a column or a const"
    value, kind = d.ident(spec.column), source.get(spec.column)
    if spec.value_map:
        cases = " ".join(f"WHEN {d.literal(k)} THEN {d.literal(v)}" for k, v in spec.value_map)
        text = d.cast(value, "varchar")
        value, kind = f"CASE {text} {cases} ELSE {text} END", "varchar"
    return d.try_cast(value, field_type, kind)


def _fact_select(feed: FeedConfig, d: Dialect) -> str:
    by_name, source = {c.name: c for c in feed.canonical}, {c.name: c.type for c in feed.columns}
    fields = [
        f"{_canonical_value(by_name.get(name), t, source, d)} AS {d.ident(name)}"
        for name, t in CANONICAL_FIELDS[feed.kind].items()
    ]
    channel = d.literal(feed.channel) if feed.channel else d.cast("NULL", "varchar")
    return f"""SELECT {d.literal(feed.name)} AS source, {channel} AS channel,
        {d.cast(d.ident(feed.record_id), "varchar")} AS record_id,
        {d.cast(d.ident(feed.timestamp), "timestamp")} AS occurred_at,
        {", ".join(fields)}, {identity_key(feed, d)} AS identity_key, _file_id, _partition, _loaded_at
        FROM {d.table("raw", feed.name)}"""


def _attribute_selects(feed: FeedConfig, d: Dialect, per_delivery: bool = False) -> list[str]:
    """A select per identity attribute; an actor's rows aggregated over its sightings unless
    ``per_delivery``."""
    record_type = "record" if feed.identity_bearing else "actor"
    observed = d.cast(d.ident(feed.timestamp), "timestamp")
    selects = []
    for attr in feed.identity:
        body = f"""SELECT {d.literal(feed.name)} AS source, {identity_key(feed, d)} AS record_id,
            {d.literal(record_type)} AS record_type, {d.literal(attr.kind)} AS attribute_kind,
            {_namespace(attr.namespace, attr.namespace_column, d)} AS namespace,
            {d.cast(d.ident(attr.column), "varchar")} AS raw_value,
            {{observed}} AS observed_at, {{loaded}} AS _loaded_at
            FROM {d.table("raw", feed.name)} WHERE {d.ident(attr.column)} IS NOT NULL"""
        if feed.identity_bearing or per_delivery:
            selects.append(body.format(observed=observed, loaded="_loaded_at"))
        else:
            selects.append(
                body.format(observed=f"min({observed})", loaded="min(_loaded_at)") + " GROUP BY ALL"
            )
    return selects


MAX_STAY_SECONDS = 24 * 3600  # a stay longer than a day is a clock error, not a visit


def _presence_select(feed: FeedConfig, d: Dialect, per_delivery: bool = False) -> list[str]:
    """The feed's presence as attribute rows: per row, its place and each time slot its stay covers
    (``place@YYYY-MM-DD HH:MM``), for the record or the event actor the row belongs to."""
    spec = feed.presence
    if spec is None:
        return []
    seconds = spec.bucket_minutes * 60
    at = d.epoch_seconds(d.cast(d.ident(spec.at or feed.timestamp), "timestamp"))
    stay = (
        f"least(greatest(coalesce({d.try_cast(d.ident(spec.stay), 'integer')}, 0), 0), {MAX_STAY_SECONDS})"
        if spec.stay
        else "0"
    )
    record_type = "record" if feed.identity_bearing else "actor"
    each_slot = d.each_between(d.divide(at, seconds), d.divide(f"{at} + {stay}", seconds))
    slots = f"""SELECT {identity_key(feed, d)} AS record_id,
            {d.cast(d.ident(spec.place), "varchar")} AS place,
            {d.cast(d.ident(feed.timestamp), "timestamp")} AS observed_at, _loaded_at, {each_slot} AS slot
            FROM {d.table("raw", feed.name)}
            WHERE {d.ident(spec.place)} IS NOT NULL AND {d.ident(spec.at or feed.timestamp)} IS NOT NULL"""
    value = f"place || '@' || {d.minute_text('slot', seconds)}"
    body = f"""SELECT {d.literal(feed.name)} AS source, record_id, {d.literal(record_type)} AS record_type,
        {d.literal(spec.kind)} AS attribute_kind, {d.cast("NULL", "varchar")} AS namespace,
        {value} AS raw_value,
        {{observed}} AS observed_at, {{loaded}} AS _loaded_at
        FROM ({slots}) AS slots WHERE record_id IS NOT NULL"""
    if feed.identity_bearing or per_delivery:
        return [body.format(observed="observed_at", loaded="_loaded_at")]
    return [body.format(observed="min(observed_at)", loaded="min(_loaded_at)") + " GROUP BY ALL"]


def _nothing(columns: dict[str, str], d: Dialect) -> str:
    """An empty select of these (column: config type) — a view over no feed."""
    return (
        "SELECT "
        + ", ".join(f"{d.cast('NULL', t)} AS {d.ident(c)}" for c, t in columns.items())
        + " WHERE false"
    )


def _union(selects: list[str], empty: str, d: Dialect) -> str:
    return f"\n{d.union_all}\n".join(f"({s})" for s in selects) if selects else empty


FACT_LINEAGE = {
    "identity_key": "varchar",
    "_file_id": "varchar",
    "_partition": "date",
    "_loaded_at": "timestamp",
}
RECORD_COLUMNS = {
    "source": "varchar",
    "record_id": "varchar",
    "observed_at": "timestamp",
    "_loaded_at": "timestamp",
}
ATTRIBUTE_COLUMNS = {
    **{
        c: "varchar"
        for c in ("source", "record_id", "record_type", "attribute_kind", "namespace", "raw_value")
    },
    "observed_at": "timestamp",
    "_loaded_at": "timestamp",
}


def view_sql(config: FeedsConfig, d: Dialect = DUCKDB) -> dict[str, str]:
    """The SELECT of each canonical view, in the dialect ``d``."""
    facts = {
        kind: _union(
            [_fact_select(f, d) for f in config.of_kind(kind)],
            _nothing(
                {
                    "source": "varchar",
                    "channel": "varchar",
                    "record_id": "varchar",
                    "occurred_at": "timestamp",
                }
                | dict(CANONICAL_FIELDS[kind])
                | FACT_LINEAGE,
                d,
            ),
            d,
        )
        for kind in ("orders", "events", "consents")
    }
    records = [
        f"""SELECT {d.literal(f.name)} AS source, {d.cast(d.ident(f.record_id), "varchar")} AS record_id,
                   {d.cast(d.ident(f.timestamp), "timestamp")} AS observed_at, _loaded_at
                   FROM {d.table("raw", f.name)}"""
        for f in config.feeds.values()
        if f.identity_bearing
    ]
    attributes = [
        s for f in config.feeds.values() for s in (*_attribute_selects(f, d), *_presence_select(f, d))
    ]
    deliveries = [
        s
        for f in config.feeds.values()
        for s in (*_attribute_selects(f, d, per_delivery=True), *_presence_select(f, d, per_delivery=True))
    ]
    return facts | {
        "identity_records": _union(records, _nothing(RECORD_COLUMNS, d), d),
        "identity_attributes": _union(attributes, _nothing(ATTRIBUTE_COLUMNS, d), d),
        "identity_attribute_deliveries": _union(deliveries, _nothing(ATTRIBUTE_COLUMNS, d), d),
    }


def create_views(con: duckdb.DuckDBPyConnection, config: FeedsConfig) -> None:
    for name, sql in view_sql(config).items():
        con.execute(f"CREATE OR REPLACE VIEW {DUCKDB.table('raw', name)} AS {sql}")
