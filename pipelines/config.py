"""Typed loading of the declarative configuration in ``config/`` (feeds and identity rules).

Configuration mistakes are reported as :class:`ConfigError` naming the file and the offending key,
so a data engineer can fix the YAML without reading Python."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from pipelines.settings import CONFIG_DIR

COLUMN_TYPES = {"varchar", "integer", "double", "timestamp", "date", "boolean"}
FILE_FORMATS = {"csv", "jsonl", "parquet"}
ENCODINGS = {"auto", "utf-8", "utf-8-sig", "gb18030", "gbk"}
FEED_KINDS = {"orders", "events"}
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
}


KEY_PATH = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def locate(path: Path, where: str) -> int | None:
    """The 1-based line of the key path ``where`` ("feeds.shop.files[0].format") in the YAML file
    ``path``: the deepest node of the path that exists, so a missing key points at its parent."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    line = None
    for key, index in KEY_PATH.findall(where):
        if isinstance(node, yaml.MappingNode) and key:
            match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == key), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and index and int(index) < len(node.value):
            node = node.value[int(index)]
            line = node.start_mark.line + 1
        else:
            break
    return line


class ConfigError(ValueError):
    """A configuration file is missing or wrong; the message says where (file:line and key path)
    and how to fix it."""

    def __init__(self, path: Path, where: str, problem: str, line: int | None = None) -> None:
        self.path, self.where, self.problem = path, where, problem
        self.line = line or (locate(path, where) if path.is_file() else None)
        super().__init__(f"{path}{f':{self.line}' if self.line else ''}: {where}: {problem}")


@dataclass(frozen=True)
class FileSpec:
    pattern: str
    format: str
    encoding: str = "auto"
    delimiter: str = ","

    def matches(self, name: str) -> bool:
        return fnmatch.fnmatch(name, self.pattern)


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str
    required: bool = False


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
    name: str
    description: str
    kind: str
    channel: str
    identity_bearing: bool
    path: str
    files: tuple[FileSpec, ...]
    record_id: str
    timestamp: str
    columns: tuple[ColumnSpec, ...]
    canonical: tuple[CanonicalField, ...]
    identity: tuple[IdentityAttribute, ...]
    extra_columns: str = "keep"  # keep: undeclared columns' values go to raw._extra_columns; drop: only reported

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

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


NORMALISE_METHODS = {"mobile", "email", "device_id", "national_id", "identifier", "code", "lower", "person_name",
                     "city", "text", "company", "gender", "date", "digits"}
COMPARE_METHODS = {"exact", "name", "string", "digits"}
CLASSIFIERS = {"fellegi_sunter"}


@dataclass(frozen=True)
class AttributeKind:
    name: str
    strength: str
    namespaced: bool
    normalise: str = "lower"
    exclusive: bool = False
    exclusive_in_matching: bool = False
    hashed: bool = False
    compare: str | None = None
    context: bool = False


@dataclass(frozen=True)
class StitchRule:
    name: str
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class MatchingConfig:
    """Probabilistic matching: blocking passes, classifier and the evidence needed to merge."""

    blocking: tuple[tuple[str, ...], ...] = ()
    max_block_size: int = 300
    classifier: str = "fellegi_sunter"
    min_probability: float = 0.5
    string_threshold: float = 0.88


@dataclass(frozen=True)
class IncrementalConfig:
    """When a run may link only the nodes that changed instead of resolving the whole graph."""

    enabled: bool = True
    max_changed_share: float = 0.1
    full_rebuild_days: int = 7


