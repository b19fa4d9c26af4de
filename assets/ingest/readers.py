"""Read one landing file into an Arrow table of its rows plus the rows that could not be parsed.

Partners send CSV in GBK or UTF-8 (with or without BOM, with or without a header, comma, tab or
space aligned), fixed-width text, JSON Lines or JSON documents (nested), Parquet and Excel sheets,
often gzip- or zip-compressed. Readers never raise on bad content: unparseable rows come back as
:class:`BadRow` with a reason so the loader can quarantine them, keeping rows in = rows loaded +
rows quarantined. Every value of a text format is read as text; typing is the loader's job, where
each declared column's format is applied and a failure names the column."""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import re
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from assets.ingest.feed_spec import WHITESPACE, FileSpec
from assets.ingest.nested import pluck, records_at

ROW_NUMBER = "_row_number"
SKIPPED = "_"  # a column name in a file's declared order that is read and thrown away


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
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace"), "utf-8-sig"
    candidates = ["utf-8", "gb18030"] if encoding == "auto" else ["utf-8", _codec(encoding), "gb18030"]
    for candidate in dict.fromkeys(candidates):
        try:
            return data.decode(candidate), candidate
        except UnicodeDecodeError:
            continue
    return data.decode(candidates[0], errors="replace"), f"{candidates[0]} (undecodable bytes replaced)"


def _codec(encoding: str) -> str:
    return {"utf-8-sig": "utf-8", "gbk": "gb18030"}.get(encoding, encoding)


def _with_row_numbers(table: pa.Table, numbers: list[int] | None = None) -> pa.Table:
    values = numbers if numbers is not None else range(1, table.num_rows + 1)
    return table.append_column(ROW_NUMBER, pa.array(values, pa.int64()))


def _empty() -> pa.Table:
    return pa.table({ROW_NUMBER: pa.array([], pa.int64())})


def _text_table(names: list[str], rows: Sequence[Sequence[str | None]]) -> pa.Table:
    columns = {
        n: pa.array([r[i] for r in rows], pa.string())
        for i, n in enumerate(names)
        if not n.startswith(SKIPPED)
    }
    return (
        pa.table(columns)
        if columns
        else pa.table({SKIPPED: pa.nulls(len(rows), pa.string())}).drop([SKIPPED])
    )


def _trim(lines: list[str], spec: FileSpec) -> list[str]:
    """Drop the title lines before the data (``skip_rows``) and the totals lines after it
    (``skip_footer``, counted from the last non-blank line)."""
    lines = lines[spec.skip_rows :]
    if spec.skip_footer:
        while lines and not lines[-1].strip():
            lines.pop()
        lines = lines[: max(len(lines) - spec.skip_footer, 0)]
    return lines


def read_csv(data: bytes, spec: FileSpec) -> ReadResult:
    """Delimited text: CSV, TSV, any one-character delimiter or runs of whitespace; with a header
    line, or with the column order declared in the spec."""
    text, used = decode(data, spec.encoding)
    lines = _trim(text.split("\n"), spec)
    if spec.delimiter == WHITESPACE:
        lines = [re.sub(r"[ \t]+", "\t", line.strip()) for line in lines]
    if not "".join(lines).strip():
        return ReadResult(_empty(), encoding=used)
    delimiter = "\t" if spec.delimiter == WHITESPACE else spec.delimiter
    if spec.header:
        try:
            header = next(csv.reader(io.StringIO(lines[0].rstrip("\r")), delimiter=delimiter), [])
        except csv.Error as exc:  # e.g. a stray carriage return inside the header line
            return ReadResult(_empty(), encoding=used, error=f"unreadable header line: {exc}")
        names = [h.strip() for h in header]
        if not names or len(set(names)) != len(names) or any(not n for n in names):
            return ReadResult(
                _empty(),
                encoding=used,
                error=f"header has empty or repeated column names: {names} "
                "(a file without a header needs `header: false`)",
            )
        lines = lines[1:]
    else:
        names = [f"{SKIPPED}{i}" if n == SKIPPED else n for i, n in enumerate(spec.columns)]
    return _parse_delimited(
        "\n".join(lines), names, delimiter, quoted=spec.delimiter != WHITESPACE, encoding=used
    )


