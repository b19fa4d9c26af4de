"""How a feed's files are shaped and how its values are written: the typed form of the ``files``
and ``columns`` entries of ``config/feeds.yaml``.

Partners send what their systems export: headerless logs aligned with spaces, fixed-width
mainframe extracts, Excel sheets with a title row, nested JSON, gzip or zip archives, dates as
``19970101`` or epoch milliseconds, money as ``¥1,234.50``. Each of those is declared here, per
file pattern and per column, so onboarding a partner is configuration, never a reshaping script."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assets.common.configuration import ConfigError, choice, text_list, whole_number

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
Known = Callable[[str, str], str]
"""Checks that a column is declared (column, key path) and returns it."""

TRUE_WORDS = ("true", "t", "yes", "y", "1", "on", "是", "对", "真")
FALSE_WORDS = ("false", "f", "no", "n", "0", "off", "否", "错", "假")


@dataclass(frozen=True)
class FileSpec:
    """How the files matching ``pattern`` are written. ``columns`` gives the column order of files
    without a header line and of fixed-width files; ``paths`` maps columns to nested JSON fields."""

    pattern: str
    format: str
    encoding: str = "auto"
    delimiter: str = ","
    header: bool = True
    columns: tuple[str, ...] = ()
    widths: tuple[int, ...] = ()
    skip_rows: int = 0
    skip_footer: int = 0
    sheet: str | None = None
    records_path: str | None = None
    compression: str = "auto"
    paths: tuple[tuple[str, str], ...] = ()

    def matches(self, name: str) -> bool:
        return fnmatch.fnmatch(name, self.pattern)


@dataclass(frozen=True)
class ColumnSpec:
    """A declared source column: its type, and how the partner writes its values.

    ``formats``: time formats tried in order (strftime patterns or one of SPECIAL_TIME_FORMATS);
    ``decimal`` / ``thousands``: number separators (declaring either also strips currency marks);
    ``true_values`` / ``false_values``: extra boolean spellings; ``value_map``: exact replacements
    applied before parsing; ``path``: a nested JSON field (``buyer.mobile``, ``items[0].sku``)."""

    name: str
    type: str
    required: bool = False
    formats: tuple[str, ...] = ()
    decimal: str | None = None
    thousands: str | None = None
    true_values: tuple[str, ...] = ()
    false_values: tuple[str, ...] = ()
    value_map: tuple[tuple[str, str], ...] = ()
    path: str | None = None


COLUMN_KEYS = {"type", "required", "format", "decimal", "thousands", "true_values", "false_values", "map", "path"}


def parse_column(path: Path, where: str, name: str, spec: Any) -> ColumnSpec:
    """A column declared as a bare type name or as a mapping of the COLUMN_KEYS."""
    if name.startswith("_"):
        raise ConfigError(path, where, "names starting with '_' are reserved for the loader's own columns")
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, dict) or spec.get("type") not in COLUMN_TYPES:
        raise ConfigError(path, where, f"type must be one of {sorted(COLUMN_TYPES)}, got {spec!r}")
    unknown = sorted(set(spec) - COLUMN_KEYS)
    if unknown:
        raise ConfigError(path, where, f"unknown key(s) {unknown}; a column takes {sorted(COLUMN_KEYS)}")
    kind = spec["type"]
    formats = text_list(path, f"{where}.format", spec["format"]) if "format" in spec else ()
    if formats and kind not in ("date", "timestamp"):
        raise ConfigError(path, f"{where}.format", "formats apply to date and timestamp columns")
    for fmt in formats:
        if fmt not in SPECIAL_TIME_FORMATS and "%" not in fmt:
            raise ConfigError(path, f"{where}.format", f"{fmt!r} is neither a strftime pattern (e.g. '%Y%m%d') "
                                                       f"nor one of {sorted(SPECIAL_TIME_FORMATS)}")
    number_keys = [k for k in ("decimal", "thousands") if k in spec]
    if number_keys and kind not in ("integer", "double"):
        raise ConfigError(path, f"{where}.{number_keys[0]}", "separators apply to integer and double columns")
    decimal = _separator(path, f"{where}.decimal", spec.get("decimal"))
    thousands = _separator(path, f"{where}.thousands", spec.get("thousands"))
    if decimal is not None and decimal == thousands:
        raise ConfigError(path, f"{where}.thousands", "must differ from the decimal separator")
    value_map = spec.get("map") or {}
    if not isinstance(value_map, dict):
        raise ConfigError(path, f"{where}.map", "expected a mapping {partner value: value}")
    return ColumnSpec(
        name=name, type=kind, required=bool(spec.get("required", False)), formats=formats,
        decimal=decimal, thousands=thousands,
        true_values=text_list(path, f"{where}.true_values", spec["true_values"]) if "true_values" in spec else (),
        false_values=text_list(path, f"{where}.false_values", spec["false_values"]) if "false_values" in spec else (),
        value_map=tuple((text_list(path, f"{where}.map", k)[0], text_list(path, f"{where}.map", v)[0])
                        for k, v in value_map.items()),
        path=str(spec["path"]) if spec.get("path") else None,
    )


def _separator(path: Path, where: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) != 1:
        raise ConfigError(path, where, f"expected one character such as ',' '.' or ' ', got {value!r}")
    return value


FILE_KEYS = {"pattern", "format", "encoding", "delimiter", "header", "columns", "widths", "skip_rows",
             "skip_footer", "sheet", "records_path", "compression"}


def parse_file_spec(path: Path, where: str, spec: Any, columns: tuple[ColumnSpec, ...]) -> FileSpec:
    """One ``files`` entry. Files without a header (and fixed-width files) take their column order
    from ``columns:`` in the entry, else from the feed's declared columns in declaration order."""
    if not isinstance(spec, dict):
        raise ConfigError(path, where, "expected a mapping such as {pattern: '*.csv', format: csv}")
    unknown = sorted(set(spec) - FILE_KEYS)
    if unknown:
        raise ConfigError(path, where, f"unknown key(s) {unknown}; a files entry takes {sorted(FILE_KEYS)}")
    fmt = choice(path, f"{where}.format", spec.get("format"), FILE_FORMATS)
    declared = {c.name for c in columns}
    order = tuple(str(c) for c in spec.get("columns") or ())
    for name in order:
        if name not in declared and name != "_":
            raise ConfigError(path, f"{where}.columns", f"'{name}' is not a declared column (use '_' to skip one)")
    header = spec.get("header", fmt != "fixed_width")
    if not isinstance(header, bool):
        raise ConfigError(path, f"{where}.header", f"must be true or false, got {header!r}")
    if not order and (not header or fmt == "fixed_width"):
        order = tuple(c.name for c in columns if not c.name.startswith("_"))
    widths = tuple(whole_number(path, f"{where}.widths", w, 1) for w in spec.get("widths") or ())
    if fmt == "fixed_width" and len(widths) != len(order):
        raise ConfigError(path, f"{where}.widths", f"fixed_width needs one width per column: {len(order)} "
                                                   f"column(s) {list(order)}, {len(widths)} width(s)")
    delimiter = "\t" if fmt == "tsv" else str(spec.get("delimiter", ","))
    if delimiter != WHITESPACE and len(delimiter) != 1:
        raise ConfigError(path, f"{where}.delimiter", f"one character or '{WHITESPACE}', got {delimiter!r}")
    return FileSpec(
        pattern=str(spec.get("pattern", "*")), format=fmt,
        encoding=choice(path, f"{where}.encoding", spec.get("encoding", "auto"), ENCODINGS),
        delimiter=delimiter, header=header, columns=order, widths=widths,
        skip_rows=whole_number(path, f"{where}.skip_rows", spec.get("skip_rows", 0)),
        skip_footer=whole_number(path, f"{where}.skip_footer", spec.get("skip_footer", 0)),
        sheet=str(spec["sheet"]) if spec.get("sheet") is not None else None,
        records_path=str(spec["records_path"]) if spec.get("records_path") else None,
        compression=choice(path, f"{where}.compression", spec.get("compression", "auto"), COMPRESSIONS),
        paths=tuple((c.name, c.path) for c in columns if c.path),
    )


