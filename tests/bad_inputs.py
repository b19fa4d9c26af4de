"""Every kind of bad partner file, as writers that drop it into a landing zone plus the accounting
the loader must give it. Shared by the per-kind loader test and the whole-pipeline test, so the
catalogue is tried on its own and all at once."""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.landing_builder import DAY, order, pos, write_csv, write_parquet

LATE_DAY = "2026-04-20"  # a partition older than the small landing zone's day
EVIL = "x'); DROP TABLE raw.pos_transactions; --"
HUGE = "长" * 300_000  # ~900 kB of UTF-8 in one field
CONTROL = "a\x00b\x07c\x1bd\x7fe"


@dataclass(frozen=True)
class BadInput:
    kind: str
    feed: str
    write: Callable[[Path], Path]  # writes the file under <landing>/<feed>/<day>/, returns its path
    rows_in: int
    loaded: int
    quarantined: int
    status: str = "loaded"
    day: str = DAY


def _folder(landing: Path, feed: str, day: str = DAY) -> Path:
    return landing / feed / day


def _pos_csv(name: str, rows: list[dict], encoding: str = "gb18030") -> Callable[[Path], Path]:
    return lambda landing: write_csv(_folder(landing, "pos_transactions") / name, rows, encoding)


def _text(feed: str, name: str, text: str, encoding: str = "utf-8", day: str = DAY) -> Callable[[Path], Path]:
    def write(landing: Path) -> Path:
        path = _folder(landing, feed, day) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode(encoding))
        return path

    return write


def _csv_text(rows: list[dict], delimiter: str = ",") -> str:
    import csv

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), delimiter=delimiter, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _renamed_copy(landing: Path) -> Path:
    original = _pos_csv("bad_gbk.csv", [pos("B-GBK1", name="王芳"), pos("B-GBK2", name="李娜")], "gbk")(
        landing
    )
    copy = original.with_name("bad_gbk_resent.csv")
    shutil.copyfile(original, copy)
    return copy


def _reordered(landing: Path) -> Path:
    row = pos("B-RE1", amount=77.0)
    reordered = {k: row[k] for k in reversed(list(row))}
    return write_csv(
        _folder(landing, "pos_transactions") / "bad_reordered.csv",
        [reordered, {**reordered, "txn_id": "B-RE2"}],
    )


def _truncated(landing: Path) -> Path:
    text = _csv_text([pos("B-TR1"), pos("B-TR2"), pos("B-TR3")])
    return _text("pos_transactions", "bad_truncated.csv", text[: text.rindex(",20")], "gb18030")(landing)


def _missing_column(landing: Path) -> Path:
    rows = [{k: v for k, v in pos(f"B-MI{i}").items() if k != "amount"} for i in (1, 2)]
    return write_csv(_folder(landing, "pos_transactions") / "bad_missing_amount.csv", rows)