def _parse_delimited(
    body: str, names: list[str], delimiter: str, *, quoted: bool, encoding: str
) -> ReadResult:
    if not body.strip():  # a header and nothing else
        return ReadResult(_with_row_numbers(_text_table(names, [])), encoding=encoding)
    bad: list[BadRow] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad.append(
            BadRow(
                row.number or 0,
                f"expected {row.expected_columns} fields, found {row.actual_columns}",
                (row.text or "")[:2000],
            )
        )
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(body.encode("utf-8")),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                newlines_in_values=quoted,
                quote_char='"' if quoted else False,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        return ReadResult(_empty(), encoding=encoding, error=f"CSV could not be parsed: {exc}")
    table = table.drop([n for n in names if n.startswith(SKIPPED)])
    return ReadResult(_with_row_numbers(table), bad, encoding)


def read_fixed_width(data: bytes, spec: FileSpec) -> ReadResult:
    """Fixed-width text: each column is ``widths[i]`` characters (after decoding), values trimmed.
    A line with text beyond the declared width is a bad row: the widths do not describe it."""
    text, used = decode(data, spec.encoding)
    lines = _trim(text.split("\n"), spec)
    if spec.header and lines:
        lines = lines[1:]
    bounds, start = [], 0
    for width in spec.widths:
        bounds.append((start, start + width))
        start += width
    rows, numbers, bad = [], [], []
    for number, line in enumerate((x.rstrip("\r") for x in lines), start=1):
        if not line.strip():
            continue
        if len(line.rstrip()) > start:
            bad.append(
                BadRow(
                    number,
                    f"line is {len(line.rstrip())} characters, the declared widths cover {start}",
                    line[:2000],
                )
            )
            continue
        rows.append([line[a:b].strip() for a, b in bounds])
        numbers.append(number)
    names = [SKIPPED if n == SKIPPED else n for n in spec.columns]
    return ReadResult(_with_row_numbers(_text_table(names, rows), numbers), bad, used)


def read_jsonl(data: bytes, spec: FileSpec) -> ReadResult:
    if not data.strip():
        return ReadResult(_empty(), encoding="utf-8")
    if not spec.paths:
        try:
            table = pajson.read_json(
                io.BytesIO(data), parse_options=pajson.ParseOptions(newlines_in_values=False)
            )
            return ReadResult(_with_row_numbers(table), encoding="utf-8")
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    return _read_json_lines(data, spec)


def _read_json_lines(data: bytes, spec: FileSpec) -> ReadResult:
    """Line by line: for nested field paths, and for files the Arrow reader rejects (every good line
    is kept, the rest quarantined)."""
    text, used = decode(data, spec.encoding)
    objects: list[tuple[int, Any]] = []
    bad: list[BadRow] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            objects.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            bad.append(BadRow(number, f"invalid JSON: {exc.msg} at column {exc.colno}", line[:2000]))
    return _objects_table(objects, spec, bad, used)


def read_json(data: bytes, spec: FileSpec) -> ReadResult:
    """A JSON document holding an array of records, at the top or at ``records_path``."""
    text, used = decode(data, spec.encoding)
    if not text.strip():
        return ReadResult(_empty(), encoding=used)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        return ReadResult(_empty(), encoding=used, error=f"invalid JSON: {exc.msg} at line {exc.lineno}")
    records = records_at(document, spec.records_path)
    if records is None:
        where = f"at '{spec.records_path}'" if spec.records_path else "at the top (set records_path)"
        return ReadResult(_empty(), encoding=used, error=f"no array of records {where}")
    return _objects_table(list(enumerate(records, start=1)), spec, [], used)


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _objects_table(
    objects: list[tuple[int, Any]], spec: FileSpec, bad: list[BadRow], used: str
) -> ReadResult:
    """Rows from parsed JSON values: top-level fields by name, nested ones by their declared path."""
    rows: list[dict[str, str | None]] = []
    numbers: list[int] = []
    for number, value in objects:
        if not isinstance(value, dict):
            bad.append(
                BadRow(
                    number, "JSON record is not an object", (_as_text(value) or "")[:2000] if value else ""
                )
            )
            continue
        row = {k: _as_text(v) for k, v in value.items()}
        row.update({column: _as_text(pluck(value, path)) for column, path in spec.paths})
        rows.append(row)
        numbers.append(number)
    names = list(dict.fromkeys(k for row in rows for k in row))
    if not rows:
        return ReadResult(_empty(), bad, used)
    table = pa.table({n: pa.array([row.get(n) for row in rows], pa.string()) for n in names})
    return ReadResult(_with_row_numbers(table, numbers), bad, used)


