"""Normalisers: worked examples and properties that must hold for any input."""

import phonenumbers
import pytest
from hypothesis import given, settings, strategies as st

from assets.identity import normalize as n

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
mobiles = st.builds(
    lambda prefix, rest: prefix + rest,
    st.sampled_from(["130", "139", "150", "166", "177", "186", "199", "145", "174", "192"]),
    st.text("0123456789", min_size=8, max_size=8),
)


@pytest.mark.parametrize(
    "raw, key",
    [
        ("+86 138 0013 8000", "13800138000"),
        ("0086-139-1234-5678", "13912345678"),
        ("86-13912345678", "13912345678"),
        ("１３８００１３８０００", "13800138000"),
        ("021-64381234", None),
        ("10086", None),
        ("00000000000", None),
    ],
)
def test_mobiles(raw, key):
    assert n.normalize_mobile(raw) == key


@given(
    mobiles,
    st.sampled_from(["{}", "+86 {}", "+86{}", "86-{}", "0086 {}", "{a}-{b}-{c}", "{a} {b} {c}", "fw"]),
)
def test_any_notation_of_a_mobile_gives_the_same_key(number, style):
    if style == "fw":
        written = number.translate(FULL_WIDTH)
    else:
        written = style.format(number, a=number[:3], b=number[3:7], c=number[7:])
    assert n.normalize_mobile(written) == n.normalize_mobile(number)


@settings(max_examples=300)
@given(mobiles)
def test_prefix_validation_agrees_with_libphonenumber_on_every_number(number):
    parsed = phonenumbers.parse(number, "CN")
    expected = phonenumbers.is_valid_number(parsed) and phonenumbers.number_type(parsed) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
    assert (n.normalize_mobile(number) is not None) == expected


def test_every_five_digit_prefix_is_judged_as_libphonenumber_judges_it():
    for prefix in (f"1{i:04d}" for i in range(10_000)):
        parsed = phonenumbers.parse(prefix + "123456", "CN")
        expected = phonenumbers.is_valid_number(parsed) and phonenumbers.number_type(parsed) in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        )
        assert (n.normalize_mobile(prefix + "123456") is not None) == expected, prefix


@pytest.mark.parametrize(
    "raw", ["张伟", "張偉", "章伟", "张 伟", "Zhang Wei", "ZHANG Wei", "zhangwei", "ｚｈａｎｇ　ｗｅｉ"]
)
def test_written_forms_of_a_name_share_one_key(raw):
    assert n.normalize_person_name(raw) == "zhangwei"


def test_surname_readings_apply_to_the_first_character_only():
    readings = {"曾": "zeng"}
    assert n.normalize_person_name("曾小曾", readings) == "zengxiaoceng"
    assert n.normalize_person_name("ZENG Xiao Ceng", readings) == "zengxiaoceng"


@pytest.mark.parametrize(
    "raw, key",
    [
        ("上海", "shanghai"),
        ("上海市", "shanghai"),
        ("Shanghai", "shanghai"),
        ("Xi'an", "xian"),
        ("西安市", "xian"),
    ],
)
def test_cities(raw, key):
    assert n.normalize_city(raw) == key


@pytest.mark.parametrize(
    "raw, key",
    [
        ("11010519491231002X", "11010519491231002X"),
        ("110105 19491231 002x", "11010519491231002X"),
        ("110105194912310021", None),
        ("1101051949", None),
    ],
)
def test_national_ids_need_a_valid_check_character(raw, key):
    assert n.normalize_national_id(raw) == key


@pytest.mark.parametrize(
    "raw, key",
    [
        ("1990-01-02", "1990-01-02"),
        ("1990/1/2", "1990-01-02"),
        ("19900102", "1990-01-02"),
        ("1990年1月2日", "1990-01-02"),
        ("1990-02-30", None),
        ("soon", None),
    ],
)
def test_dates(raw, key):
    assert n.normalize_date(raw) == key


@pytest.mark.parametrize(
    "method, raw, key",
    [
        ("device_id", "abcd-ef01", "ABCDEF01"),
        ("device_id", "00000000-0000-0000-0000-000000000000", None),
        ("email", " Zhang.Wei@QQ.com ", "zhang.wei@qq.com"),
        ("email", "not-an-email", None),
        ("company", "上海某某科技有限公司", "上海某某科技"),
        ("company", "Acme Co., Ltd.", "acme"),
        ("gender", "女", "f"),
        ("gender", "Male", "m"),
        ("code", "m-0001", "M0001"),
        ("digits", "200 030", "200030"),
    ],
)
def test_other_kinds(method, raw, key):
    assert n.NORMALISERS[method](raw) == key


@given(st.sampled_from(sorted(n.NORMALISERS)), st.text(max_size=60))
def test_every_normaliser_takes_any_text_and_is_idempotent(method, raw):
    normalise = n.normaliser_for(method)
    key = normalise(raw)
    assert key is None or (isinstance(key, str) and key != "")
    if key is not None:
        assert normalise(key) == key


def test_a_field_far_longer_than_any_name_identifies_nobody_and_free_text_is_capped():
    assert n.normaliser_for("person_name")("长" * 300_000) is None
    assert n.normaliser_for("person_name")("长" * 12) == "zhang" * 12
    assert len(n.normaliser_for("text")("上海市" + "长" * 300_000)) == n.MAX_TEXT_KEY
    assert len(n.normaliser_for("company")("长" * 300_000 + "有限公司")) <= n.MAX_TEXT_KEY
