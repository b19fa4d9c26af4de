"""What a sample column holds: its declared type and formats, and the identity kind of its values.

Types are tried with the loader's own value parser (:func:`assets.ingest.values.parse_sql`) in
DuckDB, so a type the draft proposes is one the loader reads: a draft pasted unchanged loads the
rows it read here. Identity kinds are recognised with the identity stage's own normalisers (the
phonenumbers-validated China mobile, the checksummed national id…), never a second copy of them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, TypedDict

import duckdb
import pyarrow as pa

from assets.identity.normalize import (
    fold_width,
    normalize_date,
    normalize_email,
    normalize_gender,
    normalize_mobile,
    normalize_national_id,
)
from assets.ingest.feed_spec import FALSE_WORDS, TRUE_WORDS, ColumnSpec
from assets.ingest.values import Clock, parse_sql

MIN_SHARE = 0.8
"""Share of a column's values a type must read (the rest would be quarantined, and are shown)."""
KIND_SHARE = 0.6
"""Share of a column's values that must be of an identity kind (a mobile column holds landlines too)."""


class NumberStyle(TypedDict, total=False):
    """The separators of one way of writing numbers: the :class:`ColumnSpec` fields of that name."""

    decimal: str
    thousands: str


NUMBER_STYLES: tuple[NumberStyle, ...] = (
    {},
    {"thousands": ","},
    {"decimal": ",", "thousands": "."},
    {"decimal": ",", "thousands": " "},
)
GROUPED = {
    "": r"\d+(\.\d+)?",
    ",": r"\d{1,3}(,\d{3})*(\.\d+)?|\d+(\.\d+)?",
    ".": r"\d{1,3}(\.\d{3})*(,\d+)?|\d+(,\d+)?",
    " ": r"\d{1,3}([ \x{00A0}\x{202F}]\d{3})*(,\d+)?|\d+(,\d+)?",
}
"""How numbers look in each separator style: thousands separators group exactly three digits, so
``7,25`` is a decimal comma, not seven hundred and twenty-five."""
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%d/%m/%Y", "%Y.%m.%d", "%Y年%m月%d日")
TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%Y%m%d%H%M%S",
    "%Y-%m-%d %H:%M:%S.%f",
)
TIME_HINT = re.compile(
    r"time|date|_at$|^at$|created|updated|^ts$|day|时间|日期|生日|出生|birth|dob", re.IGNORECASE
)
"""A column name that allows numbers to be read as time (epoch seconds / milliseconds, Excel serials)."""
ID_HINT = re.compile(r"(^|_)(id|no|num|code|card)$|^id|编号|单号|卡号|号码|流水", re.IGNORECASE)
"""A column name saying its values are identifiers (kept as text, candidates for ``record_id``)."""
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
    "欧司"
)
COMPOUND_SURNAMES = ("诸葛", "上官", "欧阳", "司马", "东方", "慕容", "皇甫", "令狐")
"""The most common Chinese surnames: a 2–4 character value starting with one is read as a personal
name rather than a city or a product."""
OPENID = re.compile(r"o[A-Za-z0-9_-]{27}")
CHINESE_NAME = re.compile(r"[\u4e00-\u9fff·]{2,4}")


def _chinese_name(value: str) -> bool:
    return CHINESE_NAME.fullmatch(value) is not None and (
        value[0] in SURNAMES or value[:2] in COMPOUND_SURNAMES
    )


VALUE_KINDS = (
    ("mobile", "China mobiles", lambda v: normalize_mobile(v) is not None),
    (
        "national_id",
        "18-digit ID numbers with a valid checksum",
        lambda v: normalize_national_id(v) is not None,
    ),
    ("email", "email addresses", lambda v: normalize_email(v) is not None),
    ("wechat_id", "wxid_ WeChat ids", lambda v: v.lower().startswith("wxid_")),
    ("openid", "28-character OpenIDs", lambda v: OPENID.fullmatch(v) is not None),
    ("gender", "genders", lambda v: normalize_gender(v) is not None),
    ("person_name", "Chinese personal names", _chinese_name),
)


