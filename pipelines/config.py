"""Typed loading of the declarative configuration in ``config/`` (feeds and identity rules).

Configuration mistakes are reported as :class:`ConfigError` naming the file and the offending key,
so a data engineer can fix the YAML without reading Python."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from assets.activation.settings import ActivationConfig, Audience, Purpose, load_activation
from assets.configuration import ConfigError, choice, locate, read_yaml, whole_number
from assets.identity import settings as identity_settings
from assets.identity.settings import (
    AttributeKind,
    IdentityConfig,
    IncrementalConfig,
    MatchingConfig,
    StitchRule,
)
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
from assets.kpis.attribution.settings import AttributionSettings
from pipelines.settings import CONFIG_DIR

__all__ = [
    "RECORD_ID_COLUMN",
    "TIMESTAMP_COLUMN",
    "AttributeKind",
    "Audience",
    "ColumnSpec",
    "ConfigError",
    "FileSpec",
    "IdentityConfig",
    "IncrementalConfig",
    "MatchingConfig",
    "Purpose",
    "StitchRule",
    "locate",
]

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
class ReferenceTable:
    name: str
    file: str
    columns: tuple[ColumnSpec, ...]


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


def load_identity_config(path: Path | None = None) -> IdentityConfig:
    """The deployment's identity settings (``config/identity.yaml`` unless ``path`` says otherwise)."""
    return identity_settings.load_identity_config(path or CONFIG_DIR / "identity.yaml")


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
    from pipelines.reference_tables import with_built_in  # it builds on this module's types

    return FeedsConfig(feeds, with_built_in(reference))


@cache
def feeds_config() -> FeedsConfig:
    """The deployment's feeds, loaded once per process (Dagster builds assets from it at import)."""
    return load_feeds_config()


@cache
def identity_config() -> IdentityConfig:
    return load_identity_config()


@dataclass(frozen=True)
class PipelineConfig:
    partitions_start: str | None  # None: the landing zone's first day folder
    timezone: str
    schedule_hour: int
    schedule_minute: int
    sensor_interval_seconds: int
    freshness_warn_hours: float = 26
    freshness_fail_hours: float = 50


def load_pipeline_config(path: Path | None = None) -> PipelineConfig:
    path = path or CONFIG_DIR / "pipeline.yaml"
    raw = read_yaml(path)
    partitions, schedule, sensor = raw.get("partitions") or {}, raw.get("schedule") or {}, raw.get("sensor") or {}
    freshness = raw.get("freshness") or {}
    start = partitions.get("start_date")
    try:
        start = start if start is None else date.fromisoformat(str(start)).isoformat()
    except ValueError:
        raise ConfigError(path, "partitions.start_date", f"must be a date (YYYY-MM-DD), got {start!r}; "
                                                         "leave it out to start at the landing zone's first day") from None
    warn, fail = freshness.get("warn_after_hours", 26), freshness.get("fail_after_hours", 50)
    if not all(isinstance(v, (int, float)) and v > 0 for v in (warn, fail)) or warn >= fail:
        raise ConfigError(path, "freshness", f"warn_after_hours ({warn!r}) and fail_after_hours ({fail!r}) must be "
                                             "positive numbers with warn_after_hours < fail_after_hours")
    return PipelineConfig(start, str(partitions.get("timezone", "UTC")),
                          int(schedule.get("hour", 3)), int(schedule.get("minute", 0)),
                          int(sensor.get("minimum_interval_seconds", 60)), float(warn), float(fail))


@cache
def pipeline_config() -> PipelineConfig:
    return load_pipeline_config()


CLV_MODELS = {"bgnbd", "pareto_nbd", "mbgnbd", "auto"}
CLV_SELECTION_METRICS = {"mae", "rmse", "total_error"}