@dataclass(frozen=True)
class IdentityConfig:
    attribute_kinds: dict[str, AttributeKind]
    rules: tuple[StitchRule, ...]
    blocked_values: dict[str, frozenset[str]]
    max_partner_values: int
    max_cluster_records: int = 2000
    matching: MatchingConfig = field(default_factory=MatchingConfig)
    surname_readings: dict[str, str] = field(default_factory=dict)
    quality_floor_f1: float = 0.98
    incremental: IncrementalConfig = field(default_factory=IncrementalConfig)

    @property
    def strong_kinds(self) -> set[str]:
        return {k.name for k in self.attribute_kinds.values() if k.strength == "strong"}

    @property
    def compared_kinds(self) -> list[str]:
        return [k.name for k in self.attribute_kinds.values() if k.compare]


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ConfigError(path, "file", "not found; copy it from the repository's config/ folder")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        raise ConfigError(path, where, f"invalid YAML ({getattr(exc, 'problem', exc)})",
                          line=mark.line + 1 if mark else None) from exc
    if not isinstance(data, dict):
        raise ConfigError(path, "top level", "expected a mapping")
    return data


def _column(path: Path, where: str, name: str, spec: Any) -> ColumnSpec:
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, dict) or spec.get("type") not in COLUMN_TYPES:
        raise ConfigError(path, where, f"type must be one of {sorted(COLUMN_TYPES)}, got {spec!r}")
    return ColumnSpec(name=name, type=spec["type"], required=bool(spec.get("required", False)))


def _choice(path: Path, where: str, value: Any, allowed: set[str]) -> str:
    if value not in allowed:
        raise ConfigError(path, where, f"must be one of {sorted(allowed)}, got {value!r}")
    return value


def _feed(path: Path, name: str, raw: dict[str, Any], kinds: set[str]) -> FeedConfig:
    where = f"feeds.{name}"
    if not isinstance(raw, dict):
        raise ConfigError(path, where, "expected a mapping")
    for key in ("kind", "channel", "files", "record_id", "timestamp", "columns"):
        if key not in raw:
            raise ConfigError(path, where, f"missing required key '{key}'")
    kind = _choice(path, f"{where}.kind", raw["kind"], FEED_KINDS)
    columns = tuple(_column(path, f"{where}.columns.{c}", c, s) for c, s in raw["columns"].items())
    names = {c.name for c in columns}

    def known(column: str, key: str) -> str:
        if column not in names:
            raise ConfigError(path, f"{where}.{key}", f"column '{column}' is not declared in {where}.columns")
        return column

    files = []
    for i, spec in enumerate(raw["files"]):
        fwhere = f"{where}.files[{i}]"
        files.append(FileSpec(
            pattern=str(spec.get("pattern", "*")),
            format=_choice(path, f"{fwhere}.format", spec.get("format"), FILE_FORMATS),
            encoding=_choice(path, f"{fwhere}.encoding", spec.get("encoding", "auto"), ENCODINGS),
            delimiter=str(spec.get("delimiter", ",")),
        ))

    canonical = []
    for field_name, spec in (raw.get("canonical") or {}).items():
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

    identity = []
    for column, spec in (raw.get("identity") or {}).items():
        iwhere = f"{where}.identity.{column}"
        spec = {"kind": spec} if isinstance(spec, str) else spec
        attr = IdentityAttribute(
            column=known(column, f"identity.{column}"),
            kind=_choice(path, f"{iwhere}.kind", spec.get("kind"), kinds),
            namespace=spec.get("namespace"),
            namespace_column=known(spec["namespace_column"], f"identity.{column}") if spec.get("namespace_column") else None,
        )
        identity.append(attr)

    return FeedConfig(
        name=name,
        description=str(raw.get("description", "")),
        kind=kind,
        channel=_choice(path, f"{where}.channel", raw["channel"], CHANNELS),
        identity_bearing=bool(raw.get("identity_bearing", kind == "orders")),
        path=str(raw.get("path", name)),
        files=tuple(files),
        record_id=known(raw["record_id"], "record_id"),
        timestamp=known(raw["timestamp"], "timestamp"),
        columns=columns,
        canonical=tuple(canonical),
        identity=tuple(identity),
        extra_columns=_choice(path, f"{where}.extra_columns", raw.get("extra_columns", "keep"), EXTRA_COLUMN_POLICIES),
    )


