"""The activation settings of a deployment: consent purposes (``config/consent.yaml``) and the
destinations audiences are delivered to (``config/audiences.yaml`` ``destinations:``).

A purpose's basis decides what no record means: ``opt_in`` purposes (marketing SMS, WeChat
messages, ad personalisation, data sharing under PIPL) default to no, ``opt_out`` ones to yes.
A destination lists the files it takes, each one identifier type spelled and hashed the
platform's way (see :mod:`assets.activation.identifiers`), or is a CRM list of masked fields."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, field_validator, model_validator
from pydantic.dataclasses import dataclass

from assets.activation.identifiers import ALGORITHMS, CASES, ID_TYPES
from assets.common.configuration import (
    FROM_KEY,
    SETTINGS,
    EmptyIsNone,
    Flag,
    matching,
    named,
    one_of,
    problem,
    read_yaml,
    required,
    stripped,
    validated,
)
from assets.common.paths import CONFIG_DIR

BASES = {"opt_in", "opt_out"}
FORMATS = {"id_list", "crm_list"}
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
NAME_RULE = "letters, digits and _ only, starting with a letter"
Text = Annotated[str, BeforeValidator(stripped)]


@dataclass(frozen=True, config=SETTINGS)
class Purpose:
    name: Annotated[str, Field(description=FROM_KEY)]
    basis: Annotated[str, one_of(BASES)]  # opt_in: no record means no; opt_out: no record means yes
    description: Text = ""

    @property
    def default_granted(self) -> bool:
        return self.basis == "opt_out"


@dataclass(frozen=True, config=SETTINGS)
class IdFile:
    """One file of a destination: one identifier type, spelled and hashed as the platform asks.
    ``namespace``: platform ids of this namespace only (a WeChat official account)."""

    name: Annotated[str, matching(NAME, NAME_RULE)]
    id_type: Annotated[str, one_of(ID_TYPES), Field(alias="id")]
    hash: Annotated[str, one_of(ALGORITHMS)] = "md5"
    case: Annotated[str, one_of(CASES)] = "lower"
    namespace: Annotated[str | None, EmptyIsNone] = None


@dataclass(frozen=True, config=SETTINGS)
class Destination:
    """``format``: id_list (one identifier per line and file) or crm_list (one CSV of masked
    fields); ``header``: an id_list's first line names the id type."""

    name: Annotated[str, Field(description=FROM_KEY)]
    format: Annotated[str, one_of(FORMATS)]
    description: Text = ""
    files: tuple[IdFile, ...] = ()
    header: Flag = False
    extension: str = "txt"

    @model_validator(mode="after")
    def _has_files(self) -> Destination:
        """An id_list destination is its files: without one, nothing would be delivered."""
        if self.format == "id_list" and not self.files:
            raise problem("an id_list destination needs at least one file", at="files")
        return self


PURPOSES = Annotated[
    dict[str, Purpose],
    named(
        pattern=NAME, rule=NAME_RULE, empty="declare the consent purposes: {name: {basis: opt_in | opt_out}}"
    ),
]
DESTINATIONS = Annotated[dict[str, Destination], named(pattern=NAME, rule=NAME_RULE)]


def load_purposes(path: Path) -> dict[str, Purpose]:
    return validated(path, PURPOSES, read_yaml(path).get("purposes"), "purposes")


def load_destinations(path: Path) -> dict[str, Destination]:
    return validated(path, DESTINATIONS, read_yaml(path).get("destinations"), "destinations")


AUDIENCE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
Statement = Annotated[
    str, BeforeValidator(stripped), Field(min_length=1), AfterValidator(lambda sql: sql.rstrip(";"))
]


@dataclass(frozen=True, config=SETTINGS)
class Audience:
    """A segment to activate. ``sql``: a query over the warehouse's marts returning a unified_id
    column; ``purpose``: the consent it needs (members without it are excluded); ``destinations``:
    where it is delivered. An audience without a purpose is for analysis only."""

    name: Annotated[str, matching(AUDIENCE_NAME, "must be lower-case letters, digits and _ only")]
    description: Annotated[Text, Field(min_length=1)]
    sql: Statement
    purpose: str | None = None
    destinations: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _declared(self, info: ValidationInfo) -> Audience:
        """Loaded from YAML, the purpose and destinations must be declared (``info.context``)."""
        context = info.context or {}
        purposes, destinations = context.get("purposes"), context.get("destinations")
        if purposes is not None and self.purpose is not None and self.purpose not in purposes:
            raise problem(
                f"{self.purpose!r} is not a purpose of consent.yaml: {sorted(purposes)}", at="purpose"
            )
        undeclared = [t for t in self.destinations if destinations is not None and t not in destinations]
        if undeclared:
            raise problem(
                f"{undeclared[0]!r} is not declared: {sorted(destinations or ())}", at="destinations"
            )
        if self.destinations and self.purpose is None:
            raise problem("an audience sent to destinations must declare its consent purpose", at="purpose")
        return self


AUDIENCES_NEEDED = "declare a list of audiences ({name, description, sql})"


@dataclass(frozen=True, config=SETTINGS)
class Audiences:
    """The ``audiences`` list: at least one, each name once."""

    audiences: Annotated[tuple[Audience, ...], required(AUDIENCES_NEEDED)]

    @field_validator("audiences")
    @classmethod
    def _once(cls, audiences: tuple[Audience, ...]) -> tuple[Audience, ...]:
        names = [a.name for a in audiences]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise problem(f"name {name!r} is declared twice", at=f"[{i}]")
        return audiences


def load_audiences(
    path: Path, purposes: dict[str, Purpose] | None = None, destinations: dict[str, Destination] | None = None
) -> tuple[Audience, ...]:
    """Audiences from config/audiences.yaml: adding one is adding an entry."""
    raw = {"audiences": read_yaml(path).get("audiences")}
    context = {"purposes": purposes or {}, "destinations": destinations or {}}
    return validated(path, Audiences, raw, context=context).audiences


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
