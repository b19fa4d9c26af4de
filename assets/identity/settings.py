"""The identity engine's settings: what each attribute kind does, the stitching rules, the guards,
matching and incremental runs — read from ``identity.yaml``.

They live with the engine, not with the orchestration, so that the engine can be used (and a
Spark engine built) without Dagster. Every mistake is a
:class:`~assets.common.configuration.ConfigError` saying ``file:line: key: problem`` — numbers
included, so a ``max_block_size: lots`` never surfaces as a bare ``ValueError`` from deep inside a
run."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from assets.common.configuration import ConfigError, choice, read_yaml, whole_number
from assets.common.paths import CONFIG_DIR
from assets.identity.pin_settings import Pins, ReviewConfig, load_pins, load_review

NORMALISE_METHODS = {
    "mobile",
    "email",
    "device_id",
    "national_id",
    "identifier",
    "code",
    "lower",
    "person_name",
    "city",
    "text",
    "company",
    "gender",
    "date",
    "digits",
}
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
    term_frequency_context: tuple[str, ...] = ()  # kinds a name's frequency is counted within (city, store)


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
    owner_share: float = 0.6
    matching: MatchingConfig = field(default_factory=MatchingConfig)
    surname_readings: dict[str, str] = field(default_factory=dict)
    quality_floor_f1: float = 0.98
    incremental: IncrementalConfig = field(default_factory=IncrementalConfig)
    pins: Pins = field(default_factory=Pins)
    review: ReviewConfig = field(default_factory=ReviewConfig)

    @property
    def strong_kinds(self) -> set[str]:
        return {k.name for k in self.attribute_kinds.values() if k.strength == "strong"}

    @property
    def compared_kinds(self) -> list[str]:
        return [k.name for k in self.attribute_kinds.values() if k.compare]


def load_identity_config(path: Path | None = None) -> IdentityConfig:
    """The settings in the YAML file ``path`` (default: the deployment's ``identity.yaml``)."""
    path = path or CONFIG_DIR / "identity.yaml"
    raw = read_yaml(path)
    kinds = _attribute_kinds(path, raw.get("attribute_kinds") or {})
    guards = raw.get("guards") or {}
    blocked = {
        k: frozenset(str(v) for v in values) for k, values in (guards.get("blocked_values") or {}).items()
    }
    readings = {str(k): str(v) for k, v in ((raw.get("names") or {}).get("surname_readings") or {}).items()}
    return IdentityConfig(
        kinds,
        _rules(path, raw.get("rules") or [], kinds),
        blocked,
        whole_number(path, "guards.max_partner_values", guards.get("max_partner_values", 2), minimum=1),
        whole_number(path, "guards.max_cluster_records", guards.get("max_cluster_records", 2000), minimum=1),
        _share(path, "guards.owner_share", guards.get("owner_share", 0.6)),
        _matching(path, raw.get("matching") or {}, kinds),
        readings,
        _share(
            path,
            "quality.min_pairwise_f1",
            (raw.get("quality") or {}).get("min_pairwise_f1", 0.98),
            low_open=False,
        ),
        _incremental(path, raw.get("incremental") or {}),
        load_pins(path, raw.get("pins"), kinds, readings, blocked),
        load_review(path, raw.get("review")),
    )


def _attribute_kinds(path: Path, raw: dict[str, Any]) -> dict[str, AttributeKind]:
    kinds = {}
    for name, spec in raw.items():
        where = f"attribute_kinds.{name}"
        if str(name).startswith("_pin"):
            raise ConfigError(
                path, where, "names starting with '_pin' are the engine's own (pinned decisions)"
            )
        if not isinstance(spec, dict):
            raise ConfigError(
                path,
                where,
                f"expected a mapping such as {{strength: strong, normalise: lower}}, got {spec!r}",
            )
        compare = spec.get("compare")
        kinds[name] = AttributeKind(
            name,
            choice(path, f"{where}.strength", spec.get("strength"), {"strong", "weak"}),
            bool(spec.get("namespaced", False)),
            normalise=choice(path, f"{where}.normalise", spec.get("normalise", "lower"), NORMALISE_METHODS),
            exclusive=spec.get("exclusive", False) is True,
            hashed=bool(spec.get("hashed", False)),
            exclusive_in_matching=spec.get("exclusive", False) in (True, "matching"),
            compare=choice(path, f"{where}.compare", compare, COMPARE_METHODS) if compare else None,
            context=bool(spec.get("context", False)),
        )
    return kinds


def _rules(path: Path, raw: list[Any], kinds: dict[str, AttributeKind]) -> tuple[StitchRule, ...]:
    rules = []
    for i, rule in enumerate(raw):
        shaped = isinstance(rule, dict) and isinstance(rule.get("name"), str) and rule["name"].strip()
        if not shaped or not isinstance(rule.get("kinds"), list) or not rule["kinds"]:
            raise ConfigError(
                path, f"rules[{i}]", f"expected {{name: text, kinds: [strong attribute kinds]}}, got {rule!r}"
            )
        for kind in rule["kinds"]:
            if kinds.get(kind) is None or kinds[kind].strength != "strong":
                raise ConfigError(path, f"rules[{i}].kinds", f"'{kind}' is not a strong attribute kind")
        rules.append(StitchRule(str(rule["name"]), tuple(rule["kinds"])))
    return tuple(rules)


def _share(path: Path, where: str, value: Any, low_open: bool = True) -> float:
    """A number in (0, 1] (``low_open``) or [0, 1]; booleans and text are refused."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not ((0 < value if low_open else 0 <= value) and value <= 1)
    ):
        interval = "(0, 1]" if low_open else "[0, 1]"
        raise ConfigError(path, where, f"must be a number in {interval}, got {value!r}")
    return float(value)


def _incremental(path: Path, raw: dict[str, Any]) -> IncrementalConfig:
    share, days = raw.get("max_changed_share", 0.1), raw.get("full_rebuild_days", 7)
    if not isinstance(share, (int, float)) or not 0 < share <= 1:
        raise ConfigError(path, "incremental.max_changed_share", f"must be in (0, 1], got {share!r}")
    if not isinstance(days, int) or days < 1:
        raise ConfigError(
            path, "incremental.full_rebuild_days", f"must be a whole number of days >= 1, got {days!r}"
        )
    return IncrementalConfig(bool(raw.get("enabled", True)), float(share), days)


def _matching(path: Path, raw: dict[str, Any], kinds: dict[str, AttributeKind]) -> MatchingConfig:
    passes = []
    for i, block in enumerate(raw.get("blocking") or []):
        for kind in block:
            if kind not in kinds:
                raise ConfigError(
                    path, f"matching.blocking[{i}]", f"'{kind}' is not a declared attribute kind"
                )
        passes.append(tuple(block))
    probability = raw.get("min_probability", 0.5)
    if not isinstance(probability, (int, float)) or not 0 < probability < 1:
        raise ConfigError(path, "matching.min_probability", f"must be between 0 and 1, got {probability!r}")
    contexts = raw.get("term_frequency_context") or []
    for kind in contexts:
        if kind not in kinds:
            raise ConfigError(
                path, "matching.term_frequency_context", f"'{kind}' is not a declared attribute kind"
            )
        if not kinds[kind].compare:
            raise ConfigError(
                path, "matching.term_frequency_context", f"'{kind}' is not compared (no compare:)"
            )
    return MatchingConfig(
        blocking=tuple(passes),
        term_frequency_context=tuple(contexts),
        max_block_size=whole_number(
            path, "matching.max_block_size", raw.get("max_block_size", 300), minimum=2
        ),
        classifier=choice(path, "matching.classifier", raw.get("classifier", "fellegi_sunter"), CLASSIFIERS),
        min_probability=float(probability),
        string_threshold=_share(path, "matching.string_threshold", raw.get("string_threshold", 0.88)),
    )


@cache
def identity_config() -> IdentityConfig:
    """The deployment's identity settings, loaded once per process."""
    return load_identity_config()
