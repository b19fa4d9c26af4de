"""The failure modes of identity on other people's data (issue 14), each on small hand-built records:
one-digit mobile typos, guarded values as conflicts, swapped name order, relatives on one phone,
a common name in a big city — and name-only overlap, which must stay apart."""

import random

import polars as pl

from tests.identity.helpers import ids, run

SURNAMES = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周"]
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰"
CITIES = ["上海", "北京", "广州", "深圳", "成都", "杭州", "武汉", "南京", "西安", "重庆"]
CITY_WEIGHTS = [30, 10, 10, 10, 8, 8, 8, 6, 5, 5]


def background(n: int = 400, seed: int = 3) -> list[tuple]:
    """People with a member card on two receipts carrying their name, birth date, city, gender and
    mobile: what the model learns m and u from."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        city = rng.choices(CITIES, CITY_WEIGHTS)[0]
        born = f"19{rng.randrange(50, 99)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 28):02d}"
        mobile, gender = f"139{rng.randrange(10**7, 10**8)}", rng.choice("男女")
        for k in range(2):
            rid = f"bg{i}-{k}"
            values = {
                "member_id": f"MB{i}",
                "city": city,
                "person_name": name,
                "birth_date": born,
                "gender": gender,
                "mobile": mobile,
            }
            rows += [("pos", rid, "record", kind, "", value, k) for kind, value in values.items()]
    return rows


def person(rid: str, hours: int = 100, **kinds: str) -> list[tuple]:
    return [("crm", rid, "record", kind, "", value, hours) for kind, value in kinds.items()]


def test_mobiles_one_typo_apart_with_the_same_name_birth_date_and_city_are_one_person():
    rows = background()
    rows += person("a1", person_name="欧阳娜娜", birth_date="1988-03-04", city="杭州", mobile="13912345678")
    rows += person("a2", person_name="欧阳娜娜", birth_date="1988-03-04", city="杭州", mobile="13912345670")
    rows += person("b1", person_name="司马明", birth_date="1979-11-21", city="成都", mobile="13687654321")
    rows += person("b2", person_name="司马明", birth_date="1979-11-21", city="成都", mobile="13687654312")
    found = ids(run(rows))
    assert found["crm/a1"] == found["crm/a2"]  # one substitution
    assert found["crm/b1"] == found["crm/b2"]  # one adjacent transposition


def test_mobiles_differing_in_more_than_one_typo_still_conflict():
    rows = background()
    rows += person("a1", person_name="欧阳娜娜", birth_date="1988-03-04", city="杭州", mobile="13912345678")
    rows += person("a2", person_name="欧阳娜娜", birth_date="1988-03-04", city="杭州", mobile="13912399978")
    found = ids(run(rows))
    assert found["crm/a1"] != found["crm/a2"]


def test_a_shared_store_tablet_wechat_id_does_not_split_a_member_card():
    rows = background(100)
    rows += person("own", member_id="M-A", wechat_id="wxid_alice", person_name="欧阳娜娜")
    rows += person("tablet", member_id="M-A", wechat_id="wxid_store_tablet")
    for k in range(5):  # the tablet's id seen with five other people's cards and names
        rows += person(
            f"other{k}", member_id=f"M-O{k}", wechat_id="wxid_store_tablet", person_name=f"路人{k}"
        )
    result = run(rows)
    found = ids(result)
    assert found["crm/own"] == found["crm/tablet"]
    assert len({found[f"crm/other{k}"] for k in range(5)}) == 5
    assert "wxid_store_tablet" in result.guarded.get_column("value").to_list()


def test_a_cashiers_number_is_neutral_evidence_in_matching():
    rows = background()
    for k in range(5):  # the cashier's number typed for five card holders
        rows += person(f"card{k}", member_id=f"M-C{k}", mobile="13600001111", person_name=f"顾客{k}")
    rows += person("r1", person_name="欧阳娜娜", birth_date="1988-03-04", city="杭州", mobile="13600001111")
    rows += person("r2", person_name="欧阳娜娜", birth_date="1988-03-04", city="杭州", mobile="13912345678")
    rows += person("cashier-only", mobile="13600001111", store="S001")
    found = ids(run(rows))
    assert found["crm/r1"] == found["crm/r2"]
    assert found["crm/cashier-only"] is None  # like a placeholder: nobody we know


def test_names_match_in_any_order_in_pinyin_and_in_characters():
    rows = background()
    rows += person("z1", person_name="张伟", birth_date="1985-06-07", city="南京", member_id="M-Z")
    rows += person(
        "z2", person_name="Wei Zhang", birth_date="1985-06-07", city="南京", email="wz@example.com"
    )
    rows += person("s1", person_name="SMITH John", birth_date="1970-01-02", city="北京", member_id="M-S")
    rows += person(
        "s2", person_name="john smith", birth_date="1970-01-02", city="北京", email="js@example.com"
    )
    rows += person("g1", person_name="司马光", birth_date="1991-02-03", city="西安", member_id="M-G")
    rows += person("g2", person_name="光 司马", birth_date="1991-02-03", city="西安", email="g@example.com")
    found = ids(run(rows))
    assert found["crm/z1"] == found["crm/z2"]
    assert found["crm/s1"] == found["crm/s2"]
    assert found["crm/g1"] == found["crm/g2"]


def test_relatives_with_related_names_on_one_phone_stay_apart():
    rows = background()
    rows += person("liu1", person_name="刘洋", mobile="13711112222", hours=1)
    rows += person("liu2", person_name="刘燕", mobile="13711112222", hours=2)
    rows += person("liu3", person_name="Liu Yang", mobile="13711112222", hours=3)
    rows += person("chen1", person_name="陈桂兰", mobile="13733334444", hours=1)
    rows += person("chen2", person_name="陈兰", mobile="13733334444", hours=2)
    found = ids(run(rows))
    assert found["crm/liu1"] != found["crm/liu2"]
    assert found["crm/liu1"] == found["crm/liu3"]
    assert found["crm/chen1"] != found["crm/chen2"]


def test_a_common_name_in_a_big_city_is_no_evidence_on_its_own():
    rows = background()
    for k in range(8):  # 张秀英 is a common name: eight card holders in the smaller cities
        rows += person(
            f"card{k}", person_name="张秀英", city=CITIES[1 + k], gender="女", member_id=f"M-ZXY{k}"
        )
    rows += person("zxy1", person_name="张秀英", city="上海", gender="女")
    rows += person("zxy2", person_name="张秀英", city="上海", gender="女")
    rows += person("rare1", person_name="欧阳娜娜", city="杭州", gender="女", member_id="M-R")
    rows += person("rare2", person_name="欧阳娜娜", city="杭州", gender="女")
    found = ids(run(rows))
    assert found["crm/zxy1"] != found["crm/zxy2"]
    assert found["crm/rare1"] == found["crm/rare2"]


def test_records_sharing_only_a_name_stay_apart():
    rows = background()
    rows += person("n1", person_name="欧阳娜娜", member_id="M-N1")
    rows += person("n2", person_name="欧阳娜娜")
    found = ids(run(rows))
    assert found["crm/n1"] != found["crm/n2"]


def test_the_model_is_fitted_on_the_deployments_candidates_and_reports_its_change():
    rows = background()
    first = run(rows)
    weights = first.match_weights
    assert {"mobile", "person_name", "birth_date"} <= set(weights)
    assert weights["mobile"]["levels"][0]["m"] > weights["mobile"]["levels"][-1]["m"]
    rows += person("x1", person_name="欧阳娜娜", birth_date="1988-03-04", city="杭州", mobile="13912345678")
    second = run(rows, previous=first)
    assert set(second.match_weight_changes) == set(weights)
    assert all(isinstance(v, float) for v in second.match_weight_changes.values())
    assert pl.Series(list(second.match_weight_changes.values())).abs().max() < 5


def test_a_record_with_only_a_family_phone_goes_to_its_owner_or_to_nobody():
    rows = background(100)
    rows += [
        r for k in range(4) for r in person(f"head{k}", person_name="刘洋", mobile="13755556666", hours=k)
    ]
    rows += person("child", person_name="王芳", mobile="13755556666", hours=5)
    rows += person("phone-only", mobile="13755556666", store="S001", hours=6)
    rows += person("mum", person_name="陈静", mobile="13766667777", hours=1)
    rows += person("dad", person_name="赵强", mobile="13766667777", hours=2)
    rows += person("shared-only", mobile="13766667777", store="S001", hours=3)
    found = ids(run(rows))
    assert found["crm/phone-only"] == found["crm/head0"] != found["crm/child"]
    assert found["crm/shared-only"] not in (found["crm/mum"], found["crm/dad"])


def family_phone_rows() -> list[tuple]:
    """A phone the parent gives on four receipts at store S001 and the child on two at S002."""
    rows = [
        r
        for k in range(4)
        for r in person(f"parent{k}", person_name="刘洋", mobile="13755556666", store="S001", hours=k)
    ]
    rows += [
        r
        for k in range(2)
        for r in person(f"child{k}", person_name="王芳", mobile="13755556666", store="S002", hours=4 + k)
    ]
    return rows


def test_a_record_with_only_a_family_phone_goes_to_the_holder_seen_at_its_store():
    """By records alone the parent owns the phone (4 of 6); the store tells a receipt carrying only
    the phone apart: at the child's store it is the child's, at the parent's the parent's."""
    rows = background(100) + family_phone_rows()
    rows += person("phone-at-S002", mobile="13755556666", store="S002", hours=8)
    rows += person("phone-at-S001", mobile="13755556666", store="S001", hours=9)
    rows += person("phone-only", mobile="13755556666", hours=10)
    found = ids(run(rows))
    assert found["crm/parent0"] != found["crm/child0"]
    assert found["crm/phone-at-S002"] == found["crm/child0"]
    assert found["crm/phone-at-S001"] == found["crm/parent0"]
    assert found["crm/phone-only"] == found["crm/parent0"]  # no store: the owner by records


def test_a_fragment_matching_two_people_goes_to_the_one_with_far_more_evidence():
    rows = background()
    rows += person(
        "a", member_id="M-A", person_name="欧阳娜娜", city="杭州", gender="女", birth_date="1990-01-01"
    )
    rows += person("b", member_id="M-B", person_name="欧阳娜娜", city="杭州", gender="女")
    rows += person("fragment", person_name="欧阳娜娜", city="杭州", gender="女", birth_date="1990-01-01")
    rows += person("c", member_id="M-C", person_name="司马明", store="S002")
    rows += person("d", member_id="M-D", person_name="司马明", store="S002")
    rows += person("walk-in", person_name="司马明", store="S002")
    found = ids(run(rows))
    assert found["crm/fragment"] == found["crm/a"] != found["crm/b"]
    assert found["crm/walk-in"] not in (found["crm/c"], found["crm/d"])


def presence_rows() -> list[tuple]:
    """Two 欧阳娜娜 with accounts; a beacon saw the first one's phone (IDFA1) in store S009 at 14:00
    and 14:15 on 2 May; shoppers whose two receipts are in other slots (what visits say by chance)."""
    rows = background(100)
    for i in range(100):
        rows += [
            ("pos", f"v{i}-{k}", "record", kind, "", value, k)
            for k in range(2)
            for kind, value in {"member_id": f"MB{i}", "store": "S001", "visit": f"S001@{i:03d}-{k}"}.items()
        ]
    rows += person("acct", platform_account="tm_nana", person_name="欧阳娜娜", city="杭州", device_id="IDFA1")
    rows += person("homonym", platform_account="tm_other", person_name="欧阳娜娜", city="杭州")
    return rows + [
        ("beacon", "phone", "actor", "device_id", "", "IDFA1", 30),
        ("beacon", "phone", "actor", "visit", "", "S009@2026-05-02 14:00", 30),
        ("beacon", "phone", "actor", "visit", "", "S009@2026-05-02 14:15", 30),
    ]


def name_only_receipt(rid: str, visit: str, hours: int) -> list[tuple]:
    receipt = {"person_name": "欧阳娜娜", "store": visit.split("@")[0], "visit": visit}
    return [("pos", rid, "record", kind, "", value, hours) for kind, value in receipt.items()]


def test_a_name_only_receipt_joins_the_person_whose_phone_was_in_the_store_with_it():
    """The receipt names 欧阳娜娜 at a store neither 欧阳娜娜 was ever seen buying in; a beacon saw the
    first one's phone there in the receipt's 15-minute slot (feeds' presence:)."""
    rows = presence_rows() + name_only_receipt("receipt", "S009@2026-05-02 14:00", 31)
    found = ids(run(rows))
    assert found["pos/receipt"] == found["crm/acct"] != found["crm/homonym"]
