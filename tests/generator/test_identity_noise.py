"""The identity noise kinds of issue 14 are in the generated data, with their truth."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from pypinyin import lazy_pinyin

from generator import generate
from generator.identity_noise import COMMON_NAMES
from tests.generator.test_generator import read_feed

PEOPLE = 3000


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("landing")
    generate(PEOPLE, 11, out, date(2026, 5, 1), date(2026, 7, 31))
    return out


@pytest.fixture(scope="module")
def people(landing: Path) -> pl.DataFrame:
    return pl.read_csv(landing / "_truth/people.csv", infer_schema=False)


def with_truth(landing: Path, feed: str, id_column: str) -> pl.DataFrame:
    truth = pl.read_csv(landing / "_truth/records.csv", infer_schema=False)
    people = pl.read_csv(landing / "_truth/people.csv", infer_schema=False)
    return (
        read_feed(landing, feed)
        .join(truth, left_on=id_column, right_on="record_id")
        .join(people, on="person_id", suffix="_true")
    )


def one_typo(a: str, b: str) -> bool:
    if len(a) != len(b) or a == b:
        return False
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]])


def test_common_names_gather_in_the_biggest_city(people):
    common = {s + g1 + g2 for s, g1, g2, _ in COMMON_NAMES}
    shanghai = people.filter(pl.col("city") == "上海")
    holders = shanghai.filter(pl.col("name").is_in(list(common)))
    assert holders.height >= 2
    assert (
        holders.height / shanghai.height
        > 2 * people.filter(pl.col("name").is_in(list(common))).height / people.height
    )


def test_household_members_have_related_names(people):
    households = people.drop_nulls("household").group_by("household").agg(pl.col("name"))
    related = 0
    for names in households.get_column("name").to_list():
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                related += a != b and a[0] == b[0] and bool(set(a[1:]) & set(b[1:]))
    assert related >= 3


def test_typod_mobiles_belong_to_the_same_person(landing):
    orders = with_truth(landing, "ecommerce_orders", "order_id").filter(
        pl.col("receiver_mobile").str.contains(r"^1\d{10}$")
    )
    typos = [
        r
        for r in orders.select("receiver_mobile", "mobile", "mobile_new").iter_rows()
        if any(one_typo(r[0], own) for own in r[1:] if own)
    ]
    assert typos


def test_names_are_written_in_swapped_order(landing):
    orders = with_truth(landing, "ecommerce_orders", "order_id").drop_nulls("receiver_name")
    swapped = orders.filter(
        pl.col("receiver_name") == pl.col("name").str.slice(1) + " " + pl.col("name").str.slice(0, 1)
    )
    assert swapped.height > 0
    romanised = orders.filter(pl.col("receiver_name").str.contains(r"^[A-Z][a-z]+ [A-Z][a-z]+$"))
    given_first = [
        written
        for written, name in romanised.select("receiver_name", "name").iter_rows()
        if written.split()[1].lower() == lazy_pinyin(name[0])[0]
    ]
    assert given_first


def test_shared_devices_carry_many_people(landing):
    expo = with_truth(landing, "expo_registrations", "registration_id")
    tablet = expo.filter(pl.col("wxid").str.starts_with("wxid_tablet_"))
    assert tablet.get_column("person_id").n_unique() >= 2
    pos = with_truth(landing, "pos_transactions", "txn_id")
    cashier = (
        pos.filter(pl.col("mobile").str.starts_with("1999"))
        .group_by("mobile")
        .agg(pl.col("person_id").n_unique())
    )
    assert cashier.get_column("person_id").max() >= 2
