"""SQL that reads one declared column's text the way its partner writes it.

The loader types every value in DuckDB; this module builds the expression for a column from its
declaration: a value map first, then the format of its type (time formats tried in order, number
separators and currency marks, boolean spellings), then the partner's clock converted to the
deployment's. An expression yields NULL for a value it cannot read, which the loader turns into a
quarantine reason naming the column: never a silent NULL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

from assets.common.sql import DUCKDB_TYPES, ident, literal
from assets.ingest.feed_spec import FALSE_WORDS, RECORD_ID_COLUMN, TIMESTAMP_COLUMN, TRUE_WORDS, ColumnSpec
from assets.ingest.feeds import FeedConfig
from assets.ingest.readers import ROW_NUMBER

CURRENCY_AND_SPACES = r"[\s\x{00A0}\x{202F}¥￥$€£]|RMB|CNY|元"


@dataclass(frozen=True)
class Clock:
    """Time zones of a feed: ``partner`` (None: the deployment's own clock) and ``local`` (the
    deployment's, in which every stored timestamp is written). Epoch values are UTC by definition."""

    partner: str | None = None
    local: str | None = None

    def to_local(self, value: str, source: str | None) -> str:
        if not self.local or not source or source == self.local:
            return value
        return f"timezone({literal(self.local)}, timezone({literal(source)}, {value}))"


def mapped(column: ColumnSpec, clean: str) -> str:
    """The text after the column's value map (exact matches; other values pass unchanged)."""
    if not column.value_map:
        return clean
    cases = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in column.value_map)
    return f"(CASE {clean} {cases} ELSE {clean} END)"


def parse_sql(column: ColumnSpec, clean: str, is_text: bool, clock: Clock) -> str:
    """The typed value of ``clean`` (the trimmed source value, NULL when empty)."""
    target = DUCKDB_TYPES[column.type]
    if column.type == "varchar":
        return f"CAST({mapped(column, clean)} AS VARCHAR)"
    if not is_text:  # a typed source (Parquet) already says what it holds
        value = f"TRY_CAST({clean} AS {target})"
        return clock.to_local(value, clock.partner) if column.type == "timestamp" else value
    text = mapped(column, clean)
    if column.type in ("integer", "double"):
        return f"TRY_CAST({_number_text(column, text)} AS {target})"
    if column.type == "boolean":
        true = ", ".join(literal(v.lower()) for v in dict.fromkeys(TRUE_WORDS + column.true_values))
        false = ", ".join(literal(v.lower()) for v in dict.fromkeys(FALSE_WORDS + column.false_values))
        return (
            f"(CASE WHEN lower({text}) IN ({true}) THEN true WHEN lower({text}) IN ({false}) THEN false END)"
        )
    return _time_sql(column, text, clock)


def _number_text(column: ColumnSpec, text: str) -> str:
    """``¥1,234.50`` / ``1 234,50`` → ``1234.50`` when the column declares its separators."""
    if column.decimal is None and column.thousands is None:
        return text
    value = f"regexp_replace({text}, {literal(CURRENCY_AND_SPACES)}, '', 'g')"
    thousands = column.thousands if column.thousands is not None else ("," if column.decimal != "," else ".")
    if not thousands.isspace():
        value = f"replace({value}, {literal(thousands)}, '')"
    if column.decimal is not None and column.decimal != ".":
        value = f"replace({value}, {literal(column.decimal)}, '.')"
    return value


def _time_sql(column: ColumnSpec, text: str, clock: Clock) -> str:
    """Each declared format in order (the first that reads the value wins), else DuckDB's own
    ISO reading. Dates are not moved between time zones: a birth date is the same day anywhere."""
    is_timestamp = column.type == "timestamp"
    candidates = []
    for fmt in column.formats or (None,):
        if fmt is None:
            value, source = f"TRY_CAST({text} AS TIMESTAMP)", clock.partner
        elif fmt == "epoch_s":
            value, source = f"make_timestamp(CAST(TRY_CAST({text} AS DOUBLE) * 1e6 AS BIGINT))", "UTC"
        elif fmt == "epoch_ms":
            value, source = f"make_timestamp(CAST(TRY_CAST({text} AS DOUBLE) * 1e3 AS BIGINT))", "UTC"
        elif fmt == "excel":
            micros = f"CAST(round(TRY_CAST({text} AS DOUBLE) * 86400e6) AS BIGINT)"
            value = (
                f"CASE WHEN TRY_CAST({text} AS DOUBLE) BETWEEN 1 AND 2958465 "
                f"THEN TIMESTAMP '1899-12-30' + to_microseconds({micros}) END"
            )
            source = clock.partner
        else:
            value, source = f"CAST(try_strptime({text}, {literal(fmt)}) AS TIMESTAMP)", clock.partner
        candidates.append(clock.to_local(value, source) if is_timestamp else value)
    combined = candidates[0] if len(candidates) == 1 else f"coalesce({', '.join(candidates)})"
    return f"TRY_CAST({combined} AS {DUCKDB_TYPES[column.type]})"


