"""The deployment's feeds (``feeds.yaml``): what each partner delivers, how its files are read,
which columns map to canonical fields and which carry identifiers.

Mistakes are reported as :class:`ConfigError` naming the file, line and key, so a data engineer
can fix the YAML without reading Python."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainValidator, ValidationInfo, field_validator, model_validator
from pydantic import dataclasses as typed
from pydantic_core import PydanticCustomError

from assets.common.configuration import (
    FROM_KEY,
    SETTINGS,
    EmptyIsNone,
    Flag,
    fail_unless,
    named,
    one_of,
    problem,
    read_yaml,
    required,
    validated,
    whole,
)
from assets.common.paths import CONFIG_DIR
from assets.identity.settings import IdentityConfig, load_identity_config
from assets.ingest.feed_spec import (
    RECORD_ID_COLUMN,
    TIMESTAMP_COLUMN,
    Columns,
    ColumnSpec,
    FileSpec,
    record_id_shape,
    resolved,
    timestamp_shape,
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
        "platform": "varchar",
        "store_id": "varchar",
        "product_id": "varchar",
        "category": "varchar",
        "quantity": "integer",
        "amount": "double",
        "coupon_amount": "double",
        "refund_amount": "double",
        "status": "varchar",
        "campaign_id": "varchar",
        "payment_method": "varchar",
    },
    "events": {
        "event_type": "varchar",
        "platform": "varchar",
        "store_id": "varchar",
        "product_id": "varchar",
        "category": "varchar",
        "campaign_id": "varchar",
        "ad_channel": "varchar",
        "creative_id": "varchar",
        "content_id": "varchar",
        "kol_id": "varchar",
        "expo_id": "varchar",
        "interests": "varchar",
        "session_id": "varchar",
        "dwell_seconds": "double",
        "cost": "double",
        "experiment_id": "varchar",
        "experiment_arm": "varchar",
        "latitude": "double",
        "longitude": "double",
        "coupon_id": "varchar",
        "expires_at": "timestamp",
    },
    "people": {},
    "consents": {
        "purpose": "varchar",
        "decision": "varchar",
        "captured_via": "varchar",
        "store_id": "varchar",
    },
}
CHANNEL_KINDS = {"orders", "events"}
"""Kinds whose rows happen online or offline (KPIs split by channel); the others need no channel."""


def _constant(value: Any) -> Any:
    """A constant is written into a text column: ``const: 1`` is the text "1"."""
    return str(value) if value is not None and not isinstance(value, (dict, list)) else value


@typed.dataclass(frozen=True, config=SETTINGS)
class CanonicalField:
    """A canonical field fed by a source column, a constant, or a source column through a value map
    (YAML: ``field: column``, ``{const: v}`` or ``{column: c, map: {...}}``)."""

    name: Annotated[str, Field(description=FROM_KEY)]
    column: str | None = None
    const: Annotated[str | None, BeforeValidator(_constant)] = None
    value_map: Annotated[
        tuple[tuple[str, str], ...],
        BeforeValidator(
            lambda v: tuple((str(k), str(x)) for k, x in v.items()) if isinstance(v, dict) else v
        ),
        Field(alias="map"),
    ] = ()

    @model_validator(mode="after")
    def _one_source(self) -> CanonicalField:
        """A field fed by both a column and a constant (or by neither) would leave the loader guessing."""
        if (self.column is None) == (self.const is None):
            raise problem("expected a column name, {const: v} or {column: c, map: {...}}")
        return self


def declared_kind(kind: str, info: ValidationInfo) -> str:
    """``kind`` is one of identity.yaml's attribute kinds (given as the validation context)."""
    kinds = (info.context or {}).get("kinds")
    if kinds is not None and kind not in kinds:
        raise problem(f"must be one of {sorted(kinds)}, got {kind!r}")
    return kind