BAD_INPUTS: list[BadInput] = [
    BadInput(
        "utf-8",
        "ecommerce_orders",
        lambda landing: write_csv(
            _folder(landing, "ecommerce_orders") / "bad_utf8.csv",
            [order("B-U1", "tmall", "tb_u1", name="张伟"), order("B-U2", "tmall", "tb_u2")],
        ),
        2,
        2,
        0,
    ),
    BadInput(
        "utf-8 with BOM",
        "ecommerce_orders",
        lambda landing: write_csv(
            _folder(landing, "ecommerce_orders") / "bad_bom.csv",
            [order("B-BOM1", "jd", "jd_b1", name="刘洋")],
            "utf-8-sig",
        ),
        1,
        1,
        0,
    ),
    BadInput(
        "GBK",
        "pos_transactions",
        _pos_csv("bad_gbk.csv", [pos("B-GBK1", name="王芳"), pos("B-GBK2", name="李娜")], "gbk"),
        2,
        2,
        0,
    ),
    BadInput(
        "GB18030 (4-byte characters)",
        "ecommerce_orders",
        lambda landing: write_csv(
            _folder(landing, "ecommerce_orders") / "bad_gb18030.csv",
            [order("B-GB1", "tmall", "tb_gb1", name="王𠀀")],
            "gb18030",
        ),
        1,
        1,
        0,
    ),
    BadInput("same file under another name", "pos_transactions", _renamed_copy, 0, 0, 0, "duplicate_content"),
    BadInput(
        "wrong delimiter",
        "pos_transactions",
        _text("pos_transactions", "bad_semicolons.csv", _csv_text([pos("B-SC1"), pos("B-SC2")], ";")),
        2,
        0,
        2,
        "rejected",
    ),
    BadInput(
        "quoted newlines",
        "pos_transactions",
        _pos_csv(
            "bad_newlines.csv", [pos("B-NL1", name="王\n芳"), {**pos("B-NL2"), "store_id": 'S01,"x"\n'}]
        ),
        2,
        2,
        0,
    ),
    BadInput("truncated last line", "pos_transactions", _truncated, 3, 2, 1),
    BadInput("empty file", "pos_transactions", _text("pos_transactions", "bad_empty.csv", ""), 0, 0, 0),
    BadInput(
        "header only",
        "pos_transactions",
        _text("pos_transactions", "bad_header_only.csv", ",".join(pos("x")) + "\n"),
        0,
        0,
        0,
    ),
    BadInput(
        "extra columns",
        "pos_transactions",
        _pos_csv("bad_extra.csv", [{**pos("B-EX1"), "loyalty_tier": "gold", "notes": "vip"}]),
        1,
        1,
        0,
    ),
    BadInput("missing required column", "pos_transactions", _missing_column, 2, 0, 2, "rejected"),
    BadInput("reordered columns", "pos_transactions", _reordered, 2, 2, 0),
    BadInput(
        "wrong types",
        "pos_transactions",
        _pos_csv(
            "bad_types.csv",
            [pos("B-WT1"), {**pos("B-WT2"), "quantity": "three"}, {**pos("B-WT3"), "amount": "12,5元"}],
        ),
        3,
        1,
        2,
    ),
    BadInput(
        "impossible dates",
        "pos_transactions",
        _pos_csv(
            "bad_dates.csv",
            [
                pos("B-DT1"),
                pos("B-DT2", time="2026-02-30 10:00:00"),
                pos("B-DT3", time="2026-13-01 25:61:00"),
            ],
        ),
        3,
        1,
        2,
    ),
    BadInput(
        "duplicate rows",
        "pos_transactions",
        _pos_csv("bad_duplicates.csv", [pos("B-DU1"), pos("B-DU1"), pos("B-DU2")]),
        3,
        2,
        1,
    ),
    BadInput(
        "late file for an old partition",
        "pos_transactions",
        lambda landing: write_csv(
            _folder(landing, "pos_transactions", LATE_DAY) / "late.csv",
            [pos("B-LATE1", amount=42.0, time=f"{LATE_DAY} 11:00:00")],
            "gb18030",
        ),
        1,
        1,
        0,
        day=LATE_DAY,
    ),
    BadInput(
        "huge field",
        "pos_transactions",
        _pos_csv("bad_huge.csv", [pos("B-HU1", name=HUGE)], "utf-8"),
        1,
        1,
        0,
    ),
    BadInput(
        "control characters",
        "pos_transactions",
        _pos_csv("bad_control.csv", [pos("B-CC1", name=CONTROL)], "utf-8"),
        1,
        1,
        0,
    ),
    BadInput(
        "SQL-looking strings",
        "pos_transactions",
        _pos_csv(
            "bad_sql.csv", [{**pos("B-SQL1", name=EVIL), "store_id": "S01'; DELETE FROM raw._files; --"}]
        ),
        1,
        1,
        0,
    ),
    BadInput(
        "broken JSON lines",
        "social_interactions",
        lambda landing: _text(
            "social_interactions",
            "bad.jsonl",
            '{"interaction_id": "B-J1", "platform": "douyin", "action": "like", '
            f'"event_time": "{DAY} 08:00:00"}}\n{{"interaction_id": "B-J2", "plat\n[1, 2]\n',
        )(landing),
        3,
        1,
        2,
    ),
    BadInput(
        "corrupt Parquet",
        "ad_events",
        _text("ad_events", "bad.parquet", "PAR1 not really parquet"),
        1,
        0,
        1,
        "rejected",
    ),
    BadInput(
        "Parquet with wrong column types",
        "ad_events",
        lambda landing: write_parquet(
            _folder(landing, "ad_events") / "bad_types.parquet",
            [
                {"event_id": 1, "event_type": "click", "event_time": "yesterday", "cost": "free"},
                {"event_id": 2, "event_type": "click", "event_time": f"{DAY} 09:30:00", "cost": "0.3"},
            ],
        ),
        2,
        1,
        1,
    ),
]


def expected_by_path(landing: Path) -> dict[str, BadInput]:
    """Write every bad input into ``landing``; returns the case of each file, by ledger path."""
    return {
        path.relative_to(landing).as_posix(): case for case in BAD_INPUTS for path in [case.write(landing)]
    }
