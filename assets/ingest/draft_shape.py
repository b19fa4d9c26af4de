"""How a sample delivery is shaped, guessed from its bytes: the ``files`` entry of a feed draft.

A person onboarding a partner has a file and no documentation. This module looks at the file the
way that person would (is it compressed, which format, which encoding, which delimiter, is the
first line a header, are there title or totals rows, are columns aligned on fixed positions) and
writes the answer as the ``files`` entry the loader reads, so the draft is read back by the very
readers that will load the feed (:func:`assets.ingest.readers.read_bytes`)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from assets.ingest.readers import decode

DELIMITERS = (",", "\t", ";", "|")
TOTALS = re.compile(r"^\s*(合计|总计|小计|共计|汇总|total|sum|grand total)\b", re.IGNORECASE)
"""The first cell of a totals row at the end of a partner's export (skipped with ``skip_footer``)."""
VALUE_LIKE = re.compile(r"^[+\-]?[\d\s,.:/¥￥$€£%-]+$|@|^wxid_|\d{3}", re.IGNORECASE)
"""A cell that reads as a value (a number, a date, an email) rather than a column name."""
MIN_SHARE = 0.8
"""Share of lines that must agree on a field count for a delimiter or an alignment to be believed."""


class DraftError(ValueError):
    """A sample file that cannot be drafted from (missing, unreadable, empty, broken archive)."""


@dataclass
class Shape:
    """A sample's ``files`` entry, its column names (generated ``col_N`` for files without a header)
    and JSON paths of nested fields, with the evidence for each choice."""

    entry: dict[str, Any]
    columns: list[str] = field(default_factory=list)
    paths: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    generated_names: bool = False


def pattern_for(name: str) -> str:
    """``orders_0501.json.gz`` → ``*.json.gz``: the pattern every later delivery will match."""
    suffixes = (
        "".join(Path(name).suffixes[-2:])
        if Path(name).suffix.lower() in (".gz", ".zip")
        else Path(name).suffix
    )
    return f"*{suffixes}" if suffixes else name


def detect_shape(name: str, data: bytes) -> Shape:
    """The ``files`` entry for the sample ``name`` holding ``data``."""
    compression, inner_name, member = _unpack(name, data)
    entry: dict[str, Any] = {"pattern": pattern_for(name)}
    notes = []
    if compression != "none":
        notes.append(f"{compression}-compressed")
        if not name.lower().endswith({"gzip": ".gz", "zip": ".zip"}[compression]):
            entry["compression"] = compression
    if member[:4] == b"PAR1":
        entry["format"] = "parquet"
        return Shape(entry, notes=notes + ["Parquet (typed columns)"])
    if _is_workbook(member):
        return _excel_shape(member, entry, notes)
    text, encoding = decode(member, "auto")
    if not text.strip():
        raise DraftError(f"{name}: the file is empty; a draft needs sample rows")
    return _json_shape(text, entry, notes) or _text_shape(text, encoding, inner_name, entry, notes)


def _unpack(name: str, data: bytes) -> tuple[str, str, bytes]:
    """The compression, and the name and bytes of the (first) file inside the delivery."""
    try:
        if data[:2] == b"\x1f\x8b":
            return "gzip", name.removesuffix(".gz"), gzip.decompress(data)
        if data[:2] == b"PK" and not _is_workbook(data):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = sorted(
                    n for n in archive.namelist() if not n.endswith("/") and not n.startswith("__MACOSX")
                )
                if not names:
                    raise DraftError(f"{name}: the zip archive holds no file")
                return "zip", names[0], archive.read(names[0])
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
        raise DraftError(f"{name}: the archive could not be opened ({exc})") from exc
    return "none", name, data


def _is_workbook(data: bytes) -> bool:
    if data[:2] != b"PK":
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False


def _excel_shape(data: bytes, entry: dict[str, Any], notes: list[str]) -> Shape:
    """The first sheet, read as the loader reads it (fastexcel), every cell as text."""
    import fastexcel

    try:
        frame = fastexcel.read_excel(data).load_sheet(0, dtypes="string", header_row=None).to_arrow()
    except Exception as exc:  # noqa: BLE001 - calamine raises its own types for every kind of broken file
        raise DraftError(f"the Excel workbook could not be read: {type(exc).__name__}: {exc}") from exc
    rows = [["" if v is None else str(v).strip() for v in row.values()] for row in frame.to_pylist()]
    entry["format"] = "xlsx"
    return _table_shape(rows, entry, notes + ["Excel workbook, first sheet"])


