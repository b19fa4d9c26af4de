"""Reading a deployment's YAML configuration with errors a data engineer can act on.

Every stage declares its settings in YAML; a mistake must say ``file:line: key: problem`` so the
YAML can be fixed without reading Python. This module is the one place that knows how: the stage
packages and the orchestration layer (``pipelines/``) both use it, so it depends on neither."""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Iterable
from datetime import date, datetime
from functools import cache
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, TypeVar, Union, cast, get_args, get_origin

import yaml
from pydantic import BeforeValidator, ConfigDict, PlainValidator, Strict, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

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


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML file's top-level mapping; a missing file or invalid YAML is a :class:`ConfigError`."""
    if not path.exists():
        raise ConfigError(path, "file", "not found; copy it from the repository's config/ folder")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        raise ConfigError(
            path,
            where,
            f"invalid YAML ({getattr(exc, 'problem', exc)})",
            line=mark.line + 1 if mark else None,
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(path, "top level", "expected a mapping")
    return data


def choice(path: Path, where: str, value: Any, allowed: set[str]) -> str:
    if value not in allowed:
        raise ConfigError(path, where, f"must be one of {sorted(allowed)}, got {value!r}")
    return value


def whole_number(path: Path, where: str, value: Any, minimum: int = 0) -> int:
    """An integer setting; booleans and floats are refused rather than silently truncated."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(path, where, f"must be a whole number >= {minimum}, got {value!r}")
    return value


def scalar_text(value: Any) -> str:
    """YAML reads `Y` / `yes` / `true` as booleans; a partner's spelling is what we want back."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- typed settings --------------------------------------------------------------------------------------
# A stage declares its settings as a frozen pydantic dataclass (positional construction, ``replace`` and
# ``asdict`` keep working for the code and tests that build them by hand) and loads YAML with
# ``validated``, which turns pydantic's first error into the same ``file:line: key: problem`` as the
# hand-written checks above. Field types carry their message: ``Annotated[int, whole(1)]``,
# ``Annotated[str, one_of(KINDS)]``; a cross-field check raises ``problem(message, at="sub.key")``.
# ``validated`` takes any type pydantic validates (a BaseModel, a dataclass, ``dict[str, Entry]``).

SETTINGS = ConfigDict(
    extra="forbid", coerce_numbers_to_str=True, validate_by_name=True, validate_by_alias=True
)
"""Unknown keys are mistakes (a typo must not silently fall back to a default); YAML numbers are
accepted where text is expected (``sheet: 2024``); a field whose YAML key differs (``map`` for
``value_map``) is built by its Python name in code."""

T = TypeVar("T")
PROBLEM = "config"
"""The error type of :func:`problem`: its message is the one shown, ``at`` extends the key path."""


def problem(message: str, at: str = "") -> PydanticCustomError:
    """An error a validator raises with the exact wording to show; ``at`` is the key below the
    validated object it is about (``"purpose"``, ``"files[0].widths"``), so the line is that key's."""
    return PydanticCustomError(PROBLEM, message, {"at": at})


def fail_unless(ok: bool, value: Any, message: str) -> Any:
    """``value`` if ``ok``, else the problem "``message``, got ``value``" (the wording of every check)."""
    if not ok:
        raise problem(f"{message}, got {value!r}")
    return value


def whole(minimum: int = 0, maximum: int | None = None) -> PlainValidator:
    """An integer field; booleans and floats are refused rather than silently truncated."""
    bounds = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"

    def check(value: Any) -> int:
        ok = (
            not isinstance(value, bool)
            and isinstance(value, int)
            and value >= minimum
            and (maximum is None or value <= maximum)
        )
        return cast(int, fail_unless(ok, value, f"must be a whole number {bounds}"))

    return PlainValidator(check)


def number(
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    exact: bool = False,
) -> PlainValidator:
    """A finite number, optionally within bounds; booleans and text are refused. ``exact``: a YAML
    integer stays an integer (for values written into SQL as the deployment wrote them)."""
    interval = (
        f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        if low is not None and high is not None
        else f" {'>' if low_open else '>='} {low:g}"
        if low is not None
        else f" {'<' if high_open else '<='} {high:g}"
        if high is not None
        else ""
    )

    def check(value: Any) -> float:
        ok = (
            not isinstance(value, bool)
            and isinstance(value, (int, float))
            and math.isfinite(value)
            and (low is None or (value > low if low_open else value >= low))
            and (high is None or (value < high if high_open else value <= high))
        )
        fail_unless(ok, value, f"must be a number{interval}")
        return cast(float, value) if exact else float(value)

    return PlainValidator(check)


def one_of(allowed: Iterable[str]) -> PlainValidator:
    values = frozenset(allowed)
    return PlainValidator(
        lambda v: fail_unless(isinstance(v, str) and v in values, v, f"must be one of {sorted(values)}")
    )


def a_date(alternative: str = "", hint: str = "") -> PlainValidator:
    """A YAML date or a YYYY-MM-DD text (quoted dates stay text in YAML); ``alternative`` names what
    else the key takes (" or null"), ``hint`` what to do instead."""

    def check(value: Any) -> date:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        try:
            if isinstance(value, str):
                return date.fromisoformat(value)
        except ValueError:
            pass
        raise problem(f"must be a date (YYYY-MM-DD){alternative}, got {value!r}{hint}")

    return PlainValidator(check)


def texts(allow_empty: bool = False) -> BeforeValidator:
    """One value or a list of values, read as text (YAML scalars as the partner wrote them: `Y`, `1`,
    `是`); ``allow_empty``: none (null or ``[]``) is a choice, such as "every event type"."""

    def check(value: Any) -> tuple[str, ...]:
        if allow_empty and value in (None, [], ()):
            return ()
        values = value if isinstance(value, (list, tuple)) else [value]
        if not values or any(v is None or isinstance(v, (dict, list)) for v in values):
            raise problem(f"expected a value or a list of values, got {value!r}")
        return tuple(scalar_text(v) for v in values)

    return BeforeValidator(check)


def required(message: str) -> BeforeValidator:
    """A collection that must not be empty (or left out, with ``Field(validate_default=True)``);
    ``message`` says what to declare."""

    def check(value: Any) -> Any:
        if value is None or (isinstance(value, (list, tuple, dict, str)) and not value):
            raise problem(message)
        return value

    return BeforeValidator(check)


FROM_KEY = "the entry's key in its YAML mapping"
"""The description of a field :func:`named` fills from the mapping's key (``Field(description=FROM_KEY)``),
so the keys a mistake lists are the ones to write."""


def named(
    field: str = "name",
    pattern: re.Pattern[str] | None = None,
    rule: str = "",
    empty: str | None = None,
    shorthand: str | None = None,
) -> BeforeValidator:
    """A mapping ``{name: {...}}`` whose keys are the entries' names: each entry gets its key as
    ``field``, so the typed entry carries it. A key that does not match ``pattern`` is refused with
    ``rule``; ``empty`` (if given) is the message for no entries at all; ``shorthand``: the key a
    bare value stands for (``phone: mobile`` is ``phone: {kind: mobile}``)."""

    def check(value: Any) -> Any:
        if empty and not value:
            raise problem(empty)
        if not isinstance(value, dict):
            return {} if value is None else value
        entries = {}
        for key, spec in value.items():
            if pattern and not (isinstance(key, str) and pattern.match(key)):
                raise problem(f"{rule}, got {key!r}", at=str(key))
            spec = {shorthand: spec} if shorthand and not isinstance(spec, (dict, list)) else spec
            entries[key] = {**spec, field: key} if isinstance(spec, dict) else spec
        return entries

    return BeforeValidator(check)


def matching(pattern: re.Pattern[str], rule: str) -> PlainValidator:
    """A text that matches ``pattern`` (a name used in file and table names); ``rule`` says how."""
    return PlainValidator(lambda v: fail_unless(isinstance(v, str) and bool(pattern.match(v)), v, rule))


def stripped(value: Any) -> Any:
    """Text without the surrounding blanks a YAML block scalar leaves."""
    return value.strip() if isinstance(value, str) else value


def none_as(empty: Any) -> BeforeValidator:
    """A key written with nothing under it (``guards:``, ``blocking:``) takes ``empty``, which the
    field's type then reads as its defaults (``{}``) or as no entries (``()``)."""
    return BeforeValidator(lambda value: empty if value is None else value)


EmptyIsNone = BeforeValidator(lambda value: value or None)
"""An optional text left empty (``namespace: ''``) is not declared."""

Flag = Annotated[bool, Strict()]
"""``true`` / ``false`` only: ``header: 1`` or ``enabled: "no"`` is a mistake, not a truthy value."""


@cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def validated(
    path: Path, kind: type[T], raw: Any, where: str = "", context: dict[str, Any] | None = None
) -> T:
    """``raw`` (a YAML mapping at key path ``where``) as a ``kind``; the first mistake is a
    :class:`ConfigError` at the line of its key. ``context`` reaches validators that need more than
    the mapping (the attribute kinds another file declares)."""
    try:
        return cast(T, _adapter(cast(Hashable, kind)).validate_python(raw, context=context))
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        unknown = [e for e in errors if e["type"] in UNKNOWN_KEY]  # a misspelt key also leaves one missing
        error = (unknown or errors)[0]
        key, message = _explain(kind, error)
        if not where and not key and error["type"] == "missing":  # a whole section of the file
            key, message = str(error["loc"][-1]), "missing; copy it from the repository's config/ folder"
        raise ConfigError(path, _join(where, key) or "top level", message) from None


def _explain(kind: Any, error: ErrorDetails) -> tuple[str, str]:
    """The key path and the problem of one pydantic error, worded like the hand-written checks."""
    loc, kind_of_error, value = list(error["loc"]), error["type"], error.get("input")
    if kind_of_error == PROBLEM:
        return _join(_dotted(loc), (error.get("ctx") or {}).get("at", "")), error["msg"]
    if kind_of_error == "missing":
        return _dotted(loc[:-1]), f"missing required key '{loc[-1]}'"
    if kind_of_error in UNKNOWN_KEY:
        return _dotted(loc), f"unknown key; expected one of {sorted(_keys_at(kind, loc[:-1]))}"
    if kind_of_error == "too_short" and isinstance(value, str):  # a length bound outside the str schema
        kind_of_error = "string_too_short"
    message = BUILT_IN_PROBLEMS.get(kind_of_error)
    keys = _keys_at(kind, loc) if message == "expected a mapping" else []
    message = f"{message} with {', '.join(keys)}" if keys else message
    if message is None:
        text = error["msg"].removeprefix("Value error, ")
        message = text[:1].lower() + text[1:]
    return _dotted(loc), f"{message}, got {value!r}" if kind_of_error != "value_error" else message


UNKNOWN_KEY = ("unexpected_keyword_argument", "extra_forbidden")
BUILT_IN_PROBLEMS = {
    **dict.fromkeys(("int_type", "int_parsing", "int_from_float"), "must be a whole number"),
    **dict.fromkeys(("float_type", "float_parsing", "finite_number"), "must be a number"),
    **dict.fromkeys(("bool_type", "bool_parsing"), "must be true or false"),
    "string_type": "must be text",
    "string_too_short": "must be a non-empty text",
    **dict.fromkeys(
        ("dataclass_type", "dict_type", "model_type", "mapping_type", "dataclass_exact_type"),
        "expected a mapping",
    ),
    **dict.fromkeys(("list_type", "tuple_type", "iterable_type"), "expected a list"),
    "too_short": "expected a non-empty list",
}


def _dotted(loc: list[Any]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")


def _join(*parts: str) -> str:
    return ".".join(filter(None, parts)).replace(".[", "[")


def _keys_at(kind: Any, loc: list[Any]) -> list[str]:
    """The keys the settings type at ``loc`` takes (in declaration order), following fields, list
    items and mapping values."""
    for part in [*loc, None]:
        while get_origin(kind) in (Annotated, Union, UnionType):
            kind = next(a for a in get_args(kind) if a is not type(None))
        fields = getattr(kind, "__pydantic_fields__", None)
        if part is None:
            return [
                info.alias or name for name, info in (fields or {}).items() if info.description != FROM_KEY
            ]
        if fields is not None:
            kind = next(
                (info.annotation for name, info in fields.items() if part in (name, info.alias)), None
            )
        else:
            args = get_args(kind)
            kind = (args[-1] if get_origin(kind) is dict else args[0]) if args else None
        if kind is None:  # a path pydantic built that no field declares: list no keys rather than wrong ones
            return []
    return []