def load_identity_config(path: Path | None = None) -> IdentityConfig:
    path = path or CONFIG_DIR / "identity.yaml"
    raw = _read_yaml(path)
    kinds = {}
    for name, spec in (raw.get("attribute_kinds") or {}).items():
        where = f"attribute_kinds.{name}"
        compare = spec.get("compare")
        kinds[name] = AttributeKind(
            name, _choice(path, f"{where}.strength", spec.get("strength"), {"strong", "weak"}),
            bool(spec.get("namespaced", False)),
            normalise=_choice(path, f"{where}.normalise", spec.get("normalise", "lower"), NORMALISE_METHODS),
            exclusive=spec.get("exclusive", False) is True, hashed=bool(spec.get("hashed", False)),
            exclusive_in_matching=spec.get("exclusive", False) in (True, "matching"),
            compare=_choice(path, f"{where}.compare", compare, COMPARE_METHODS) if compare else None,
            context=bool(spec.get("context", False)),
        )
    rules = []
    for i, rule in enumerate(raw.get("rules") or []):
        for kind in rule.get("kinds", []):
            if kinds.get(kind) is None or kinds[kind].strength != "strong":
                raise ConfigError(path, f"rules[{i}].kinds", f"'{kind}' is not a strong attribute kind")
        rules.append(StitchRule(str(rule["name"]), tuple(rule["kinds"])))
    guards = raw.get("guards") or {}
    blocked = {k: frozenset(str(v) for v in values) for k, values in (guards.get("blocked_values") or {}).items()}
    return IdentityConfig(kinds, tuple(rules), blocked, int(guards.get("max_partner_values", 2)),
                          int(guards.get("max_cluster_records", 2000)), _matching(path, raw.get("matching") or {}, kinds),
                          {str(k): str(v) for k, v in ((raw.get("names") or {}).get("surname_readings") or {}).items()},
                          float((raw.get("quality") or {}).get("min_pairwise_f1", 0.98)),
                          _incremental(path, raw.get("incremental") or {}))


def _incremental(path: Path, raw: dict[str, Any]) -> IncrementalConfig:
    share, days = raw.get("max_changed_share", 0.1), raw.get("full_rebuild_days", 7)
    if not isinstance(share, (int, float)) or not 0 < share <= 1:
        raise ConfigError(path, "incremental.max_changed_share", f"must be in (0, 1], got {share!r}")
    if not isinstance(days, int) or days < 1:
        raise ConfigError(path, "incremental.full_rebuild_days", f"must be a whole number of days >= 1, got {days!r}")
    return IncrementalConfig(bool(raw.get("enabled", True)), float(share), days)


def _matching(path: Path, raw: dict[str, Any], kinds: dict[str, AttributeKind]) -> MatchingConfig:
    passes = []
    for i, block in enumerate(raw.get("blocking") or []):
        for kind in block:
            if kind not in kinds:
                raise ConfigError(path, f"matching.blocking[{i}]", f"'{kind}' is not a declared attribute kind")
        passes.append(tuple(block))
    probability = raw.get("min_probability", 0.5)
    if not isinstance(probability, (int, float)) or not 0 < probability < 1:
        raise ConfigError(path, "matching.min_probability", f"must be between 0 and 1, got {probability!r}")
    return MatchingConfig(
        blocking=tuple(passes), max_block_size=int(raw.get("max_block_size", 300)),
        classifier=_choice(path, "matching.classifier", raw.get("classifier", "fellegi_sunter"), CLASSIFIERS),
        min_probability=float(probability), string_threshold=float(raw.get("string_threshold", 0.88)),
    )