def describe(column: ColumnSpec) -> str:
    """How a value was expected, for the quarantine reason ("as date (%Y%m%d)")."""
    detail = ""
    if column.formats:
        detail = f" ({' / '.join(column.formats)})"
    elif column.type == "boolean":
        detail = " (true / false, yes / no, 是 / 否…)"
    return f"as {column.type}{detail}"


@dataclass(frozen=True)
class Derived:
    """SQL of the columns the loader fills (name → expression over the raw text), and of each row's
    occurrence number among identical rows of its file (when the record id hashes the whole row)."""

    columns: dict[str, str] = field(default_factory=dict)
    occurrence: str | None = None


def typed_select(columns: tuple[ColumnSpec, ...], incoming: pa.Schema, derived: Derived, clock: Clock) -> str:
    """SELECT over ``incoming`` that reads every declared column as its partner writes it (see
    :mod:`assets.ingest.values`) and explains each failure; ``derived`` columns are computed."""
    values, reasons = [], []
    for c in columns:
        src = ident(c.name)
        arrow_type = incoming.field(c.name).type
        is_text = (
            pa.types.is_string(arrow_type)
            or pa.types.is_large_string(arrow_type)
            or pa.types.is_null(arrow_type)
        )
        clean = derived.columns.get(c.name) or (
            f"NULLIF(TRIM(CAST({src} AS VARCHAR)), '')" if is_text else src
        )
        is_derived = c.name in derived.columns  # the delivery day or load time: already on our clock
        value = parse_sql(c, clean, is_text or is_derived, Clock() if is_derived else clock)
        values.append(f"{value} AS {src}")
        if c.type != "varchar":
            reasons.append(
                f"CASE WHEN {clean} IS NOT NULL AND {value} IS NULL THEN "
                f"{literal(c.name + ': cannot read ')} || left(CAST({clean} AS VARCHAR), 60) "
                f"|| {literal(' ' + describe(c))} END"
            )
        if c.required:
            reasons.append(
                f"CASE WHEN {clean} IS NULL THEN {literal(c.name + ': required value missing')} END"
            )
    reason = f"concat_ws('; ', {', '.join(reasons)})" if reasons else "''"
    return (
        f"SELECT _file_id, _file_order, _partition, {ident(ROW_NUMBER)}, {', '.join(values)}, "
        f"{reason} AS _reason, {derived.occurrence or 1} AS _occurrence FROM incoming"
    )


def derived_columns(feed: FeedConfig, loaded_at: datetime) -> Derived:
    """The columns a feed without its own record id or timestamp gets. A derived record id hashes
    raw text, so reloading the same file gives the same ids; when the whole row is hashed, identical
    rows of one file are told apart by their order in it (and counted, as likely duplicates)."""
    columns: dict[str, str] = {}
    occurrence = None
    if feed.record_id_from is not None:
        hashed = feed.record_id_from or tuple(c.name for c in feed.source_columns)
        content = (
            "concat_ws(chr(31), "
            + ", ".join(f"coalesce(TRIM(CAST({ident(c)} AS VARCHAR)), '')" for c in hashed)
            + ")"
        )
        columns[RECORD_ID_COLUMN] = f"left(md5({content}), 20)"
        if not feed.record_id_from:
            occurrence = (
                f"row_number() OVER (PARTITION BY _file_id, md5({content}) ORDER BY {ident(ROW_NUMBER)})"
            )
            columns[RECORD_ID_COLUMN] += (
                f" || CASE WHEN {occurrence} > 1 THEN '-' || {occurrence} ELSE '' END"
            )
    if feed.timestamp_from == "partition":
        columns[TIMESTAMP_COLUMN] = "CAST(CAST(_partition AS TIMESTAMP) AS VARCHAR)"
    elif feed.timestamp_from == "load_time":
        columns[TIMESTAMP_COLUMN] = literal(loaded_at.isoformat(sep=" "))
    return Derived(columns, occurrence)
