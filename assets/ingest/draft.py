"""``cdp feeds draft``: a feed entry for ``config/feeds.yaml`` proposed from a partner's sample files.

Onboarding starts with a file nobody documented. The draft reads it as the loader will (the shape
from :mod:`assets.ingest.draft_shape`, the columns from :mod:`assets.ingest.draft_values`), then
settles what the feed is: its kind, its record id, its timestamp, what maps to canonical fields and
which identity kind each column carries. Every line says why, so the person reviewing it checks the
evidence instead of re-deriving it; for the common shapes the draft loads every valid row unchanged."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import yaml

from assets.ingest.draft_shape import DraftError, Shape, detect_shape
from assets.ingest.draft_values import ID_HINT, TIME_HINT, ColumnDraft, draft_column
from assets.ingest.feed_spec import ColumnSpec, parse_file_spec
from assets.ingest.feeds import CANONICAL_FIELDS, FEED_KINDS
from assets.ingest.readers import ROW_NUMBER, read_bytes

__all__ = ["DraftError", "draft_feed"]

MONEY_HINT = re.compile(r"amount|price|total|spend|paid|sales|revenue|金额|价|实付|消费", re.IGNORECASE)
"""A number column that makes a feed transactions (``kind: orders``, ``canonical.amount``)."""
EVENT_HINT = re.compile(r"event|action|behaviou?r|行为|事件|动作", re.IGNORECASE)
QUANTITY_HINT = re.compile(r"qty|quantity|数量|件数", re.IGNORECASE)
ONLINE_KINDS = {"email", "openid", "wechat_id", "unionid", "platform_account"}
GENERATED_NAMES = {"person_name": "name"}
"""Names given to the columns of a file without a header, by identity kind (else the kind itself)."""


@dataclass
class Sample:
    """One sample file: its detected shape, its rows as the loader's reader returns them, and the
    reasons of rows the reader already rejects (shown in the draft, so nobody is surprised)."""

    name: str
    shape: Shape
    table: pa.Table
    rejected: list[str] = field(default_factory=list)


@dataclass
class FeedDraft:
    """Everything the YAML says, with the evidence (notes) next to each choice."""

    name: str
    kind: str
    kind_note: str
    samples: list[Sample]
    columns: list[ColumnDraft]
    record_id: ColumnDraft | None = None
    timestamp: ColumnDraft | None = None
    canonical: dict[str, Any] = field(default_factory=dict)


def draft_feed(
    files: list[Path], *, kinds: set[str], name: str | None = None, kind: str | None = None
) -> str:
    """The YAML (``feeds:`` with one entry) proposed for the sample ``files``."""
    if not files:
        raise DraftError("give at least one sample file")
    if kind is not None and kind not in FEED_KINDS:
        raise DraftError(f"--kind must be one of {', '.join(sorted(FEED_KINDS))}, got {kind!r}")
    samples = [read_sample(path) for path in files]
    table = _combined([s.table for s in samples])
    names = dict.fromkeys(
        c for s in samples for c in s.shape.columns or s.table.column_names if c in table.column_names
    )
    with duckdb.connect() as con:
        excel = any(s.shape.entry["format"] == "xlsx" for s in samples)
        columns = [draft_column(con, c, table.column(c), kinds, excel=excel) for c in names]
    paths = {c: p for s in samples for c, p in s.shape.paths.items()}
    for column in columns:
        if column.name in paths:
            column.spec["path"] = paths[column.name]
    if all(s.shape.generated_names for s in samples):
        _name_by_kind(columns, samples)
    draft = FeedDraft(feed_name(name or files[0].name), "", "", samples, columns)
    _settle(draft, kind)
    return render(draft)


def read_sample(path: Path) -> Sample:
    """A sample file's shape and its rows, read by the loader's own readers."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DraftError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    try:
        shape = detect_shape(path.name, data)
    except DraftError as exc:
        raise DraftError(f"{path}: {exc}") from exc
    declared = tuple(ColumnSpec(c, "varchar", path=shape.paths.get(c)) for c in shape.columns)
    spec = parse_file_spec(Path("<draft>"), "draft", _entry(shape), declared)
    result = read_bytes(data, path.name, spec)
    if result.error:
        raise DraftError(f"{path}: {result.error}")
    table = pa.table(result.table).drop([ROW_NUMBER])
    if not table.num_rows:
        raise DraftError(f"{path}: no data rows to draft from")
    rejected = sorted({b.reason for b in result.bad_rows})
    return Sample(
        path.name,
        shape,
        table,
        [f"{len(result.bad_rows)} row(s) rejected by the reader: " + "; ".join(rejected[:2])]
        if rejected
        else [],
    )


