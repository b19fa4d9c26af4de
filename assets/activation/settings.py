"""The activation settings of a deployment: consent purposes (``config/consent.yaml``) and the
destinations audiences are delivered to (``config/audiences.yaml`` ``destinations:``).

A purpose's basis decides what no record means: ``opt_in`` purposes (marketing SMS, WeChat
messages, ad personalisation, data sharing under PIPL) default to no, ``opt_out`` ones to yes.
A destination lists the files it takes, each one identifier type spelled and hashed the
platform's way (see :mod:`assets.activation.identifiers`), or is a CRM list of masked fields."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assets.activation.identifiers import ALGORITHMS, CASES, ID_TYPES
from assets.common.configuration import ConfigError, choice, read_yaml
from assets.common.paths import CONFIG_DIR

BASES = {"opt_in", "opt_out"}
FORMATS = {"id_list", "crm_list"}
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Purpose:
    name: str
    basis: str  # opt_in: no record means no; opt_out: no record means yes
    description: str = ""

    @property
    def default_granted(self) -> bool:
        return self.basis == "opt_out"


@dataclass(frozen=True)
class IdFile:
    """One file of a destination: one identifier type, spelled and hashed as the platform asks."""

    name: str
    id_type: str
    hash: str = "md5"
    case: str = "lower"
    namespace: str | None = None  # platform ids: only this namespace (a WeChat official account)


@dataclass(frozen=True)
class Destination:
    name: str
    format: str  # id_list: one identifier per line and file; crm_list: one CSV of masked fields
    description: str = ""
    files: tuple[IdFile, ...] = ()
    header: bool = False  # id_list: first line names the id type
    extension: str = "txt"


def _name(path: Path, where: str, value: Any) -> str:
    if not isinstance(value, str) or not NAME.match(value):
        raise ConfigError(path, where, f"letters, digits and _ only, starting with a letter; got {value!r}")
    return value


def load_purposes(path: Path) -> dict[str, Purpose]:
    raw = read_yaml(path).get("purposes")
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(path, "purposes", "declare the consent purposes: {name: {basis: opt_in | opt_out}}")
    purposes = {}
    for name, spec in raw.items():
        where = f"purposes.{name}"
        if not isinstance(spec, dict):
            raise ConfigError(path, where, "expected {basis: opt_in | opt_out, description: …}")
        purposes[name] = Purpose(_name(path, where, name), choice(path, f"{where}.basis", spec.get("basis"), BASES),
                                 str(spec.get("description", "")).strip())
    return purposes


def _id_file(path: Path, where: str, spec: Any) -> IdFile:
    if not isinstance(spec, dict):
        raise ConfigError(path, where, "expected {name, id, hash, case}")
    return IdFile(_name(path, f"{where}.name", spec.get("name")), choice(path, f"{where}.id", spec.get("id"), ID_TYPES),
                  choice(path, f"{where}.hash", spec.get("hash", "md5"), ALGORITHMS),
                  choice(path, f"{where}.case", spec.get("case", "lower"), CASES),
                  str(spec["namespace"]) if spec.get("namespace") else None)


def load_destinations(path: Path) -> dict[str, Destination]:
    raw = read_yaml(path).get("destinations") or {}
    if not isinstance(raw, dict):
        raise ConfigError(path, "destinations", "expected a mapping {name: {format, files}}")
    destinations = {}
    for name, spec in raw.items():
        where = f"destinations.{name}"
        if not isinstance(spec, dict):
            raise ConfigError(path, where, "expected {format: id_list | crm_list, files: [...]}")
        fmt = choice(path, f"{where}.format", spec.get("format"), FORMATS)
        files = tuple(_id_file(path, f"{where}.files[{i}]", f) for i, f in enumerate(spec.get("files") or ()))
        if fmt == "id_list" and not files:
            raise ConfigError(path, f"{where}.files", "an id_list destination needs at least one file")
        destinations[name] = Destination(_name(path, where, name), fmt, str(spec.get("description", "")).strip(),
                                         files, bool(spec.get("header", False)), str(spec.get("extension", "txt")))
    return destinations


AUDIENCE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Audience:
    """A segment to activate. ``purpose``: the consent it needs (members without it are excluded);
    ``destinations``: where it is delivered. An audience without a purpose is for analysis only."""

    name: str
    description: str
    sql: str  # a query over the warehouse's marts returning a unified_id column
    purpose: str | None = None
    destinations: tuple[str, ...] = ()


def _audience(path: Path, where: str, entry: Any, purposes: dict[str, Purpose],
              destinations: dict[str, Destination]) -> Audience:
    if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) and entry[k].strip()
                                              for k in ("name", "description", "sql")):
        raise ConfigError(path, where, "needs non-empty `name`, `description` and `sql`")
    if not AUDIENCE_NAME.match(entry["name"]):
        raise ConfigError(path, where, f"name {entry['name']!r}: lower-case letters, digits and _ only")
    purpose = entry.get("purpose")
    if purpose is not None and purpose not in purposes:
        raise ConfigError(path, f"{where}.purpose", f"{purpose!r} is not a purpose of consent.yaml: {sorted(purposes)}")
    targets = entry.get("destinations") or []
    if not isinstance(targets, list):
        raise ConfigError(path, f"{where}.destinations", "expected a list of destination names")
    for target in targets:
        if target not in destinations:
            raise ConfigError(path, f"{where}.destinations", f"{target!r} is not declared: {sorted(destinations)}")
    if targets and purpose is None:
        raise ConfigError(path, f"{where}.purpose", "an audience sent to destinations must declare its consent purpose")
    return Audience(entry["name"], entry["description"].strip(), entry["sql"].strip().rstrip(";"), purpose,
                    tuple(targets))


def load_audiences(path: Path, purposes: dict[str, Purpose] | None = None,
                   destinations: dict[str, Destination] | None = None) -> tuple[Audience, ...]:
    """Audiences from config/audiences.yaml: adding one is adding an entry."""
    raw = read_yaml(path).get("audiences")
    if not isinstance(raw, list) or not raw:
        raise ConfigError(path, "audiences", "declare a list of audiences ({name, description, sql})")
    audiences: list[Audience] = []
    for i, entry in enumerate(raw):
        audience = _audience(path, f"audiences[{i}]", entry, purposes or {}, destinations or {})
        if any(a.name == audience.name for a in audiences):
            raise ConfigError(path, f"audiences[{i}]", f"name {audience.name!r} is declared twice")
        audiences.append(audience)
    return tuple(audiences)


@dataclass(frozen=True)
class ActivationConfig:
    """Consent purposes, destinations and audiences: what may be sent where, for whom."""

    purposes: dict[str, Purpose]
    destinations: dict[str, Destination]
    audiences: tuple[Audience, ...]


def load_activation_config(audiences_path: Path | None = None) -> ActivationConfig:
    """The deployment's ``audiences.yaml`` (destinations and audiences) and the ``consent.yaml``
    beside it (optional: without it no purpose is declared, and no audience can be activated)."""
    audiences_path = audiences_path or CONFIG_DIR / "audiences.yaml"
    consent = audiences_path.with_name("consent.yaml")
    purposes = load_purposes(consent) if consent.exists() else {}
    destinations = load_destinations(audiences_path)
    return ActivationConfig(purposes, destinations, load_audiences(audiences_path, purposes, destinations))
