"""How a feed's files are shaped and how its values are written: the typed form of the ``files``
and ``columns`` entries of ``config/feeds.yaml``.

Partners send what their systems export: headerless logs aligned with spaces, fixed-width
mainframe extracts, Excel sheets with a title row, nested JSON, gzip or zip archives, dates as
``19970101`` or epoch milliseconds, money as ``¥1,234.50``. Each of those is declared here, per
file pattern and per column, so onboarding a partner is configuration, never a reshaping script."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field, PlainValidator, model_validator
from pydantic.dataclasses import dataclass
from pydantic_core import PydanticCustomError

from assets.common.configuration import (
    FROM_KEY,
    SETTINGS,
    ConfigError,
    EmptyIsNone,
    Flag,
    fail_unless,
    named,
    one_of,
    problem,
    scalar_text,
    texts,
    validated,
    whole,
)

COLUMN_TYPES = {"varchar", "integer", "double", "timestamp", "date", "boolean"}
FILE_FORMATS = {"csv", "tsv", "fixed_width", "jsonl", "json", "parquet", "xlsx", "xls"}
ENCODINGS = {"auto", "utf-8", "utf-8-sig", "gb18030", "gbk"}
COMPRESSIONS = {"auto", "none", "gzip", "zip"}
WHITESPACE = "whitespace"
"""``delimiter: whitespace``: fields separated by runs of spaces or tabs (aligned text logs)."""

SPECIAL_TIME_FORMATS = {"epoch_s", "epoch_ms", "excel"}
"""Time formats that are not strftime patterns: Unix seconds / milliseconds (UTC) and Excel serial
day numbers (days since 1899-12-30, fractions are the time of day)."""

TIMESTAMP_SOURCES = {"partition", "load_time"}
RECORD_ID_COLUMN = "_record_id"
"""The raw column holding a record id the loader derives (a hash of declared columns or of the row)."""
TIMESTAMP_COLUMN = "_timestamp"
"""The raw column holding a timestamp the loader derives (the delivery's day or the load time)."""
TRUE_WORDS = ("true", "t", "yes", "y", "1", "on", "是", "对", "真")
FALSE_WORDS = ("false", "f", "no", "n", "0", "off", "否", "错", "假")


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    """``map: {partner value: value}`` as pairs of text (YAML reads `Y` as true; the partner wrote `Y`)."""
    if isinstance(value, (list, tuple)):  # built in code
        return tuple((str(k), str(v)) for k, v in value)
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise problem(f"expected a mapping {{partner value: value}}, got {value!r}")
    return tuple((_text(k), _text(v)) for k, v in value.items())


def _text(value: Any) -> str:
    if value is None or isinstance(value, (dict, list)):
        raise problem(f"expected a value, got {value!r}")
    return scalar_text(value)


def _widths(value: Any) -> tuple[int, ...]:
    """Fixed-width column widths, each at least one character."""
    if not isinstance(value, (list, tuple)):
        raise problem(f"expected a list of widths, got {value!r}")
    widths = tuple(value)
    for width in widths:
        fail_unless(
            isinstance(width, int) and not isinstance(width, bool) and width >= 1,
            width,
            "must be a whole number >= 1",
        )
    return widths


def _delimiter(value: Any) -> str:
    return fail_unless(
        isinstance(value, str) and (len(value) == 1 or value == WHITESPACE),
        value,
        f"one character or '{WHITESPACE}'",
    )


def _separator(value: Any) -> str:
    return fail_unless(
        isinstance(value, str) and len(value) == 1, value, "expected one character such as ',' '.' or ' '"
    )


def _time_formats(formats: tuple[str, ...]) -> tuple[str, ...]:
    for fmt in formats:
        if fmt not in SPECIAL_TIME_FORMATS and "%" not in fmt:
            raise problem(
                f"{fmt!r} is neither a strftime pattern (e.g. '%Y%m%d') nor one of "
                f"{sorted(SPECIAL_TIME_FORMATS)}"
            )
    return formats


@dataclass(frozen=True, config=SETTINGS)
class FileSpec:
    """How the files matching ``pattern`` are written. ``columns`` gives the column order of files
    without a header line and of fixed-width files; ``paths`` maps columns to nested JSON fields
    (taken from the feed's columns, not written in the entry). ``header`` defaults to false for
    fixed-width files; ``tsv`` files are tab-delimited whatever ``delimiter`` says."""

    pattern: str = "*"
    format: Annotated[str, one_of(FILE_FORMATS)] = Field()  # type: ignore[misc]  # required; pydantic keeps the field order
    encoding: Annotated[str, one_of(ENCODINGS)] = "auto"
    delimiter: Annotated[str, PlainValidator(_delimiter)] = ","
    header: Flag = True
    columns: tuple[str, ...] = ()
    widths: Annotated[tuple[int, ...], PlainValidator(_widths)] = ()
    skip_rows: Annotated[int, whole(0)] = 0
    skip_footer: Annotated[int, whole(0)] = 0
    sheet: str | None = None
    records_path: Annotated[str | None, EmptyIsNone] = None
    compression: Annotated[str, one_of(COMPRESSIONS)] = "auto"
    paths: tuple[tuple[str, str], ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _format_defaults(cls, data: Any) -> Any:
        """A YAML entry's defaults that depend on its format."""
        if isinstance(data, dict) and "paths" in data:
            raise problem("unknown key; a column's nested JSON field is its own `path:`", at="paths")
        if isinstance(data, dict) and data.get("format") == "tsv":
            data = {**data, "delimiter": "\t"}
        if isinstance(data, dict) and "header" not in data and data.get("format") == "fixed_width":
            data = {**data, "header": False}
        return data

    def matches(self, name: str) -> bool:
        return fnmatch.fnmatch(name, self.pattern)


@dataclass(frozen=True, config=SETTINGS)
class ColumnSpec:
    """A declared source column: its type, and how the partner writes its values.

    ``formats`` (YAML ``format``): time formats tried in order (strftime patterns or one of
    SPECIAL_TIME_FORMATS); ``decimal`` / ``thousands``: number separators (declaring either also
    strips currency marks); ``true_values`` / ``false_values``: extra boolean spellings;
    ``value_map`` (YAML ``map``): exact replacements applied before parsing; ``path``: a nested JSON
    field (``buyer.mobile``, ``items[0].sku``)."""

    name: Annotated[str, Field(description=FROM_KEY)]
    type: Annotated[str, one_of(COLUMN_TYPES)]
    required: Flag = False
    formats: Annotated[tuple[str, ...], texts(), AfterValidator(_time_formats), Field(alias="format")] = ()
    decimal: Annotated[str, PlainValidator(_separator)] | None = None
    thousands: Annotated[str, PlainValidator(_separator)] | None = None
    true_values: Annotated[tuple[str, ...], texts()] = ()
    false_values: Annotated[tuple[str, ...], texts()] = ()
    value_map: Annotated[tuple[tuple[str, str], ...], PlainValidator(_pairs), Field(alias="map")] = ()
    path: Annotated[str | None, EmptyIsNone] = None

    @model_validator(mode="after")
    def _fits_the_type(self) -> ColumnSpec:
        """Formats and separators say how to parse one type; on another they would be silently unused."""
        if self.formats and self.type not in ("date", "timestamp"):
            raise problem("formats apply to date and timestamp columns", at="format")
        separator = next((k for k in ("decimal", "thousands") if getattr(self, k) is not None), None)
        if separator and self.type not in ("integer", "double"):
            raise problem("separators apply to integer and double columns", at=separator)
        if self.decimal is not None and self.decimal == self.thousands:
            raise problem("must differ from the decimal separator", at="thousands")
        return self


RESERVED = "names starting with '_' are reserved for the loader's own columns"
Columns = Annotated[
    dict[str, ColumnSpec],
    named(
        pattern=re.compile(r"^[^_]"),
        rule=RESERVED,
        shorthand="type",
        empty="declare the columns: {name: type}",
    ),
]
"""``columns:`` of a feed or a reference table: ``{name: type}`` or ``{name: {type, format, …}}``."""


def resolved(spec: FileSpec, columns: tuple[ColumnSpec, ...]) -> FileSpec:
    """A files entry completed from the feed's columns: files without a header (and fixed-width
    files) take their column order from the entry's ``columns:``, else from the declared columns in
    declaration order; nested JSON paths come from the columns' ``path:``."""
    declared = {c.name for c in columns}
    for name in spec.columns:
        if name not in declared and name != "_":
            raise problem(f"'{name}' is not a declared column (use '_' to skip one)", at="columns")
    order = spec.columns
    if not order and (not spec.header or spec.format == "fixed_width"):
        order = tuple(c.name for c in columns if not c.name.startswith("_"))
    if spec.format == "fixed_width" and len(spec.widths) != len(order):
        raise problem(
            f"fixed_width needs one width per column: {len(order)} column(s) {list(order)}, "
            f"{len(spec.widths)} width(s)",
            at="widths",
        )
    return replace(spec, columns=order, paths=tuple((c.name, c.path) for c in columns if c.path))


def parse_file_spec(path: Path, where: str, spec: Any, columns: tuple[ColumnSpec, ...]) -> FileSpec:
    """One ``files`` entry at key path ``where``, completed from ``columns`` (see :func:`resolved`)."""
    try:
        return resolved(validated(path, FileSpec, spec, where), columns)
    except PydanticCustomError as error:
        raise ConfigError(
            path, f"{where}.{(error.context or {}).get('at', '')}".rstrip("."), error.message()
        ) from None


def record_id_shape(spec: Any) -> tuple[str | None, tuple[str, ...] | None]:
    """``record_id: column`` (the partner's id: (column, None)), ``{columns: [..]}`` (a hash of those
    columns: (None, columns)) or absent / ``{hash: row}`` (a hash of the whole row, repeated rows
    numbered in file order: (None, ()))."""
    if isinstance(spec, str):
        return spec, None
    if spec is None or spec == {"hash": "row"}:
        return None, ()
    columns = spec.get("columns") if isinstance(spec, dict) and set(spec) == {"columns"} else None
    if isinstance(columns, list) and columns:
        return None, tuple(str(c) for c in columns)
    raise problem("expected a column name, {columns: [a, b]} or {hash: row}")


def timestamp_shape(spec: Any) -> tuple[str | None, str | None]:
    """``timestamp: column`` ((column, None)), or ``{from: partition}`` (the delivery's day folder;
    the default) or ``{from: load_time}`` for feeds whose rows carry no time of their own."""
    if isinstance(spec, str):
        return spec, None
    if spec is None:
        return None, "partition"
    if isinstance(spec, dict) and set(spec) == {"from"}:
        if spec["from"] not in TIMESTAMP_SOURCES:
            raise problem(f"must be one of {sorted(TIMESTAMP_SOURCES)}, got {spec['from']!r}", at="from")
        return None, spec["from"]
    raise problem("expected a column name, {from: partition} or {from: load_time}")
