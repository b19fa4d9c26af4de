"""The identity engine's settings: what each attribute kind does, the stitching rules, the guards,
matching and incremental runs — read from ``identity.yaml``.

They live with the engine, not with the orchestration, so that the engine can be used (and a
Spark engine built) without Dagster. The file is declared as pydantic dataclasses read through
:func:`~assets.common.configuration.validated`, so every mistake is a
:class:`~assets.common.configuration.ConfigError` saying ``file:line: key: problem`` — numbers and
choices included, so a ``max_block_size: lots`` never surfaces as a bare ``ValueError`` from deep
inside a run, and a misspelt key is refused rather than silently left at its default. The file as
written (:class:`IdentityFile`, sections as in the YAML) resolves into the flat
:class:`IdentityConfig` the engine reads."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, PlainValidator, model_validator
from pydantic import dataclasses as typed
from pydantic_core import ArgsKwargs

from assets.common.configuration import (
    FROM_KEY,
    SETTINGS,
    Flag,
    fail_unless,
    named,
    none_as,
    number,
    one_of,
    problem,
    read_yaml,
    texts,
    validated,
    whole,
)
from assets.common.paths import CONFIG_DIR
from assets.identity.pin_settings import Pins, ReviewConfig, pin_context

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
STRENGTHS = {"strong", "weak"}
KIND_SHAPE = "expected a mapping such as {strength: strong, normalise: lower}"
RULE_SHAPE = "expected {name: text, kinds: [strong attribute kinds]}"


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


def _exclusive(value: Any) -> bool | str:
    return fail_unless(
        isinstance(value, bool) or value == "matching", value, "must be true, false or matching"
    )


@typed.dataclass(frozen=True, config=SETTINGS)
class KindSpec:
    """One entry of ``attribute_kinds`` as written; ``exclusive: matching`` is exclusive for
    probabilistic matching only (:meth:`kind` says so in two flags)."""

    name: Annotated[str, Field(description=FROM_KEY)]
    strength: Annotated[str, one_of(STRENGTHS)]
    namespaced: Flag = False
    normalise: Annotated[str, one_of(NORMALISE_METHODS)] = "lower"
    exclusive: Annotated[bool | str, PlainValidator(_exclusive)] = False
    hashed: Flag = False
    compare: Annotated[str, one_of(COMPARE_METHODS)] | None = None
    context: Flag = False

    @model_validator(mode="before")
    @classmethod
    def _a_mapping(cls, raw: Any) -> Any:
        """``mobile: strong`` is a common slip: the message shows the mapping to write."""
        if not isinstance(raw, (dict, ArgsKwargs)):
            raise problem(f"{KIND_SHAPE}, got {raw!r}")
        return raw

    @model_validator(mode="after")
    def _not_the_engines(self) -> KindSpec:
        if self.name.startswith("_pin"):
            raise problem("names starting with '_pin' are the engine's own (pinned decisions)")
        return self

    def kind(self) -> AttributeKind:
        return AttributeKind(
            self.name,
            self.strength,
            self.namespaced,
            normalise=self.normalise,
            exclusive=self.exclusive is True,
            exclusive_in_matching=self.exclusive in (True, "matching"),
            hashed=self.hashed,
            compare=self.compare,
            context=self.context,
        )


@typed.dataclass(frozen=True, config=SETTINGS)
class StitchRule:
    name: str
    kinds: tuple[str, ...]

    @model_validator(mode="before")
    @classmethod
    def _shaped(cls, raw: Any) -> Any:
        if isinstance(raw, ArgsKwargs):
            return raw
        named_rule = isinstance(raw, dict) and isinstance(raw.get("name"), str) and raw["name"].strip()
        if not named_rule or not isinstance(raw.get("kinds"), list) or not raw["kinds"]:
            raise problem(f"{RULE_SHAPE}, got {raw!r}")
        return raw


@typed.dataclass(frozen=True, config=SETTINGS)
class MatchingConfig:
    """Probabilistic matching: blocking passes, classifier and the evidence needed to merge."""

    blocking: Annotated[tuple[Annotated[tuple[str, ...], Field(min_length=1)], ...], none_as(())] = ()
    max_block_size: Annotated[int, whole(2)] = 300
    classifier: Annotated[str, one_of(CLASSIFIERS)] = "fellegi_sunter"
    min_probability: Annotated[float, number(0, 1, low_open=True, high_open=True)] = 0.5
    string_threshold: Annotated[float, number(0, 1, low_open=True)] = 0.88
    # kinds a name's frequency is counted within (city, store)
    term_frequency_context: Annotated[tuple[str, ...], none_as(())] = ()


@typed.dataclass(frozen=True, config=SETTINGS)
class IncrementalConfig:
    """When a run may link only the nodes that changed instead of resolving the whole graph."""

    enabled: Flag = True
    max_changed_share: Annotated[float, number(0, 1, low_open=True)] = 0.1
    full_rebuild_days: Annotated[int, whole(1)] = 7


@typed.dataclass(frozen=True, config=SETTINGS)
class Guards:
    """Values never used as merge keys: placeholders, shared values, oversized components."""

    blocked_values: Annotated[dict[str, Annotated[frozenset[str], texts(allow_empty=True)]], none_as({})] = (
        Field(default_factory=dict)
    )
    max_partner_values: Annotated[int, whole(1)] = 2
    owner_share: Annotated[float, number(0, 1, low_open=True)] = 0.6
    max_cluster_records: Annotated[int, whole(1)] = 2000


@typed.dataclass(frozen=True, config=SETTINGS)
class Names:
    surname_readings: Annotated[dict[str, str], none_as({})] = Field(default_factory=dict)


@typed.dataclass(frozen=True, config=SETTINGS)
class Quality:
    min_pairwise_f1: Annotated[float, number(0, 1)] = 0.98


@dataclass(frozen=True)
class IdentityConfig:
    """What the engine reads: built from the file (:class:`IdentityFile`), by hand in tests and
    benchmarks (``dataclasses.replace``), and fingerprinted field by field (run.fingerprint)."""

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


@typed.dataclass(frozen=True, config=SETTINGS)
class IdentityFile:
    """``identity.yaml`` as written. ``pins`` needs the kinds, readings and placeholders the rest of
    the file declares: :func:`load_identity_config` reads it as :class:`Pins` with them as context."""

    attribute_kinds: Annotated[dict[str, KindSpec], named()] = Field(default_factory=dict)
    rules: Annotated[tuple[StitchRule, ...], none_as(())] = ()
    guards: Annotated[Guards, none_as({})] = Field(default_factory=Guards)
    matching: Annotated[MatchingConfig, none_as({})] = Field(default_factory=MatchingConfig)
    names: Annotated[Names, none_as({})] = Field(default_factory=Names)
    pins: Any = None  # read as Pins by load_identity_config, with this file's kinds as context
    review: Annotated[ReviewConfig, none_as({})] = Field(default_factory=ReviewConfig)
    incremental: Annotated[IncrementalConfig, none_as({})] = Field(default_factory=IncrementalConfig)
    quality: Annotated[Quality, none_as({})] = Field(default_factory=Quality)

    @model_validator(mode="after")
    def _kinds_declared(self) -> IdentityFile:
        """Rules link on strong kinds; blocking passes, name-frequency contexts and placeholders
        name declared kinds (a typo would silently never apply); a context kind is compared."""
        kinds = self.attribute_kinds
        for i, rule in enumerate(self.rules):
            for kind in rule.kinds:
                if kind not in kinds or kinds[kind].strength != "strong":
                    raise problem(f"'{kind}' is not a strong attribute kind", at=f"rules[{i}].kinds")
        named_kinds = [
            *(
                (k, f"matching.blocking[{i}]")
                for i, block in enumerate(self.matching.blocking)
                for k in block
            ),
            *((k, "matching.term_frequency_context") for k in self.matching.term_frequency_context),
            *((k, f"guards.blocked_values.{k}") for k in self.guards.blocked_values),
        ]
        for kind, key in named_kinds:
            if kind not in kinds:
                raise problem(f"'{kind}' is not a declared attribute kind", at=key)
        for kind in self.matching.term_frequency_context:
            if not kinds[kind].compare:
                raise problem(f"'{kind}' is not compared (no compare:)", at="matching.term_frequency_context")
        return self

    def config(self) -> IdentityConfig:
        """The settings the engine reads, without pins (see :func:`load_identity_config`)."""
        return IdentityConfig(
            {name: spec.kind() for name, spec in self.attribute_kinds.items()},
            self.rules,
            dict(self.guards.blocked_values),
            self.guards.max_partner_values,
            max_cluster_records=self.guards.max_cluster_records,
            owner_share=self.guards.owner_share,
            matching=self.matching,
            surname_readings=dict(self.names.surname_readings),
            quality_floor_f1=self.quality.min_pairwise_f1,
            incremental=self.incremental,
            review=self.review,
        )


def load_identity_config(path: Path | None = None) -> IdentityConfig:
    """The settings in the YAML file ``path`` (default: the deployment's ``identity.yaml``)."""
    path = path or CONFIG_DIR / "identity.yaml"
    raw = read_yaml(path)
    config = validated(path, IdentityFile, raw).config()
    context = pin_context(config.attribute_kinds, config.surname_readings, config.blocked_values)
    pins = validated(path, Pins, {} if raw.get("pins") is None else raw["pins"], "pins", context=context)
    return dataclasses.replace(config, pins=pins)


@cache
def identity_config() -> IdentityConfig:
    """The deployment's identity settings, loaded once per process."""
    return load_identity_config()