def _json_shape(text: str, entry: dict[str, Any], notes: list[str]) -> Shape | None:
    """A JSON document with an array of records (found wherever it is nested), or JSON Lines."""
    if text.lstrip()[:1] not in ("{", "["):
        return None
    try:
        document = json.loads(text)
        entry["format"] = "json"
        path = _records_path(document)
        if path is None and not isinstance(document, list):
            raise DraftError("the JSON document holds no array of records")
        if path:
            entry["records_path"] = path
            notes.append(f"records at {path}")
        records = document if path is None else _at(document, path)
    except json.JSONDecodeError:
        try:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise DraftError(
                f"neither a JSON document nor JSON Lines: {exc.msg} at line {exc.lineno}"
            ) from exc
        entry["format"] = "jsonl"
    columns, paths = flatten_fields([r for r in records if isinstance(r, dict)])
    if paths:
        notes.append(f"nested fields flattened: {', '.join(paths.values())}")
    return Shape(entry, columns, paths, notes)


def _records_path(document: Any, prefix: str = "") -> str | None:
    """The dotted path of the largest array of objects in a JSON document (None: the top)."""
    if isinstance(document, list):
        return prefix or None
    if not isinstance(document, dict):
        return None
    found = [
        (len(v), f"{prefix}{k}")
        for k, v in document.items()
        if isinstance(v, list) and any(isinstance(x, dict) for x in v)
    ]
    for key, value in document.items():
        inner = _records_path(value, f"{prefix}{key}.") if isinstance(value, dict) else None
        if inner:
            found.append((len(_at(document, inner[len(prefix) :])), inner))
    return max(found)[1] if found else None


def _at(document: Any, path: str) -> Any:
    for step in path.split("."):
        document = document[step]
    return document


def flatten_fields(records: list[dict[str, Any]]) -> tuple[list[str], dict[str, str]]:
    """Top-level fields as columns; fields of nested objects as ``buyer_mobile`` with the path
    ``buyer.mobile`` (arrays stay whole, as JSON text)."""
    columns: dict[str, str | None] = {}
    objects: set[str] = set()

    def walk(value: dict[str, Any], prefix: str) -> None:
        for key, inner in value.items():
            path = f"{prefix}{key}"
            if isinstance(inner, dict):
                objects.add(path)
                walk(inner, f"{path}.")
            else:
                columns.setdefault(
                    re.sub(r"\W+", "_", path).strip("_") if prefix else key, path if prefix else None
                )

    for record in records:
        walk(record, "")
    kept = [c for c, p in columns.items() if (p or c) not in objects]
    return kept, {c: p for c, p in columns.items() if p and c in kept}


def _text_shape(text: str, encoding: str, name: str, entry: dict[str, Any], notes: list[str]) -> Shape:
    lines = [line.rstrip("\r") for line in text.split("\n")]
    entry["encoding"] = encoding
    notes.append(f"encoding {encoding}")
    delimiter = _delimiter(lines)
    if delimiter is not None:
        entry["format"] = "tsv" if delimiter == "\t" else "csv"
        if delimiter not in ("\t", ","):
            entry["delimiter"] = delimiter
        rows = [next(csv.reader([line], delimiter=delimiter), []) for line in lines]
        notes.append("tab-separated" if delimiter == "\t" else f"'{delimiter}'-delimited")
        return _table_shape([[c.strip() for c in r] for r in rows], entry, notes)
    return _aligned_shape(lines, entry, notes)


def _delimiter(lines: list[str]) -> str | None:
    """The delimiter on which most non-blank lines split into the same number (≥ 2) of fields."""
    sample = [line for line in lines if line.strip()][:2000]
    best, best_share = None, 0.0
    for delimiter in DELIMITERS:
        counts = Counter(len(next(csv.reader([line], delimiter=delimiter), [])) for line in sample)
        fields, hits = counts.most_common(1)[0]
        if fields >= 2 and hits / len(sample) > best_share:
            best, best_share = delimiter, hits / len(sample)
    return best if best_share >= 0.5 else None


