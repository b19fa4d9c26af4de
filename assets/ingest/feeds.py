"""The deployment's feeds (``feeds.yaml``): what each partner delivers, how its files are read,
which columns map to canonical fields and which carry identifiers.

Mistakes are reported as :class:`ConfigError` naming the file, line and key, so a data engineer
can fix the YAML without reading Python."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from assets.common.configuration import ConfigError, choice, read_yaml
from assets.common.paths import CONFIG_DIR
from assets.identity.settings import IdentityConfig, load_identity_config
from assets.ingest.feed_spec import (
    RECORD_ID_COLUMN,
    TIMESTAMP_COLUMN,
    ColumnSpec,
    FileSpec,
    Known,
    parse_column,
    parse_file_spec,
    parse_record_id,
    parse_timestamp,
)
from assets.ingest.reference_tables import ReferenceTable, with_built_in

FEED_KINDS = {"orders", "events", "people", "consents"}
"""What a feed's rows are: sales, behaviour, people (member masters, CRM exports, registrations:
identity-bearing records that are not behaviour) or consent decisions (privacy-centre toggles, SMS
"TD" replies, store forms: tied to people through their identifiers, like behaviour). Each kind
lists its canonical fields below."""
CHANNELS = {"online", "offline"}
EXTRA_COLUMN_POLICIES = {"keep", "drop"}

# Canonical fields each kind of feed can map to; staging reads exactly these (plus source metadata).
CANONICAL_FIELDS: dict[str, dict[str, str]] = {
    "orders": {
        "platform": "varchar", "store_id": "varchar", "product_id": "varchar", "category": "varchar",
        "quantity": "integer", "amount": "double", "coupon_amount": "double", "refund_amount": "double",
        "status": "varchar", "campaign_id": "varchar", "payment_method": "varchar",
    },
    "events": {
        "event_type": "varchar", "platform": "varchar", "store_id": "varchar", "product_id": "varchar",
        "category": "varchar", "campaign_id": "varchar", "ad_channel": "varchar", "creative_id": "varchar",
        "content_id": "varchar", "kol_id": "varchar", "expo_id": "varchar", "interests": "varchar",
        "session_id": "varchar", "dwell_seconds": "double", "cost": "double",
        "experiment_id": "varchar", "experiment_arm": "varchar", "latitude": "double", "longitude": "double",
        "coupon_id": "varchar", "expires_at": "timestamp",
    },
    "people": {},
    "consents": {"purpose": "varchar", "decision": "varchar", "captured_via": "varchar", "store_id": "varchar"},
}
CHANNEL_KINDS = {"orders", "events"}
"""Kinds whose rows happen online or offline (KPIs split by channel); the others need no channel."""


@dataclass(frozen=True)
class CanonicalField:
    """A canonical field fed by a source column, a constant, or a source column through a value map."""

    name: str
    column: str | None = None
    const: str | None = None
    value_map: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class IdentityAttribute:
    column: str
    kind: str
    namespace: str | None = None
    namespace_column: str | None = None


@dataclass(frozen=True)
class FeedConfig:
    """One partner feed. ``record_id`` and ``timestamp`` always name a raw column: a declared one, or
    RECORD_ID_COLUMN / TIMESTAMP_COLUMN, which the loader fills as ``record_id_from`` and
    ``timestamp_from`` say (None: the column is the partner's own)."""

    name: str
    description: str
    kind: str
    channel: str | None  # online | offline; None for people and consents feeds
    identity_bearing: bool
    path: str
    files: tuple[FileSpec, ...]
    record_id: str
    timestamp: str
    columns: tuple[ColumnSpec, ...]
    canonical: tuple[CanonicalField, ...]
    identity: tuple[IdentityAttribute, ...]
    extra_columns: str = "keep"  # keep: undeclared columns' values go to raw._extra_columns; drop: only reported
    retention_days: int | None = None  # raw rows older than this (by delivery day) are deleted
    record_id_from: tuple[str, ...] | None = None  # columns hashed into the id; () = the whole row
    timestamp_from: str | None = None  # partition | load_time
    timezone: str | None = None  # the partner's clock, when it is not the deployment's

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def source_columns(self) -> tuple[ColumnSpec, ...]:
        """The columns read from the partner's files (not the ones the loader derives)."""
        return tuple(c for c in self.columns if c.name not in (RECORD_ID_COLUMN, TIMESTAMP_COLUMN))

    def file_spec(self, file_name: str) -> FileSpec | None:
        return next((spec for spec in self.files if spec.matches(file_name)), None)


@dataclass(frozen=True)
class FeedsConfig:
    feeds: dict[str, FeedConfig]
    reference: dict[str, ReferenceTable] = field(default_factory=dict)

    def of_kind(self, kind: str) -> list[FeedConfig]:
        return [f for f in self.feeds.values() if f.kind == kind]


def _feed(path: Path, name: str, raw: dict[str, Any], kinds: set[str]) -> FeedConfig:
    where = f"feeds.{name}"
    if not isinstance(raw, dict):
        raise ConfigError(path, where, "expected a mapping")
    for key in ("kind", "files", "columns"):
        if key not in raw:
            raise ConfigError(path, where, f"missing required key '{key}'")
    kind = choice(path, f"{where}.kind", raw["kind"], FEED_KINDS)
    if kind in CHANNEL_KINDS and "channel" not in raw:
        raise ConfigError(path, where, "missing required key 'channel'")
    if not isinstance(raw["columns"], dict) or not raw["columns"]:
        raise ConfigError(path, f"{where}.columns", "declare the feed's columns: {name: type}")
    columns = tuple(parse_column(path, f"{where}.columns.{c}", str(c), s) for c, s in raw["columns"].items())
    names = {c.name for c in columns}

    def known(column: str, key: str) -> str:
        if column not in names:
            raise ConfigError(path, f"{where}.{key}", f"column '{column}' is not declared in {where}.columns")
        return column

    if not isinstance(raw["files"], list) or not raw["files"]:
        raise ConfigError(path, f"{where}.files", "declare at least one {pattern, format} entry")
    files = tuple(parse_file_spec(path, f"{where}.files[{i}]", spec, columns) for i, spec in enumerate(raw["files"]))
    record_id, record_id_from = parse_record_id(path, where, raw.get("record_id"), known)
    timestamp, timestamp_from = parse_timestamp(path, where, raw.get("timestamp"), known)
    derived = ((ColumnSpec(RECORD_ID_COLUMN, "varchar", required=True),) if record_id_from is not None else ()) + (
        (ColumnSpec(TIMESTAMP_COLUMN, "timestamp", required=True),) if timestamp_from else ())
    if kind == "people" and raw.get("identity_bearing", True) is not True:
        raise ConfigError(path, f"{where}.identity_bearing", "a people feed's rows are person records: true")
    retention = raw.get("retention_days")
    if retention is not None and (isinstance(retention, bool) or not isinstance(retention, int) or retention < 1):
        raise ConfigError(path, f"{where}.retention_days", f"must be a whole number of days >= 1, got {retention!r}")
    timezone = raw.get("timezone")
    if timezone is not None and (not isinstance(timezone, str) or not timezone.strip()):
        raise ConfigError(path, f"{where}.timezone", f"expected an IANA time zone such as 'UTC', got {timezone!r}")
    return FeedConfig(
        name=name,
        description=str(raw.get("description", "")),
        kind=kind,
        channel=choice(path, f"{where}.channel", raw["channel"], CHANNELS) if "channel" in raw else None,
        identity_bearing=bool(raw.get("identity_bearing", kind in ("orders", "people"))),
        path=str(raw.get("path", name)),
        files=files,
        record_id=record_id,
        timestamp=timestamp,
        columns=columns + derived,
        canonical=_canonical(path, where, kind, raw.get("canonical") or {}, known),
        identity=_identity(path, where, raw.get("identity") or {}, kinds, known),
        extra_columns=choice(path, f"{where}.extra_columns", raw.get("extra_columns", "keep"), EXTRA_COLUMN_POLICIES),
        retention_days=retention,
        record_id_from=record_id_from,
        timestamp_from=timestamp_from,
        timezone=timezone,
    )


def _canonical(path: Path, where: str, kind: str, raw: dict[str, Any], known: Known) -> tuple[CanonicalField, ...]:
    canonical = []
    for field_name, spec in raw.items():
        cwhere = f"{where}.canonical.{field_name}"
        if field_name not in CANONICAL_FIELDS[kind]:
            raise ConfigError(path, cwhere, f"not a canonical field of {kind}: {sorted(CANONICAL_FIELDS[kind])}")
        if isinstance(spec, str):
            canonical.append(CanonicalField(field_name, column=known(spec, f"canonical.{field_name}")))
        elif isinstance(spec, dict) and "const" in spec:
            canonical.append(CanonicalField(field_name, const=str(spec["const"])))
        elif isinstance(spec, dict) and "column" in spec:
            mapping = tuple((str(k), str(v)) for k, v in (spec.get("map") or {}).items())
            canonical.append(CanonicalField(field_name, column=known(spec["column"], f"canonical.{field_name}"),
                                            value_map=mapping))
        else:
            raise ConfigError(path, cwhere, "expected a column name, {const: v} or {column: c, map: {...}}")
    return tuple(canonical)


def _identity(path: Path, where: str, raw: dict[str, Any], kinds: set[str],
              known: Known) -> tuple[IdentityAttribute, ...]:
    identity = []
    for column, spec in raw.items():
        iwhere = f"{where}.identity.{column}"
        spec = {"kind": spec} if isinstance(spec, str) else spec
        if not isinstance(spec, dict):
            raise ConfigError(path, iwhere, "expected an attribute kind or {kind, namespace | namespace_column}")
        identity.append(IdentityAttribute(
            column=known(column, f"identity.{column}"),
            kind=choice(path, f"{iwhere}.kind", spec.get("kind"), kinds),
            namespace=spec.get("namespace"),
            namespace_column=(known(spec["namespace_column"], f"identity.{column}")
                              if spec.get("namespace_column") else None),
        ))
    return tuple(identity)


def load_feeds_config(path: Path | None = None, identity: IdentityConfig | None = None) -> FeedsConfig:
    path = path or CONFIG_DIR / "feeds.yaml"
    raw = read_yaml(path)
    kinds = set((identity or load_identity_config()).attribute_kinds)
    feeds_raw = raw.get("feeds")
    if not isinstance(feeds_raw, dict) or not feeds_raw:
        raise ConfigError(path, "feeds", "declare at least one feed")
    feeds = {name: _feed(path, name, spec, kinds) for name, spec in feeds_raw.items()}
    reference = {
        name: ReferenceTable(name, str(spec["file"]), tuple(
            parse_column(path, f"reference.{name}.columns.{c}", c, s) for c, s in spec["columns"].items()))
        for name, spec in (raw.get("reference") or {}).items()
    }
    return FeedsConfig(feeds, with_built_in(reference))


@cache
def feeds_config() -> FeedsConfig:
    """The deployment's feeds, loaded once per process (Dagster builds assets from it at import)."""
    return load_feeds_config()