def read_parquet(data: bytes, spec: FileSpec) -> ReadResult:
    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowInvalid, OSError) as exc:
        return ReadResult(_empty(), error=f"Parquet could not be read: {exc}")
    return ReadResult(_with_row_numbers(table))


def read_xlsx(data: bytes, spec: FileSpec) -> ReadResult:
    """An Excel sheet, .xlsx or legacy .xls (the first, or ``sheet`` by name or 0-based index), every
    cell as text.
    Blank rows are not rows; ``skip_rows`` passes title rows, ``skip_footer`` totals rows."""
    import fastexcel  # imported on use: only deployments with Excel feeds pay for it

    try:
        workbook = fastexcel.read_excel(data)
        sheet = spec.sheet if spec.sheet is None or not spec.sheet.isdigit() else int(spec.sheet)
        options: dict[str, Any] = (
            {"header_row": spec.skip_rows}
            if spec.header
            else {"header_row": None, "skip_rows": spec.skip_rows}
        )
        frame = workbook.load_sheet(0 if sheet is None else sheet, dtypes="string", **options).to_arrow()
    except Exception as exc:  # noqa: BLE001 - calamine raises its own types for every kind of broken file
        return ReadResult(_empty(), error=f"Excel sheet could not be read: {type(exc).__name__}: {exc}")
    if not spec.header:
        names = [f"{SKIPPED}{i}" if n == SKIPPED else n for i, n in enumerate(spec.columns)]
        names += [f"{SKIPPED}extra{i}" for i in range(len(names), frame.num_columns)]
        frame = (
            frame.select(list(range(min(len(names), frame.num_columns))))
            .rename_columns(names[: frame.num_columns])
            .drop([n for n in names[: frame.num_columns] if n.startswith(SKIPPED)])
        )
    rows = frame.to_pylist()
    numbers = [i for i, row in enumerate(rows, start=1) if any(v not in (None, "") for v in row.values())]
    numbers = numbers[: max(len(numbers) - spec.skip_footer, 0)]
    kept = frame.take(pa.array([n - 1 for n in numbers], pa.int64())) if numbers else frame.slice(0, 0)
    return ReadResult(_with_row_numbers(kept, numbers), encoding="xlsx")


READERS = {
    "csv": read_csv,
    "tsv": read_csv,
    "fixed_width": read_fixed_width,
    "jsonl": read_jsonl,
    "json": read_json,
    "parquet": read_parquet,
    "xlsx": read_xlsx,
    "xls": read_xlsx,
}


def _members(data: bytes, name: str, compression: str) -> list[bytes] | str:
    """The files inside a delivery: itself, its gunzipped bytes, or each file of a zip archive
    (in name order). A string is the reason the archive could not be opened."""
    kind = compression
    if kind == "auto":
        kind = "gzip" if name.lower().endswith(".gz") else "zip" if name.lower().endswith(".zip") else "none"
    try:
        if kind == "gzip":
            return [gzip.decompress(data)]
        if kind == "zip":
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = sorted(
                    n for n in archive.namelist() if not n.endswith("/") and not n.startswith("__MACOSX")
                )
                return [archive.read(n) for n in names]
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
        return f"{kind} archive could not be opened: {exc}"
    return [data]


def read_bytes(data: bytes, name: str, spec: FileSpec) -> ReadResult:
    """Read a delivery's bytes; the parts of an archive become one table, row numbers running on."""
    members = _members(data, name, spec.compression)
    if isinstance(members, str):
        return ReadResult(_empty(), error=members)
    results = [READERS[spec.format](member, spec) for member in members]
    failed = next((r for r in results if r.error), None)
    if failed or len(results) == 1:
        return failed or results[0]
    tables, bad, offset = [], [], 0
    for result in results:
        numbers = result.table.column(ROW_NUMBER).to_pylist()
        tables.append(
            result.table.drop([ROW_NUMBER]).append_column(
                ROW_NUMBER, pa.array([n + offset for n in numbers], pa.int64())
            )
        )
        bad += [BadRow(b.row_number + offset, b.reason, b.text) for b in result.bad_rows]
        offset += max(numbers + [b.row_number for b in result.bad_rows], default=0)
    return ReadResult(pa.concat_tables(tables, promote_options="permissive"), bad, results[0].encoding)


def read_file(path: Path, spec: FileSpec) -> ReadResult:
    return read_bytes(path.read_bytes(), path.name, spec)