def parse_record_id(path: Path, where: str, spec: Any, known: Known) -> tuple[str, tuple[str, ...] | None]:
    """``record_id: column`` (the partner's id), ``{columns: [..]}`` (a hash of those columns) or
    absent / ``{hash: row}`` (a hash of the whole row, repeated rows numbered in file order)."""
    if isinstance(spec, str):
        return known(spec, "record_id"), None
    if spec is None or spec == {"hash": "row"}:
        return RECORD_ID_COLUMN, ()
    if isinstance(spec, dict) and set(spec) == {"columns"} and isinstance(spec["columns"], list) and spec["columns"]:
        return RECORD_ID_COLUMN, tuple(known(str(c), "record_id.columns") for c in spec["columns"])
    raise ConfigError(path, f"{where}.record_id", "expected a column name, {columns: [a, b]} or {hash: row}")


def parse_timestamp(path: Path, where: str, spec: Any, known: Known) -> tuple[str, str | None]:
    """``timestamp: column``, or ``{from: partition}`` (the delivery's day folder; the default) or
    ``{from: load_time}`` for feeds whose rows carry no time of their own."""
    if isinstance(spec, str):
        return known(spec, "timestamp"), None
    if spec is None:
        return TIMESTAMP_COLUMN, "partition"
    if isinstance(spec, dict) and set(spec) == {"from"}:
        return TIMESTAMP_COLUMN, choice(path, f"{where}.timestamp.from", spec["from"], TIMESTAMP_SOURCES)
    raise ConfigError(path, f"{where}.timestamp", "expected a column name, {from: partition} or {from: load_time}")