@dataclass(frozen=True)
class ClvConfig:
    time_unit_days: float
    calibration_days: int
    prediction_horizons_days: tuple[int, ...]
    clv_horizon_days: int
    annual_discount_rate: float
    penalizer: float
    model: str = "auto"  # bgnbd | pareto_nbd | mbgnbd | auto (the lowest holdout error)
    calibration_end: date | None = None  # None: holdout_days before the profile date
    holdout_days: int = 182
    selection_metric: str = "mae"
    frequency_buckets: int = 7


def load_clv_config(path: Path | None = None) -> ClvConfig:
    path = path or CONFIG_DIR / "clv.yaml"
    raw = read_yaml(path)
    try:
        config = ClvConfig(float(raw.get("time_unit_days", 7)), int(raw.get("calibration_days", 730)),
                           tuple(int(h) for h in raw.get("prediction_horizons_days", [90, 365])),
                           int(raw.get("clv_horizon_days", 365)), float(raw.get("annual_discount_rate", 0.0)),
                           float(raw.get("penalizer", 0.0)))
    except (TypeError, ValueError) as exc:
        raise ConfigError(path, "values", f"numbers expected ({exc})") from exc
    if config.time_unit_days <= 0 or config.calibration_days <= 0:
        raise ConfigError(path, "time_unit_days / calibration_days", "must be positive")
    end = raw.get("calibration_end")
    if end is not None and not isinstance(end, date):
        raise ConfigError(path, "calibration_end", f"must be a date (YYYY-MM-DD) or null, got {end!r}")
    return replace(config, model=choice(path, "model", raw.get("model", "auto"), CLV_MODELS), calibration_end=end,
                   holdout_days=whole_number(path, "holdout_days", raw.get("holdout_days", 182)),
                   selection_metric=choice(path, "selection_metric", raw.get("selection_metric", "mae"),
                                           CLV_SELECTION_METRICS),
                   frequency_buckets=whole_number(path, "frequency_buckets", raw.get("frequency_buckets", 7), 2))


@dataclass(frozen=True)
class TouchpointRule:
    source: str
    event_types: tuple[str, ...]  # empty: every event of the source
    channel: str  # template over fct_events columns, e.g. "ad:{ad_channel}"


@dataclass(frozen=True)
class AttributionConfig:
    settings: dict[str, Any]
    touchpoints: tuple[TouchpointRule, ...]

    @property
    def engine_settings(self) -> AttributionSettings:
        return AttributionSettings.from_dict(self.settings)


def load_attribution_config(path: Path | None = None) -> AttributionConfig:
    path = path or CONFIG_DIR / "kpis.yaml"
    raw = (read_yaml(path).get("attribution") or {})
    rules = []
    for i, rule in enumerate(raw.get("touchpoints") or []):
        if not isinstance(rule, dict) or "source" not in rule or "channel" not in rule:
            raise ConfigError(path, f"attribution.touchpoints[{i}]", "needs `source` and `channel`")
        rules.append(TouchpointRule(str(rule["source"]), tuple(str(t) for t in rule.get("event_types") or ()),
                                    str(rule["channel"])))
    if not rules:
        raise ConfigError(path, "attribution.touchpoints", "declare at least one touchpoint rule")
    config = AttributionConfig(dict(raw.get("settings") or {}), tuple(rules))
    try:
        _ = config.engine_settings  # built now, so a wrong setting is reported with the file and line
    except (TypeError, ValueError) as exc:
        raise ConfigError(path, "attribution.settings", str(exc)) from exc
    return config


def load_activation_config(audiences_path: Path | None = None) -> ActivationConfig:
    """The deployment's consent purposes, destinations and audiences (``audiences.yaml`` and the
    ``consent.yaml`` beside it)."""
    return load_activation(audiences_path or CONFIG_DIR / "audiences.yaml")


def load_audiences(path: Path | None = None) -> tuple[Audience, ...]:
    """The deployment's audiences (see :func:`load_activation_config`)."""
    return load_activation_config(path).audiences
