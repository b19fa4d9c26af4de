"""Hand-built identity inputs the Spark tests hold both engines to: partners' raw values typed the
ways partners type them, with pins and a front-desk phone, and a random population of people."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

SHIPPED = Path(__file__).parents[2] / "config" / "identity.yaml"
PINS = """
pins:
  cannot_link:
    - {a: {source: crm, record_id: c1}, b: {source: pos, record_id: p1}}
  must_link:
    - {a: {source: crm, record_id: c2}, b: {kind: mobile, value: "+86 137-1111-2222"}}
    - {a: {source: crm, record_id: c3}, b: {kind: member_id, value: "vip-0042"}}
"""
DESK_PHONE = "021-6888 0000"  # a store's front desk, given by every walk-in customer
ROWS = [
    ("crm", "c1", "record", "mobile", "", "13912345678", 1),
    ("crm", "c1", "record", "person_name", "", "张伟", 1),
    ("pos", "p1", "record", "mobile", "", "139 1234 5678", 2),
    ("pos", "p1", "record", "person_name", "", "ZHANG Wei", 2),
    ("shop", "s1", "record", "mobile", "", "+86 139-1234-5678", 2),
    ("crm", "c2", "record", "email", "", "Li.Na@Example.CN", 3),
    ("crm", "c2", "record", "email", "", "not-an-email", 3),
    ("pos", "p2", "record", "mobile", "", "13711112222", 4),
    ("pos", "p2", "record", "mobile", "", "13800000000", 4),  # a placeholder
    ("crm", "c3", "record", "national_id", "", "11010519491231002X", 5),
    ("crm", "c4", "record", "member_id", "", "VIP-0042", 5),
    ("app", "a1", "actor", "openid", "wx_mp", "oAbC123", 6),
    ("app", "a2", "actor", "openid", "wx_oa", "oAbC123", 6),
    ("app", "a2", "actor", "favourite_colour", "", "red", 6),  # not a declared kind
] + [  # five walk-in customers giving the store clerk's mobile: the guard refuses it
    row
    for i, name in enumerate(["王芳", "李娜", "刘洋", "陈静", "杨帆"])
    for row in (
        ("pos", f"w{i}", "record", "mobile", "", "137 0000 1111", 7),
        ("pos", f"w{i}", "record", "person_name", "", name, 7),
    )
]


def rows_of(frame: pl.DataFrame) -> list[tuple]:
    return sorted(frame.iter_rows())


def partners_rows(rng: np.random.Generator, people: int) -> list[tuple]:
    """Raw rows as partners send them: each person's orders, receipts and sign-ups, a mobile on some
    (typed with a space or a +86, or one digit wrong), a name (strangers share the common ones),
    the city and store, now and then a birth date; and cash sales carrying only a store and a city."""
    rows: list[tuple] = []
    names = ["王伟", "李娜", "张敏", "刘洋", "陈静", "王芳", "ZHANG Min", "Li Na"]
    for person in range(people):
        name, city, store = (
            names[rng.integers(len(names))],
            ["上海", "北京", "成都"][person % 3],
            f"S{person % 9}",
        )
        mobile = f"139{person:08d}"
        for n in range(int(rng.integers(1, 5))):
            record, hours = (["shop", "pos", "expo"][n % 3], f"p{person}-{n}"), person * 7 + n
            given = [("person_name", name), ("city", city), ("store", store)]
            if rng.random() < 0.5:
                typo = mobile[:-1] + str((int(mobile[-1]) + 3) % 10) if rng.random() < 0.15 else mobile
                given.append(
                    ("mobile", rng.choice([typo, f"+86 {typo}", f"{typo[:3]} {typo[3:7]} {typo[7:]}"]))
                )
            if rng.random() < 0.3:
                given.append(("birth_date", f"19{70 + person % 30}-0{1 + person % 9}-1{person % 10}"))
            rows += [(*record, "record", kind, "", value, hours) for kind, value in given]
    for sale in range(people // 10):  # cash sales: a store and a city, nobody we know
        rows += [
            ("pos", f"cash{sale}", "record", kind, "", value, sale)
            for kind, value in (("store", "S1"), ("city", "上海"))
        ]
    return rows