@typed.dataclass(frozen=True, config=SETTINGS)
class IdentityAttribute:
    """An identifier column (YAML: ``column: kind`` or ``{kind, namespace | namespace_column}``);
    ``kind`` is one of identity.yaml's attribute kinds, given as the validation context."""

    column: Annotated[str, Field(description=FROM_KEY)]
    kind: str
    namespace: Annotated[str | None, EmptyIsNone] = None
    namespace_column: Annotated[str | None, EmptyIsNone] = None

    @field_validator("kind")
    @classmethod
    def _declared_kind(cls, kind: str, info: ValidationInfo) -> str:
        return declared_kind(kind, info)


@typed.dataclass(frozen=True, config=SETTINGS)
class Presence:
    """Where and when a row puts its person (YAML ``presence: {place, at, stay}``): a receipt at a
    store at 14:05, a beacon that saw a phone there from 13:58 for 20 minutes. Each row becomes
    values of the context kind ``kind`` — the place and every ``bucket_minutes`` slot the stay
    covers — so a receipt carrying only a name meets the phone that was in the store with it
    (identity compares and blocks on the kind as identity.yaml says)."""

    place: str
    at: str | None = None  # None: the feed's timestamp
    stay: str | None = None  # a column of seconds spent there; None: a moment
    kind: str = "visit"
    bucket_minutes: Annotated[int, whole(1)] = 15

    @field_validator("kind")
    @classmethod
    def _declared_kind(cls, kind: str, info: ValidationInfo) -> str:
        return declared_kind(kind, info)


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
    extra_columns: str = "keep"  # keep: undeclared columns' values kept in raw._extra_columns; drop: reported
    retention_days: int | None = None  # raw rows older than this (by delivery day) are deleted
    record_id_from: tuple[str, ...] | None = None  # columns hashed into the id; () = the whole row
    timestamp_from: str | None = None  # partition | load_time
    timezone: str | None = None  # the partner's clock, when it is not the deployment's
    presence: Presence | None = None  # where and when a row puts its person (identity evidence)

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


def _timezone(value: Any) -> str:
    return fail_unless(
        isinstance(value, str) and bool(value.strip()), value, "expected an IANA time zone such as 'UTC'"
    )