def load_feeds_config(path: Path | None = None, identity: IdentityConfig | None = None) -> FeedsConfig:
    path = path or CONFIG_DIR / "feeds.yaml"
    raw = _read_yaml(path)
    kinds = set((identity or load_identity_config()).attribute_kinds)
    feeds_raw = raw.get("feeds")
    if not isinstance(feeds_raw, dict) or not feeds_raw:
        raise ConfigError(path, "feeds", "declare at least one feed")
    feeds = {name: _feed(path, name, spec, kinds) for name, spec in feeds_raw.items()}
    reference = {
        name: ReferenceTable(name, str(spec["file"]), tuple(
            _column(path, f"reference.{name}.columns.{c}", c, s) for c, s in spec["columns"].items()))
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
    raw = _read_yaml(path)
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


@dataclass(frozen=True)
class ClvConfig:
    time_unit_days: float
    calibration_days: int
    prediction_horizons_days: tuple[int, ...]
    clv_horizon_days: int
    annual_discount_rate: float
    penalizer: float


def load_clv_config(path: Path | None = None) -> ClvConfig:
    path = path or CONFIG_DIR / "clv.yaml"
    raw = _read_yaml(path)
    try:
        config = ClvConfig(float(raw.get("time_unit_days", 7)), int(raw.get("calibration_days", 730)),
                           tuple(int(h) for h in raw.get("prediction_horizons_days", [90, 365])),
                           int(raw.get("clv_horizon_days", 365)), float(raw.get("annual_discount_rate", 0.0)),
                           float(raw.get("penalizer", 0.0)))
    except (TypeError, ValueError) as exc:
        raise ConfigError(path, "values", f"numbers expected ({exc})") from exc
    if config.time_unit_days <= 0 or config.calibration_days <= 0:
        raise ConfigError(path, "time_unit_days / calibration_days", "must be positive")
    return config


@dataclass(frozen=True)
class TouchpointRule:
    source: str
    event_types: tuple[str, ...]  # empty: every event of the source
    channel: str  # template over fct_events columns, e.g. "ad:{ad_channel}"


@dataclass(frozen=True)
class AttributionConfig:
    settings: dict[str, Any]
    touchpoints: tuple[TouchpointRule, ...]


def load_attribution_config(path: Path | None = None) -> AttributionConfig:
    path = path or CONFIG_DIR / "kpis.yaml"
    raw = (_read_yaml(path).get("attribution") or {})
    rules = []
    for i, rule in enumerate(raw.get("touchpoints") or []):
        if not isinstance(rule, dict) or "source" not in rule or "channel" not in rule:
            raise ConfigError(path, f"attribution.touchpoints[{i}]", "needs `source` and `channel`")
        rules.append(TouchpointRule(str(rule["source"]), tuple(str(t) for t in rule.get("event_types") or ()),
                                    str(rule["channel"])))
    if not rules:
        raise ConfigError(path, "attribution.touchpoints", "declare at least one touchpoint rule")
    return AttributionConfig(dict(raw.get("settings") or {}), tuple(rules))


AUDIENCE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Audience:
    name: str
    description: str
    sql: str  # a query over the warehouse's marts returning a unified_id column


def load_audiences(path: Path | None = None) -> tuple[Audience, ...]:
    """Audiences from config/audiences.yaml: adding one is adding an entry."""
    path = path or CONFIG_DIR / "audiences.yaml"
    raw = _read_yaml(path).get("audiences")
    if not isinstance(raw, list) or not raw:
        raise ConfigError(path, "audiences", "declare a list of audiences ({name, description, sql})")
    audiences: list[Audience] = []
    for i, entry in enumerate(raw):
        where = f"audiences[{i}]"
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) and entry[k].strip()
                                                  for k in ("name", "description", "sql")):
            raise ConfigError(path, where, "needs non-empty `name`, `description` and `sql`")
        if not AUDIENCE_NAME.match(entry["name"]):
            raise ConfigError(path, where, f"name {entry['name']!r}: lower-case letters, digits and _ only")
        if any(a.name == entry["name"] for a in audiences):
            raise ConfigError(path, where, f"name {entry['name']!r} is declared twice")
        audiences.append(Audience(entry["name"], entry["description"].strip(), entry["sql"].strip().rstrip(";")))
    return tuple(audiences)
