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
configuration mistake rather than a pin that silently never applies."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assets.common.configuration import ConfigError, whole_number

PIN_KINDS = ("must_link", "cannot_link")
RECORD_KEYS, IDENTIFIER_KEYS = {"source", "record_id"}, {"kind", "value", "namespace"}


@dataclass(frozen=True)
class PinSide:
    """One record (source, record_id) or every record holding one identifier (kind, namespace, key);
    ``key`` is normalised but not hashed: hashed kinds are hashed with the salt at run time."""

    source: str | None = None
    record_id: str | None = None
    kind: str | None = None
    namespace: str = ""
    key: str | None = None

    def describe(self) -> str:
        """How history and errors name the side: a record by its keys, an identifier by its kind
        only (its value is personal data and never leaves the configuration)."""
        return f"{self.source}:{self.record_id}" if self.source is not None else f"a {self.kind} value"


@dataclass(frozen=True)
class Pin:
    decision: str  # must_link | cannot_link
    index: int  # its position in pins.<decision>, as the history names it
    a: PinSide
    b: PinSide
    note: str = ""

    @property
    def where(self) -> str:
        return f"pins.{self.decision}[{self.index}]"


@dataclass(frozen=True)
class Pins:
    must_link: tuple[Pin, ...] = ()
    cannot_link: tuple[Pin, ...] = ()

    @property
    def all(self) -> tuple[Pin, ...]:
        return self.must_link + self.cannot_link


@dataclass(frozen=True)
class ReviewConfig:
    """What the review queue and the threshold figures keep of the scored candidate pairs."""

    pairs: int = 50  # the review queue lists up to this many accepted and this many rejected pairs
    margin_bits: float = 2.0  # "just above / below the threshold": within this many bits of evidence
    floor: float = 0.01  # candidate pairs scored below this are not kept (nobody needs to review them)
    max_candidates: int = 20000  # at most this many rejected pairs are kept, the highest scored
    thresholds: tuple[float, ...] = field(
        default=(0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
    )


def load_pins(
    path: Path,
    raw: Any,
    kinds: dict[str, Any],
    surname_readings: dict[str, str],
    blocked: dict[str, frozenset[str]],
) -> Pins:
    """The ``pins`` section; ``kinds``: the declared attribute kinds (settings.AttributeKind)."""
    if raw is None:
        return Pins()
    if not isinstance(raw, dict) or set(raw) - set(PIN_KINDS):
        raise ConfigError(path, "pins", f"expected a mapping with {' and/or '.join(PIN_KINDS)}, got {raw!r}")
    pins = {}
    for decision in PIN_KINDS:
        entries = raw.get(decision) or []
        if not isinstance(entries, list):
            raise ConfigError(path, f"pins.{decision}", f"expected a list of pairs, got {entries!r}")
        pins[decision] = tuple(
            _pin(path, decision, i, entry, kinds, surname_readings, blocked)
            for i, entry in enumerate(entries)
        )
    _refuse_contradictions(path, pins["must_link"], pins["cannot_link"])
    return Pins(pins["must_link"], pins["cannot_link"])


def _pin(
    path: Path,
    decision: str,
    index: int,
    entry: Any,
    kinds: dict[str, Any],
    surname_readings: dict[str, str],
    blocked: dict[str, frozenset[str]],
) -> Pin:
    where = f"pins.{decision}[{index}]"
    if not isinstance(entry, dict) or not {"a", "b"} <= set(entry) or set(entry) - {"a", "b", "note"}:
        raise ConfigError(path, where, f"expected {{a: side, b: side, note: text (optional)}}, got {entry!r}")
    a = _side(path, f"{where}.a", entry["a"], kinds, surname_readings, blocked)
    b = _side(path, f"{where}.b", entry["b"], kinds, surname_readings, blocked)
    if a == b:
        raise ConfigError(path, where, "a and b are the same record or identifier")
    return Pin(decision, index, a, b, str(entry.get("note") or ""))


def _side(
    path: Path,
    where: str,
    raw: Any,
    kinds: dict[str, Any],
    surname_readings: dict[str, str],
    blocked: dict[str, frozenset[str]],
) -> PinSide:
    keys = set(raw) if isinstance(raw, dict) else set()
    if keys == RECORD_KEYS and all(raw[k] not in (None, "") for k in keys):
        return PinSide(source=str(raw["source"]), record_id=str(raw["record_id"]))
    if not ({"kind", "value"} <= keys <= IDENTIFIER_KEYS) or raw["value"] in (None, ""):
        raise ConfigError(
            path, where, f"expected {{source, record_id}} or {{kind, value, namespace}}, got {raw!r}"
        )
    kind = kinds.get(raw["kind"])
    if kind is None:
        raise ConfigError(path, f"{where}.kind", f"'{raw['kind']}' is not a declared attribute kind")
    namespace = str(raw.get("namespace") or "")
    if kind.namespaced != bool(namespace):
        problem = "needs a namespace" if kind.namespaced else "takes no namespace"
        raise ConfigError(
            path, f"{where}.namespace", f"'{kind.name}' {problem} (attribute_kinds.{kind.name})"
        )
    # imported here: every configuration check reads these settings, and only identifier pins
    # need the normalisers' libraries (phonenumbers, opencc, pypinyin)
    from assets.identity.normalize import normaliser_for

    normalise = normaliser_for(kind.normalise, surname_readings)
    key = normalise(str(raw["value"]))
    if key is None:
        raise ConfigError(
            path, f"{where}.value", f"does not normalise to a {kind.name} key ({kind.normalise})"
        )
    if key in {normalise(v) or v for v in blocked.get(kind.name, ())}:
        raise ConfigError(path, f"{where}.value", f"is a placeholder in guards.blocked_values.{kind.name}")
    return PinSide(kind=kind.name, namespace=namespace, key=key)


def _refuse_contradictions(path: Path, must: tuple[Pin, ...], cannot: tuple[Pin, ...]) -> None:
    """The same two sides both must and cannot link: the second one written is the mistake."""
    linked = {frozenset((p.a, p.b)): p for p in must}
    for pin in cannot:
        other = linked.get(frozenset((pin.a, pin.b)))
        if other is not None:
            raise ConfigError(path, pin.where, f"contradicts {other.where}: the same two sides")


def load_review(path: Path, raw: Any) -> ReviewConfig:
    """The ``review`` section."""
    raw = raw or {}
    if not isinstance(raw, dict) or set(raw) - {"pairs", "margin_bits", "floor", "max_candidates"}:
        raise ConfigError(path, "review", f"expected pairs, margin_bits, floor, max_candidates; got {raw!r}")
    margin, floor = raw.get("margin_bits", 2.0), raw.get("floor", 0.01)
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or margin <= 0:
        raise ConfigError(path, "review.margin_bits", f"must be a number of bits > 0, got {margin!r}")
    if isinstance(floor, bool) or not isinstance(floor, (int, float)) or not 0 < floor < 1:
        raise ConfigError(path, "review.floor", f"must be a probability between 0 and 1, got {floor!r}")
    return ReviewConfig(
        whole_number(path, "review.pairs", raw.get("pairs", 50), minimum=1),
        float(margin),
        float(floor),
        whole_number(path, "review.max_candidates", raw.get("max_candidates", 20000), minimum=1),
    )