@typed.dataclass(frozen=True, config=SETTINGS)
class FeedSpec:
    """One entry of ``feeds:`` as written; :meth:`feed` resolves it into the :class:`FeedConfig` the
    loader uses (defaults that depend on the kind, derived id and time columns, file column order)."""

    name: Annotated[str, Field(description=FROM_KEY)]
    kind: Annotated[str, one_of(FEED_KINDS)]
    files: Annotated[tuple[FileSpec, ...], required("declare at least one {pattern, format} entry")]
    columns: Columns
    description: str = ""
    channel: Annotated[str, one_of(CHANNELS)] | None = None
    identity_bearing: Flag | None = None  # None: orders and people feeds are, the others are not
    path: str | None = None  # None: the feed's name
    record_id: Annotated[tuple[str | None, tuple[str, ...] | None], PlainValidator(record_id_shape)] = (
        None,
        (),
    )
    timestamp: Annotated[tuple[str | None, str | None], PlainValidator(timestamp_shape)] = (None, "partition")
    canonical: Annotated[dict[str, CanonicalField], named(shorthand="column")] = Field(default_factory=dict)
    identity: Annotated[dict[str, IdentityAttribute], named("column", shorthand="kind")] = Field(
        default_factory=dict
    )
    extra_columns: Annotated[str, one_of(EXTRA_COLUMN_POLICIES)] = "keep"
    retention_days: Annotated[int, whole(1)] | None = None
    timezone: Annotated[str, PlainValidator(_timezone)] | None = None
    presence: Presence | None = None

    @model_validator(mode="after")
    def _kind_rules(self) -> FeedSpec:
        """Sales and behaviour happen online or offline (KPIs split by it); a people feed's rows are
        person records; canonical fields are the kind's."""
        if self.kind in CHANNEL_KINDS and self.channel is None:
            raise problem("missing required key 'channel'")
        if self.kind == "people" and self.identity_bearing is False:
            raise problem("a people feed's rows are person records: true", at="identity_bearing")
        for name in self.canonical:
            if name not in CANONICAL_FIELDS[self.kind]:
                raise problem(
                    f"not a canonical field of {self.kind}: {sorted(CANONICAL_FIELDS[self.kind])}",
                    at=f"canonical.{name}",
                )
        return self

    @model_validator(mode="after")
    def _declared_columns(self) -> FeedSpec:
        """Every column a key names is one of the feed's ``columns``, and every files entry fits them."""
        record_id, record_id_from = self.record_id
        named_columns = [
            (record_id, "record_id"),
            *((c, "record_id.columns") for c in record_id_from or ()),
            (self.timestamp[0], "timestamp"),
            *((c.column, f"canonical.{c.name}") for c in self.canonical.values()),
            *((a.column, f"identity.{a.column}") for a in self.identity.values()),
            *((a.namespace_column, f"identity.{a.column}") for a in self.identity.values()),
            *(
                (getattr(self.presence, key), f"presence.{key}")
                for key in ("place", "at", "stay")
                if self.presence is not None
            ),
        ]
        for column, key in named_columns:
            if column is not None and column not in self.columns:
                raise problem(f"column '{column}' is not declared in feeds.{self.name}.columns", at=key)
        for i, spec in enumerate(self.files):
            try:
                resolved(spec, tuple(self.columns.values()))
            except PydanticCustomError as error:
                raise problem(error.message(), at=f"files[{i}].{(error.context or {})['at']}") from None
        return self

    def feed(self) -> FeedConfig:
        columns = tuple(self.columns.values())
        (record_id, record_id_from), (timestamp, timestamp_from) = self.record_id, self.timestamp
        derived = ((ColumnSpec(RECORD_ID_COLUMN, "varchar", required=True),) if record_id is None else ()) + (
            (ColumnSpec(TIMESTAMP_COLUMN, "timestamp", required=True),) if timestamp is None else ()
        )
        return FeedConfig(
            name=self.name,
            description=self.description,
            kind=self.kind,
            channel=self.channel,
            identity_bearing=(
                self.kind in ("orders", "people") if self.identity_bearing is None else self.identity_bearing
            ),
            path=self.name if self.path is None else self.path,
            files=tuple(resolved(spec, columns) for spec in self.files),
            record_id=record_id or RECORD_ID_COLUMN,
            timestamp=timestamp or TIMESTAMP_COLUMN,
            columns=columns + derived,
            canonical=tuple(self.canonical.values()),
            identity=tuple(self.identity.values()),
            extra_columns=self.extra_columns,
            retention_days=self.retention_days,
            record_id_from=record_id_from,
            timestamp_from=timestamp_from,
            timezone=self.timezone,
            presence=self.presence,
        )


@typed.dataclass(frozen=True, config=SETTINGS)
class ReferenceSpec:
    """One entry of ``reference:``: a CSV file in the landing zone's ``reference/`` and its columns."""

    name: Annotated[str, Field(description=FROM_KEY)]
    file: str
    columns: Columns


@typed.dataclass(frozen=True, config=SETTINGS)
class FeedsFile:
    """``feeds.yaml``: the feeds (at least one) and the reference tables (the built-in ones are
    always there; see :mod:`assets.ingest.reference_tables`)."""

    feeds: Annotated[dict[str, FeedSpec], named(empty="declare at least one feed")] = Field(
        default_factory=dict, validate_default=True
    )
    reference: Annotated[dict[str, ReferenceSpec], named()] = Field(default_factory=dict)


def load_feeds_config(path: Path | None = None, identity: IdentityConfig | None = None) -> FeedsConfig:
    path = path or CONFIG_DIR / "feeds.yaml"
    kinds = set((identity or load_identity_config()).attribute_kinds)
    file = validated(path, FeedsFile, read_yaml(path), context={"kinds": kinds})
    reference = {
        name: ReferenceTable(name, spec.file, tuple(spec.columns.values()))
        for name, spec in file.reference.items()
    }
    return FeedsConfig({name: spec.feed() for name, spec in file.feeds.items()}, with_built_in(reference))


@cache
def feeds_config() -> FeedsConfig:
    """The deployment's feeds, loaded once per process (Dagster builds assets from it at import)."""
    return load_feeds_config()