def _entry(shape: Shape) -> dict[str, Any]:
    """The files entry, with the column order of files without a header and of fixed-width files."""
    entry = dict(shape.entry)
    if entry.get("header") is False or entry["format"] == "fixed_width":
        entry["columns"] = list(shape.columns)
    return entry


def _combined(tables: list[pa.Table]) -> pa.Table:
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return pa.concat_tables(
            [t.cast(pa.schema([pa.field(f.name, pa.string()) for f in t.schema])) for t in tables],
            promote_options="permissive",
        )


def feed_name(text: str) -> str:
    """A feed name from ``--name`` or the first file's name (``Members 2026.xlsx`` → ``members_2026``)."""
    name = re.sub(r"\W+", "_", text.split(".")[0].lower()).strip("_")
    return name if name and name[0].isalpha() else f"feed_{name}"


def _name_by_kind(columns: list[ColumnDraft], samples: list[Sample]) -> None:
    """Files without a header: a column whose identity kind is clear is named after it."""
    for column in columns:
        better = GENERATED_NAMES.get(column.kind or "", column.kind)
        if better:
            _rename(column, better, columns, samples, "named after its values")


def _rename(
    column: ColumnDraft, better: str, columns: list[ColumnDraft], samples: list[Sample], why: str
) -> None:
    """Give a generated ``col_N`` a telling name, in the columns and in each files entry's order."""
    if better in {c.name for c in columns}:
        return
    for sample in samples:
        sample.shape.columns = [better if c == column.name else c for c in sample.shape.columns]
    column.notes.append(f"{why} (position {column.name.removeprefix('col_')})")
    column.name = better


def _settle(draft: FeedDraft, kind: str | None) -> None:
    """Kind, timestamp, record id and canonical fields of the feed."""
    money = next((c for c in draft.columns if c.type == "double" and MONEY_HINT.search(c.name)), None)
    if money is None and all(s.shape.generated_names for s in draft.samples):
        money = next((c for c in draft.columns if c.type == "double"), None)
        if money:
            _rename(money, "amount", draft.columns, draft.samples, "the only decimal column: amounts")
    times = [c for c in draft.columns if c.type in ("date", "timestamp") and c.kind != "birth_date"]
    events = next((c for c in draft.columns if c.type == "varchar" and EVENT_HINT.search(c.name)), None)
    if kind:
        draft.kind, draft.kind_note = kind, "as given (--kind)"
    elif money:
        draft.kind, draft.kind_note = "orders", f"amounts in {money.name}"
    elif events and times:
        draft.kind, draft.kind_note = "events", f"event types in {events.name}, times in {times[0].name}"
    else:
        draft.kind, draft.kind_note = "people", "no amount or event column: person records"
    if draft.kind != "people" and times:
        draft.timestamp = max(
            times, key=lambda c: (bool(TIME_HINT.search(c.name)), c.type == "timestamp", "required" in c.spec)
        )
    draft.record_id = _record_id(draft.columns)
    draft.canonical = _canonical(draft, money, events)


def _record_id(columns: list[ColumnDraft]) -> ColumnDraft | None:
    """A column unique and never empty in the sample whose values look like ids (a code with
    letters and digits, or a column named like an id)."""

    def id_like(c: ColumnDraft) -> bool:
        codes = all(re.fullmatch(r"[A-Za-z0-9_\-]+", v) for v in c.values)
        lettered = all(re.search(r"\d", v) and re.search(r"[A-Za-z]", v) for v in c.values)
        return codes and (lettered or bool(ID_HINT.search(c.name)))

    candidates = [
        c
        for c in columns
        if c.unique
        and "required" in c.spec
        and c.type in ("varchar", "integer")
        and c.kind in (None, "member_id")
        and id_like(c)
    ]
    return max(candidates, key=lambda c: bool(ID_HINT.search(c.name)), default=None)


