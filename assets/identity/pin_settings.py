"""Pinned decisions: the ``pins`` section of ``identity.yaml``, and the ``review`` section that
bounds what the review queue and the threshold figures keep.

A reviewer who looked at two records and knows the answer writes it down once::

    pins:
      must_link:
        - {a: {source: crm, record_id: "C-1"}, b: {source: pos, record_id: "P-9"}, note: "ticket 41"}
      cannot_link:
        - {a: {kind: mobile, value: "139 1234 5678"}, b: {source: crm, record_id: "C-7"}}

A side names one record (``source`` + ``record_id``) or every record holding one identifier
(``kind`` + ``value``, with ``namespace`` for namespaced kinds). Identifier values are normalised
here the way the engine normalises their kind, so a pin written as ``+86 139-1234-5678`` finds the
records holding ``13912345678``; a value that does not normalise, or that the guards block, is a
configuration mistake rather than a pin that silently never applies.

The types are pydantic dataclasses read through :func:`~assets.common.configuration.validated`, so
every mistake is ``file:line: key: problem``. Resolving an identifier side needs what the rest of
``identity.yaml`` declares (the attribute kinds, surname readings and placeholders): the loader
passes them as the validation context (:func:`pin_context`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import ValidationInfo, model_validator
from pydantic.dataclasses import dataclass
from pydantic_core import ArgsKwargs

from assets.common.configuration import SETTINGS, none_as, number, problem, scalar_text, whole

PIN_KINDS = ("must_link", "cannot_link")
RECORD_KEYS, IDENTIFIER_KEYS = {"source", "record_id"}, {"kind", "value", "namespace"}
PIN_SHAPE = "expected {a: side, b: side, note: text (optional)}"
SIDE_SHAPE = "expected {source, record_id} or {kind, value, namespace}"


@dataclass(frozen=True, config=SETTINGS)
class PinSide:
    """One record (source, record_id) or every record holding one identifier (kind, namespace, key);
    ``key`` is normalised but not hashed: hashed kinds are hashed with the salt at run time. Written
    in YAML as ``{source, record_id}`` or ``{kind, value, namespace}``: the value becomes the key."""

    source: str | None = None
    record_id: str | None = None
    kind: str | None = None
    namespace: str = ""
    key: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _as_written(cls, raw: Any, info: ValidationInfo) -> Any:
        """A side as YAML writes it; built in code (``ArgsKwargs``), it is taken as given."""
        if isinstance(raw, ArgsKwargs):
            return raw
        keys = set(raw) if isinstance(raw, dict) else set()
        if keys == RECORD_KEYS and all(raw[k] not in (None, "") for k in keys):
            return raw
        if not ({"kind", "value"} <= keys <= IDENTIFIER_KEYS) or raw["value"] in (None, ""):
            raise problem(f"{SIDE_SHAPE}, got {raw!r}")
        return _identifier(raw, info.context or {})

    def describe(self) -> str:
        """How history and errors name the side: a record by its keys, an identifier by its kind
        only (its value is personal data and never leaves the configuration)."""
        return f"{self.source}:{self.record_id}" if self.source is not None else f"a {self.kind} value"


def pin_context(
    kinds: Mapping[str, Any], surname_readings: dict[str, str], blocked: dict[str, frozenset[str]]
) -> dict[str, Any]:
    """What an identifier side is checked and normalised with: the declared attribute kinds
    (settings.AttributeKind), the surname readings and the placeholders of ``identity.yaml``."""
    return {"kinds": kinds, "surname_readings": surname_readings, "blocked": blocked}


def _identifier(raw: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """The fields of an identifier side: its kind declared, a namespace exactly when the kind is
    namespaced, and a value that normalises to a key which is no placeholder."""
    name = raw["kind"]
    kind = context.get("kinds", {}).get(name) if isinstance(name, str) else None
    if kind is None:
        raise problem(f"{name!r} is not a declared attribute kind", at="kind")
    namespace = "" if raw.get("namespace") in (None, "") else scalar_text(raw["namespace"])
    if kind.namespaced != bool(namespace):
        needs = "needs a namespace" if kind.namespaced else "takes no namespace"
        raise problem(f"'{kind.name}' {needs} (attribute_kinds.{kind.name})", at="namespace")
    value = raw["value"]
    if isinstance(value, (dict, list)):
        raise problem(f"must be text, got {value!r}", at="value")
    # imported here: every configuration check reads these settings, and only identifier pins
    # need the normalisers' libraries (phonenumbers, opencc, pypinyin)
    from assets.identity.normalize import normaliser_for

    normalise = normaliser_for(kind.normalise, context.get("surname_readings"))
    key = normalise(scalar_text(value))
    if key is None:
        raise problem(f"does not normalise to a {kind.name} key ({kind.normalise})", at="value")
    if key in {normalise(v) or v for v in context.get("blocked", {}).get(kind.name, ())}:
        raise problem(f"is a placeholder in guards.blocked_values.{kind.name}", at="value")
    return {"kind": kind.name, "namespace": namespace, "key": key}


@dataclass(frozen=True, config=SETTINGS)
class Pin:
    """One entry of ``pins.<decision>``; ``decision`` and ``index`` come from where it is written."""

    decision: str  # must_link | cannot_link
    index: int  # its position in pins.<decision>, as the history names it
    a: PinSide
    b: PinSide
    note: Annotated[str, none_as("")] = ""

    @property
    def where(self) -> str:
        return f"pins.{self.decision}[{self.index}]"

    @model_validator(mode="after")
    def _two_sides(self) -> Pin:
        if self.a == self.b:
            raise problem("a and b are the same record or identifier")
        return self


@dataclass(frozen=True, config=SETTINGS)
class Pins:
    """The ``pins`` section: a list of pairs under must_link and / or cannot_link."""

    must_link: tuple[Pin, ...] = ()
    cannot_link: tuple[Pin, ...] = ()

    @property
    def all(self) -> tuple[Pin, ...]:
        return self.must_link + self.cannot_link

    @model_validator(mode="before")
    @classmethod
    def _numbered(cls, raw: Any) -> Any:
        """Each entry, of the shape a pin takes, with its decision and its position."""
        if isinstance(raw, ArgsKwargs):
            return raw
        if not isinstance(raw, dict) or set(raw) - set(PIN_KINDS):
            raise problem(f"expected a mapping with {' and/or '.join(PIN_KINDS)}, got {raw!r}")
        numbered = {}
        for decision in PIN_KINDS:
            entries = raw.get(decision) or []
            if not isinstance(entries, list):
                raise problem(f"expected a list of pairs, got {entries!r}", at=decision)
            for i, entry in enumerate(entries):
                if (
                    not isinstance(entry, dict)
                    or not {"a", "b"} <= set(entry)
                    or set(entry) - {"a", "b", "note"}
                ):
                    raise problem(f"{PIN_SHAPE}, got {entry!r}", at=f"{decision}[{i}]")
            numbered[decision] = [{**e, "decision": decision, "index": i} for i, e in enumerate(entries)]
        return numbered

    @model_validator(mode="after")
    def _no_contradictions(self) -> Pins:
        """The same two sides both must and cannot link: the second one written is the mistake."""
        linked = {frozenset((p.a, p.b)): p for p in self.must_link}
        for pin in self.cannot_link:
            other = linked.get(frozenset((pin.a, pin.b)))
            if other is not None:
                raise problem(
                    f"contradicts {other.where}: the same two sides", at=f"cannot_link[{pin.index}]"
                )
        return self


@dataclass(frozen=True, config=SETTINGS)
class ReviewConfig:
    """What the review queue and the threshold figures keep of the scored candidate pairs (the
    ``review`` section)."""

    pairs: Annotated[int, whole(1)] = 50  # the review queue lists up to this many accepted and rejected pairs
    margin_bits: Annotated[float, number(0, low_open=True)] = 2.0  # "near the threshold": within these bits
    floor: Annotated[float, number(0, 1, low_open=True, high_open=True)] = 0.01  # pairs below: not kept
    max_candidates: Annotated[int, whole(1)] = 20000  # at most this many rejected pairs kept, highest first
    thresholds: ClassVar[tuple[float, ...]] = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
    """The points of the precision / recall curve; not a setting."""
