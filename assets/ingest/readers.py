"""Read one landing file into an Arrow table of its rows plus the rows that could not be parsed.

Partners send CSV in GBK or UTF-8 (with or without BOM), JSON Lines and Parquet. Readers never
raise on bad content: unparseable rows come back as :class:`BadRow` with a reason so the loader
can quarantine them, keeping rows in = rows loaded + rows quarantined."""

from __future__ import annotations

import codecs
import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from pipelines.config import FileSpec

ROW_NUMBER = "_row_number"


@dataclass(frozen=True)
class BadRow:
    row_number: int
    reason: str
    text: str


@dataclass
class ReadResult:
    """Rows read from one file. ``table`` carries a 1-based ``_row_number`` column."""

    table: pa.Table
    bad_rows: list[BadRow] = field(default_factory=list)
    encoding: str | None = None
    error: str | None = None  # the whole file could not be read

    @property
    def rows_in(self) -> int:
        return self.table.num_rows + len(self.bad_rows)


def decode(data: bytes, encoding: str) -> tuple[str, str]:
    """Decode file bytes, returning the text and the encoding actually used.

    A BOM wins; then strict UTF-8 is tried before the declared encoding, because UTF-8 bytes of
    Chinese text usually *also* decode as GB18030 (into mojibake) while GBK text is practically never
    valid UTF-8 — partners who declare GBK and send UTF-8 are common. Then GB18030 (a superset of GBK)."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="replace"), "utf-8-sig"
    candidates = ["utf-8", "gb18030"] if encoding == "auto" else ["utf-8", _codec(encoding), "gb18030"]
    for candidate in dict.fromkeys(candidates):
        try:
            return data.decode(candidate), candidate
        except UnicodeDecodeError:
            continue
    return data.decode(candidates[0], errors="replace"), f"{candidates[0]} (undecodable bytes replaced)"


def _codec(encoding: str) -> str:
    return {"utf-8-sig": "utf-8", "gbk": "gb18030"}.get(encoding, encoding)


def _with_row_numbers(table: pa.Table) -> pa.Table:
    return table.append_column(ROW_NUMBER, pa.array(range(1, table.num_rows + 1), pa.int64()))


def _empty() -> pa.Table:
    return pa.table({ROW_NUMBER: pa.array([], pa.int64())})


def read_csv(path: Path, spec: FileSpec) -> ReadResult:
    text, used = decode(path.read_bytes(), spec.encoding)
    if not text.strip():
        return ReadResult(_empty(), encoding=used)
    try:
        header = next(csv.reader(io.StringIO(text.split("\n", 1)[0].rstrip("\r")), delimiter=spec.delimiter), [])
    except csv.Error as exc:  # e.g. a stray carriage return inside the header line
        return ReadResult(_empty(), encoding=used, error=f"unreadable header line: {exc}")
    names = [h.strip() for h in header]
    if not names or len(set(names)) != len(names) or any(not n for n in names):
        return ReadResult(_empty(), encoding=used, error=f"header has empty or repeated column names: {names}")
    bad: list[BadRow] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad.append(BadRow(row.number or 0, f"expected {row.expected_columns} fields, found {row.actual_columns}",
                          (row.text or "")[:2000]))
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, use_threads=False),
            parse_options=pacsv.ParseOptions(delimiter=spec.delimiter, newlines_in_values=True,
                                             invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except pa.ArrowInvalid as exc:
        return ReadResult(_empty(), encoding=used, error=f"CSV could not be parsed: {exc}")
    return ReadResult(_with_row_numbers(table), bad, used)


def read_jsonl(path: Path, spec: FileSpec) -> ReadResult:
    data = path.read_bytes()
    if not data.strip():
        return ReadResult(_empty(), encoding="utf-8")
    try:
        table = pajson.read_json(io.BytesIO(data), parse_options=pajson.ParseOptions(newlines_in_values=False))
        return ReadResult(_with_row_numbers(table), encoding="utf-8")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _read_jsonl_line_by_line(data, spec)


def _read_jsonl_line_by_line(data: bytes, spec: FileSpec) -> ReadResult:
    """Slow path for files the Arrow reader rejects: keep every good line, quarantine the rest."""
    text, used = decode(data, spec.encoding)
    rows: list[dict[str, str | None]] = []
    numbers: list[int] = []
    bad: list[BadRow] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            bad.append(BadRow(number, f"invalid JSON: {exc.msg} at column {exc.colno}", line[:2000]))
            continue
        if not isinstance(value, dict):
            bad.append(BadRow(number, "JSON line is not an object", line[:2000]))
            continue
        rows.append({k: None if v is None else (v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
                     for k, v in value.items()})
        numbers.append(number)
    names = list(dict.fromkeys(k for row in rows for k in row))
    table = pa.table({n: pa.array([row.get(n) for row in rows], pa.string()) for n in names}) if rows else _empty()
    if rows:
        table = table.append_column(ROW_NUMBER, pa.array(numbers, pa.int64()))
    return ReadResult(table, bad, used)


def read_parquet(path: Path, spec: FileSpec) -> ReadResult:
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        return ReadResult(_empty(), error=f"Parquet could not be read: {exc}")
    return ReadResult(_with_row_numbers(table))


READERS = {"csv": read_csv, "jsonl": read_jsonl, "parquet": read_parquet}


def read_file(path: Path, spec: FileSpec) -> ReadResult:
    return READERS[spec.format](path, spec)
