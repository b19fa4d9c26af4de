"""Identifier spellings and digests, checked against the examples platforms publish."""

import pytest

from assets.activation.identifiers import digest, spell


@pytest.mark.parametrize(
    "id_type, key, spelled, md5",
    [
        # Tencent Ads customer-file audiences (developers.e.qq.com, audience_management/file): HASH_IDFA is
        # the MD5 of the upper-case IDFA with dashes, HASH_IMEI the MD5 of the lower-case IMEI.
        (
            "idfa",
            "FF1999CD71774937A47474937A102630",
            "FF1999CD-7177-4937-A474-74937A102630",
            "2c010ed96aef2fc34983e1e7e9176b7e",
        ),
        ("imei", "A000002C9060F7", "a000002c9060f7", "f2d5a650733ca8c27d502b1c08da14e5"),
    ],
)
def test_published_examples(id_type, key, spelled, md5):
    assert spell(id_type, key) == spelled
    assert digest(spelled, "md5") == md5


def test_mobile_is_hashed_as_eleven_digits_in_the_case_asked():
    spelled = spell("mobile", "+86 138-0013-8000")
    assert spelled == "13800138000"
    assert digest(spelled, "md5") == "7945bd83237335e5376ff44d62e4f0ae"
    assert (
        digest(spelled, "sha256", "upper")
        == "A6942F9771D67F34034D2F1926988ED3FAD3BF1B4E7CEDB9A31F31398DEA43BC"
    )


def test_values_of_another_shape_are_not_spelled():
    assert spell("imei", "FF1999CD71774937A47474937A102630") is None  # a UUID is no IMEI
    assert spell("idfa", "A000002C9060F7") is None
    assert spell("mobile", "010-12345678") is None
    assert spell("oaid", "FF1999CD71774937A47474937A102630") == "ff1999cd-7177-4937-a474-74937a102630"
    assert digest("o6_bmjrPTlm6_2sgVt7hMZOPfL2M", "none") == "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"
