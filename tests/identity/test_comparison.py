"""Agreement levels of single keys: typo-aware identifiers and order-free names."""

import pytest

from assets.identity.comparison import compatible, digits_level, name_level
from assets.identity.normalize import normalize_person_name


@pytest.mark.parametrize(
    "a, b, level",
    [
        ("13912345678", "13912345678", 0),
        ("13912345678", "13912345670", 1),
        ("13912345678", "13912345687", 2),
        ("13912345678", "13912349978", 3),
        ("13912345678", "1391234567", 3),
    ],
)
def test_digits_levels(a, b, level):
    assert digits_level(a, b) == level


@pytest.mark.parametrize(
    "a, b, level",
    [
        ("张伟", "Wei Zhang", 0),
        ("SMITH John", "john smith", 0),
        ("司马光", "光 司马", 0),
        ("john smith", "john smitx", 1),
        ("刘洋", "刘燕", 2),
        ("陈桂兰", "陈兰", 2),
        ("李娜", "李楠", 2),
        ("张伟", "王芳", 3),
    ],
)
def test_name_levels(a, b, level):
    assert name_level(normalize_person_name(a), normalize_person_name(b), 0.88) == level


def test_typod_values_are_no_conflict_but_relatives_names_are():
    assert compatible("digits", 0.88)("13912345678", "13912345687")
    assert not compatible("digits", 0.88)("13912345678", "13912349978")
    names = compatible("name", 0.88)
    assert names(normalize_person_name("john smith"), normalize_person_name("john smitx"))
    assert not names(normalize_person_name("刘洋"), normalize_person_name("刘燕"))
    assert compatible("exact", 0.88) is None