HEADER_KINDS = (
    ("person_name", re.compile(r"姓名|名字|联系人|收货人|(^|_)name$|^name", re.IGNORECASE)),
    ("birth_date", re.compile(r"生日|出生|birth|dob", re.IGNORECASE)),
    ("city", re.compile(r"城市|city", re.IGNORECASE)),
    ("address", re.compile(r"地址|address", re.IGNORECASE)),
    ("company", re.compile(r"公司|单位|company", re.IGNORECASE)),
    ("member_id", re.compile(r"会员|卡号|member|card", re.IGNORECASE)),
    ("postcode", re.compile(r"邮编|postcode|zip", re.IGNORECASE)),
    ("device_id", re.compile(r"设备|device|idfa|oaid", re.IGNORECASE)),
    ("store", re.compile(r"门店|store", re.IGNORECASE)),
)
"""Kinds a column's values cannot prove but its name can (a city looks like any other word)."""
WEAK_VALUE_KINDS = {"person_name", "gender"}
"""Kinds whose values are weak evidence: a column named city holding 上海 is a city, not a name."""
TEXT_KINDS = {"mobile", "national_id", "email", "wechat_id", "openid", "member_id", "postcode", "device_id"}
ARROW_TYPES = (
    (pa.types.is_boolean, "boolean"),
    (pa.types.is_integer, "integer"),
    (pa.types.is_floating, "double"),
    (pa.types.is_decimal, "double"),
    (pa.types.is_timestamp, "timestamp"),
    (pa.types.is_date, "date"),
)


@dataclass
class ColumnDraft:
    """A column's proposed declaration (``spec``), identity kind and the evidence for both."""

    name: str
    spec: dict[str, Any]
    kind: str | None = None
    kind_note: str = ""
    notes: list[str] = field(default_factory=list)
    unique: bool = False
    values: list[str] = field(default_factory=list)

    @property
    def type(self) -> str:
        return self.spec["type"]


def draft_column(
    con: duckdb.DuckDBPyConnection, name: str, column: pa.ChunkedArray, kinds: set[str], *, excel: bool
) -> ColumnDraft:
    """The declaration of one column of a sample, from all its values."""
    raw = column.to_pylist()
    values = [str(v).strip() for v in raw if v is not None and str(v).strip()]
    draft = ColumnDraft(name, {"type": "varchar"}, values=values, unique=len(set(values)) == len(raw) > 1)
    if values and len(values) == len(raw):
        draft.spec["required"] = True
    if not values:
        draft.notes.append("always empty in the sample")
        return draft
    draft.kind, evidence = identity_kind(name, values, kinds)
    typed = next((t for test, t in ARROW_TYPES if test(column.type)), None)
    if typed:
        draft.spec["type"] = typed
        draft.notes.append(f"typed {column.type} in the file")
    elif draft.kind in TEXT_KINDS or ID_HINT.search(name) or _kept_as_text(values):
        draft.notes.append("identifiers: kept as text")
    else:
        _type_text(con, draft, excel=excel)
    if draft.kind == "birth_date" and draft.type not in ("date", "timestamp"):
        draft.kind = None
    elif draft.kind:
        draft.kind_note = evidence
    return draft


def _kept_as_text(values: list[str]) -> bool:
    """Leading zeros, a plus sign or more digits than a number holds: codes and phone numbers."""
    return any(re.fullmatch(r"0\d+|\+.*|\d{16,}", v) for v in values)


def identity_kind(name: str, values: list[str], kinds: set[str]) -> tuple[str | None, str]:
    """The identity kind the values show (the largest share ≥ KIND_SHARE), else the one the column
    name says; only kinds the deployment declares."""
    folded = [fold_width(v) for v in values[:5000]]
    shares = [
        (sum(1 for v in folded if test(v)) / len(folded), kind, label)
        for kind, label, test in VALUE_KINDS
        if kind in kinds
    ]
    share, kind, label = max(shares, default=(0.0, None, ""))
    hinted = next((k for k, pattern in HEADER_KINDS if k in kinds and pattern.search(name)), None)
    if kind and share >= KIND_SHARE and not (hinted and kind in WEAK_VALUE_KINDS):
        return kind, f"{share:.0%} {label}"
    if hinted == "birth_date" and sum(normalize_date(v) is not None for v in folded) < KIND_SHARE * len(
        folded
    ):
        hinted = None
    return hinted, f"the column name says {hinted}"


def _type_text(con: duckdb.DuckDBPyConnection, draft: ColumnDraft, *, excel: bool) -> None:
    """Boolean, then date / timestamp, then numbers: the first that reads MIN_SHARE of the values."""
    values = draft.values
    words = {w.lower() for w in TRUE_WORDS + FALSE_WORDS}
    if all(v.lower() in words for v in values) and not all(v.isdigit() for v in values):
        draft.spec["type"] = "boolean"
        draft.notes.append(f"yes / no values: {', '.join(sorted(set(values))[:4])}")
        return
    distinct = sorted(set(values))
    con.register(
        "sample",
        pa.table(
            {
                "v": pa.array(distinct, pa.string()),
                "n": pa.array([values.count(v) for v in distinct], pa.int64()),
            }
        ),
    )
    try:
        if _time_type(con, draft, time_hint=bool(TIME_HINT.search(draft.name)), excel=excel):
            return
        _number_type(con, draft)
    finally:
        con.unregister("sample")