def _table_shape(rows: list[list[str]], entry: dict[str, Any], notes: list[str]) -> Shape:
    """Title rows, header and totals rows of rows of cells (delimited text or a sheet)."""
    filled = [sum(1 for c in r if c) for r in rows]
    if not any(filled):
        raise DraftError("no rows to draft from")
    width = Counter(f for f in filled if f).most_common(1)[0][0]
    skip = next((i for i, f in enumerate(filled) if f and (f > 1 or width == 1)), 0)
    footer = 0
    for r in reversed([r for r, f in zip(rows, filled, strict=True) if f]):
        if not TOTALS.match(next((c for c in r if c), "")):
            break
        footer += 1
    if skip:
        entry["skip_rows"] = skip
        notes.append(f"{skip} title row(s) skipped")
    if footer:
        entry["skip_footer"] = footer
        notes.append(f"{footer} totals row(s) skipped")
    data = [r for r, f in zip(rows[skip:], filled[skip:], strict=True) if f]
    data = data[: len(data) - footer]
    return _named(data, entry, notes)


def _named(data: list[list[str]], entry: dict[str, Any], notes: list[str]) -> Shape:
    """Column names from the header line, or ``col_N`` (and ``header: false``) without one."""
    first, rest = data[0], data[1:]
    if has_header(first, rest):
        notes.append("header line")
        return Shape(entry, first, notes=notes)
    count = Counter(len(r) for r in data).most_common(1)[0][0]
    names = [f"col_{i}" for i in range(1, count + 1)]
    entry["header"] = False
    notes.append("no header line: columns named by position")
    return Shape(entry, names, notes=notes, generated_names=True)


def has_header(first: list[str], rest: list[list[str]]) -> bool:
    """A first line is a header when its cells are distinct, non-empty, none reads as a value, and
    none of them comes back as a value further down its column."""
    if (
        not first
        or len(set(first)) != len(first)
        or not all(first)
        or any(VALUE_LIKE.search(c) for c in first)
    ):
        return False
    return not any(cell in {r[i] for r in rest if i < len(r)} for i, cell in enumerate(first))


def _aligned_shape(lines: list[str], entry: dict[str, Any], notes: list[str]) -> Shape:
    """Text aligned with spaces: split on runs of whitespace when every line holds one value per
    aligned column; else fixed-width columns bounded by the columns of spaces of every line."""
    kept = [line.expandtabs() for line in lines if line.strip()]
    bounds = aligned_columns(kept)
    counts = Counter(len(line.split()) for line in kept)
    fields, hits = counts.most_common(1)[0]
    if fields >= 2 and hits / len(kept) >= MIN_SHARE and (len(bounds) == fields or len(bounds) < 2):
        entry.update(format="csv", delimiter="whitespace")
        notes.append("values separated by runs of spaces")
        return _table_shape([line.split() for line in lines], entry, notes)
    if len(bounds) < 2:
        entry["format"] = "csv"
        notes.append("one value per line")
        return _table_shape([[line.strip()] for line in lines], entry, notes)
    width = max(len(line) for line in kept)
    widths = [b - a for a, b in zip(bounds, bounds[1:] + [width], strict=True)]
    widths[0] += bounds[0]
    entry.update(format="fixed_width", widths=widths)
    notes.append(f"fixed-width: columns of spaces aligned on every line at {', '.join(map(str, bounds[1:]))}")
    cut = [0] + bounds[1:] + [width]
    rows = [[line[a:b].strip() for a, b in pairwise(cut)] for line in lines]
    shape = _table_shape(rows, entry, notes)
    if shape.entry.get("header") is not False:
        entry["header"] = True
    return shape


def aligned_columns(lines: list[str]) -> list[int]:
    """Start positions of the text columns: where a non-space follows a position that is a space
    (or past the end) on every line. After a single space, a block filled on fewer than half the
    lines is the second word of a value ("Li Na"), not a column."""
    width = max(len(line) for line in lines)
    blank = [all(i >= len(line) or line[i] == " " for line in lines) for i in range(width)]
    starts = [i for i in range(width) if not blank[i] and (i == 0 or blank[i - 1])]
    kept = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else width
        filled = sum(1 for line in lines if line[start:end].strip())
        if n == 0 or (start >= 2 and blank[start - 2]) or filled * 2 >= len(lines):
            kept.append(start)
    return kept