def _canonical(draft: FeedDraft, money: ColumnDraft | None, events: ColumnDraft | None) -> dict[str, Any]:
    """Canonical fields: the amount, quantity and event type found, and columns named like a field."""
    fields = CANONICAL_FIELDS[draft.kind]
    canonical: dict[str, Any] = {}
    if "amount" in fields and money:
        canonical["amount"] = money.name
    quantity = next((c for c in draft.columns if c.type == "integer" and QUANTITY_HINT.search(c.name)), None)
    if "quantity" in fields and quantity:
        canonical["quantity"] = quantity.name
    if "event_type" in fields:
        canonical["event_type"] = events.name if events else {"const": draft.name}
    for column in draft.columns:
        if column.name in fields and column.name not in canonical:
            canonical[column.name] = column.name
    return canonical


def _flow(value: Any) -> str:
    """A YAML value on one line (flow style), quoted where YAML needs it."""
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, sort_keys=False, width=10**9)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def _line(depth: int, key: str, value: Any = None, notes: list[str] | None = None) -> str:
    text = f"{'  ' * depth}{_flow(key)}:" + ("" if value is None else f" {_flow(value)}")
    comment = "; ".join(n.replace("\n", " ") for n in notes or [] if n)
    return text + (f"  # {comment}" if comment else "")


def render(draft: FeedDraft) -> str:
    """The draft as YAML, one comment per choice; it parses as a feeds.yaml on its own."""
    names = ", ".join(s.name for s in draft.samples)
    rows = sum(s.table.num_rows for s in draft.samples)
    channel = "online" if any(c.kind in ONLINE_KINDS for c in draft.columns) else "offline"
    lines = [
        f"# Drafted by `cdp feeds draft` from {names} ({rows} rows). Review each comment, then paste",
        "# the entry under feeds: in config/feeds.yaml.",
        "feeds:",
        _line(1, draft.name),
        _line(2, "description", f"Drafted from {names}: say what the partner sends."),
        _line(2, "kind", draft.kind, [draft.kind_note]),
        _line(2, "channel", channel, ["review: online or offline"]),
        _line(2, "files"),
    ]
    seen: set[str] = set()
    for sample in draft.samples:
        entry = _entry(sample.shape)
        if entry["pattern"] not in seen:
            seen.add(entry["pattern"])
            lines.append(f"      - {_flow(entry)}" + f"  # {'; '.join(sample.shape.notes + sample.rejected)}")
    lines += _keys(draft)
    lines.append(_line(2, "columns"))
    lines += [_line(3, c.name, _column_value(c), c.notes) for c in draft.columns]
    if draft.canonical:
        lines += [_line(2, "canonical")] + [_line(3, k, v) for k, v in draft.canonical.items()]
    identity = [c for c in draft.columns if c.kind]
    if identity:
        lines += [_line(2, "identity")] + [_line(3, c.name, c.kind, _identity_notes(c)) for c in identity]
    return "\n".join(lines) + "\n"


def _keys(draft: FeedDraft) -> list[str]:
    """record_id and timestamp, or a comment on what the loader derives in their absence."""
    lines = []
    if draft.record_id:
        lines.append(_line(2, "record_id", draft.record_id.name, ["unique and never empty in the sample"]))
    else:
        lines.append("    # record_id: none found (no unique id-like column): the loader hashes each row")
    if draft.timestamp:
        lines.append(_line(2, "timestamp", draft.timestamp.name, [f"{draft.timestamp.type} column"]))
    else:
        lines.append("    # timestamp: none: rows take the day of their delivery folder")
    return lines


def _column_value(column: ColumnDraft) -> Any:
    spec = dict(column.spec)
    return spec["type"] if list(spec) == ["type"] else spec


def _identity_notes(column: ColumnDraft) -> list[str]:
    notes = [column.kind_note]
    if column.kind in ("openid", "platform_account"):
        notes.append("review: add namespace (the platform) or namespace_column")
    return notes