def _time_type(con: duckdb.DuckDBPyConnection, draft: ColumnDraft, *, time_hint: bool, excel: bool) -> bool:
    """Date or timestamp formats covering MIN_SHARE of the values, chosen greedily (the format
    reading most values first; a column mixing ``19560409`` and Excel serials gets both)."""
    candidates = [("date", f) for f in DATE_FORMATS] + [("timestamp", f) for f in TIME_FORMATS]
    if time_hint:
        candidates += [("timestamp", "epoch_s"), ("timestamp", "epoch_ms")] + (
            [("date", "excel")] if excel else []
        )
    checks = []
    for kind, fmt in candidates:
        value = parse_sql(ColumnSpec("v", kind, formats=(fmt,)), "v", True, Clock())
        low = 2000 if fmt.startswith("epoch") else 1900
        checks.append(f"coalesce(year({value}) BETWEEN {low} AND 2100, false)")
    rows = con.execute(f"SELECT v, n, [{', '.join(checks)}] FROM sample").fetchall()
    total = sum(n for _, n, _ in rows)
    chosen, covered = [], set()
    while True:
        gains = [sum(n for v, n, ok in rows if ok[i] and v not in covered) for i in range(len(candidates))]
        best = max(range(len(candidates)), key=lambda i: gains[i])
        if gains[best] == 0:
            break
        chosen.append(candidates[best])
        covered |= {v for v, _, ok in rows if ok[best]}
    read = sum(n for v, n, _ in rows if v in covered)
    if not chosen or read < MIN_SHARE * total:
        return False
    is_time = any(fmt.startswith("epoch") for _, fmt in chosen) or any(_has_time(v) for v in covered)
    formats = [fmt for _, fmt in chosen]
    draft.spec["type"] = "timestamp" if is_time else "date"
    draft.spec["format"] = formats[0] if len(formats) == 1 else formats
    _note_read(draft, read, total, [v for v, _, _ in rows if v not in covered], " / ".join(formats))
    return True


def _has_time(value: str) -> bool:
    """A time of day other than midnight (``09:30``, an Excel serial's fraction ``.5``)."""
    clock = re.search(r"\d{1,2}:\d{2}(:\d{2})?(\.\d+)?", value)
    if clock:
        return bool(re.sub(r"[0:.]", "", clock.group()))
    return bool(re.fullmatch(r"\d+\.\d*[1-9]\d*", value))


def _number_type(con: duckdb.DuckDBPyConnection, draft: ColumnDraft) -> None:
    """Integer or double, with the separators (and currency marks) the partner writes."""
    checks = []
    for style in NUMBER_STYLES:
        as_int = parse_sql(ColumnSpec("v", "integer", **style), "v", True, Clock())
        as_double = parse_sql(ColumnSpec("v", "double", **style), "v", True, Clock())
        shaped = f"regexp_matches(v, '^[^0-9]*[+-]?({GROUPED[style.get('thousands', '')]})[^0-9]*$')"
        whole = f"NOT contains(v, '{style.get('decimal', '.')}')"  # 1,280.00 is money, not a count
        checks += [
            f"sum(n) FILTER (WHERE {shaped} AND {as_double} IS NOT NULL "
            f"AND {as_int} = {as_double} AND {whole})",
            f"sum(n) FILTER (WHERE {shaped} AND {as_double} IS NOT NULL)",
        ]
    counts = [c or 0 for c in con.execute(f"SELECT {', '.join(checks)}, sum(n) FROM sample").fetchall()[0]]
    total = counts.pop()
    best = max(range(len(NUMBER_STYLES)), key=lambda i: (counts[2 * i + 1], -i))
    read = counts[2 * best + 1]
    if read < MIN_SHARE * total:
        draft.notes.append("text")
        return
    style = NUMBER_STYLES[best]
    draft.spec["type"] = "integer" if counts[2 * best] == read else "double"
    draft.spec.update(style)
    parsed = parse_sql(ColumnSpec("v", "double", **style), "v", True, Clock())
    unread = [v for (v,) in con.execute(f"SELECT v FROM sample WHERE {parsed} IS NULL").fetchall()]
    how = draft.type
    if style:
        how += (
            f" (decimal '{style.get('decimal', '.')}', thousands '{style['thousands']}', "
            "currency marks dropped)"
        )
    _note_read(draft, read, total, unread, how)


def _note_read(draft: ColumnDraft, read: int, total: int, unread: list[str], how: str) -> None:
    note = f"{read} of {total} values read as {how}"
    if unread:
        note += f"; {total - read} would be quarantined ({', '.join(unread[:3])})"
    draft.notes.append(note)
