"""Comparable keys for every identity attribute kind.

Each normaliser maps one raw value, as a cashier or a platform export wrote it, to the key that
linking and matching compare — or to ``None`` when the value carries no identity (a landline in a
mobile column, an all-zero device id, a national id failing its checksum). Normalisers are pure
functions of one string so they can be fuzzed; the engine applies them once per distinct value,
which is what makes library-grade parsing affordable on millions of rows.

Which normaliser a kind uses is declared in ``config/identity.yaml`` (``normalise:``).
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import date
from functools import cache

import phonenumbers
from opencc import OpenCC
from pypinyin import lazy_pinyin

_T2S = OpenCC("t2s")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_NON_ALNUM = re.compile(r"[^0-9a-z]")
_EMAIL = re.compile(r"[a-z0-9._%+\-]+@[a-z0-9\-]+(\.[a-z0-9\-]+)*\.[a-z]{2,}")
_MOBILE_TYPES = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
# ISO 7064 MOD 11-2 weights and check characters of the 18-character resident identity number
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_GENDERS = {"男": "m", "m": "m", "male": "m", "先生": "m", "女": "f", "f": "f", "female": "f", "女士": "f"}
_COMPANY_SUFFIXES = re.compile(
    r"(股份)?有限(责任)?公司$|集团$|(co\.?,?\s*)?ltd\.?$|inc\.?$|corp(oration)?\.?$"
)
_ADMIN_SUFFIX = re.compile(r"(市|省|自治区|特别行政区)$")


def fold_width(value: str) -> str:
    """Full-width letters, digits and spaces to ASCII (NFKC), trimmed, inner whitespace collapsed."""
    return unicodedata.normalize("NFKC", " ".join(unicodedata.normalize("NFKC", value).split()))


@cache
def _valid_mobile_prefix(prefix: str) -> bool:
    """Whether an 11-digit number starting with these 5 digits is a valid China mobile number.

    libphonenumber's CN mobile pattern fixes at most the first five digits and leaves the last six
    free, so validating one representative per prefix equals validating each number — and costs
    a few thousand checks instead of millions. The number is built rather than parsed (the digits
    are already clean), and its type alone decides: an invalid number's type is UNKNOWN."""
    number = phonenumbers.PhoneNumber(country_code=86, national_number=int(prefix + "000000"))
    return phonenumbers.number_type(number) in _MOBILE_TYPES


def normalize_mobile(raw: str) -> str | None:
    """A China mobile number as 11 digits, from any notation (+86, 0086, 86-, separators,
    full-width digits); landlines, short codes and invalid prefixes give ``None``."""
    digits = re.sub(r"\D", "", fold_width(raw))
    if len(digits) in (13, 15) and digits.startswith(("86", "0086")):
        digits = digits[-11:]
    if len(digits) != 11 or digits[0] != "1":
        return None
    return digits if _valid_mobile_prefix(digits[:5]) else None


def normalize_email(raw: str) -> str | None:
    """Lower-cased address if it is well formed."""
    value = fold_width(raw).lower().replace(" ", "")
    return value if _EMAIL.fullmatch(value) else None


def normalize_device_id(raw: str) -> str | None:
    """IDFA / OAID / MAC in one case without separators; all-zero ids identify nobody."""
    value = re.sub(r"[^0-9A-Z]", "", fold_width(raw).upper())
    return value if value.strip("0") else None


def normalize_national_id(raw: str) -> str | None:
    """An 18-character resident identity number whose MOD 11-2 check character is right."""
    value = re.sub(r"[^0-9X]", "", fold_width(raw).upper())
    if len(value) != 18 or not value[:17].isdigit():
        return None
    check = _ID_CHECK[sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=False)) % 11]
    return value if value[17] == check else None


def normalize_identifier(raw: str) -> str | None:
    """Opaque account-style ids (member cards, OpenIDs…): width-folded, separators dropped."""
    value = unicodedata.normalize("NFKC", re.sub(r"[\s\-_.:/]", "", fold_width(raw)))
    return value or None


def normalize_code(raw: str) -> str | None:
    """Printed codes (member cards): like :func:`normalize_identifier`, upper-cased."""
    value = normalize_identifier(raw)
    return value.upper() if value else None


def normalize_lower(raw: str) -> str | None:
    value = fold_width(raw).lower()
    return value or None


@cache
def _char_pinyin(char: str) -> str:
    return lazy_pinyin(char)[0].lower()


@cache
def _simplified_char(char: str) -> str:
    return _T2S.convert(char)


def to_simplified(value: str) -> str:
    """Traditional characters to simplified, character by character (names and addresses have no
    phrase-level conversions worth the cost of converting whole strings)."""
    if value.isascii():
        return value
    return "".join(_simplified_char(c) for c in value)


def pinyin_key(value: str, surname_readings: Mapping[str, str] | None = None) -> str:
    """Toneless lower-case pinyin without separators: 張偉, 章伟, 张 伟, ZHANG Wei → zhangwei.

    Homophone typos (what a pinyin keyboard produces) and traditional characters share the key;
    a leading surname found in ``surname_readings`` is read as a surname (曾 → zeng, not ceng)."""
    text = to_simplified(fold_width(value)).replace(" ", "")
    if not _CJK.search(text):
        return _NON_ALNUM.sub("", text.lower())
    out = []
    for length in (2, 1):
        if surname_readings and text[:length] in surname_readings:
            out.append(surname_readings[text[:length]])
            text = text[length:]
            break
    out.extend(_char_pinyin(c) if _CJK.match(c) else c.lower() for c in text)
    return _NON_ALNUM.sub("", "".join(out))


# A name key longer than this is no name (a pasted paragraph, a corrupt cell): it identifies nobody,
# and string comparisons on it would cost quadratic time. Free text is cut to MAX_TEXT_KEY.
MAX_NAME_KEY = 64
MAX_TEXT_KEY = 200


def normalize_person_name(raw: str, surname_readings: Mapping[str, str] | None = None) -> str | None:
    """The pinyin key of a personal name (characters, traditional, or romanised)."""
    if len(raw) > 16 * MAX_NAME_KEY:
        return None
    key = pinyin_key(raw, surname_readings)
    return key if key and len(key) <= MAX_NAME_KEY else None


def normalize_city(raw: str) -> str | None:
    """上海, 上海市, Shanghai, SHANGHAI → shanghai."""
    text = _ADMIN_SUFFIX.sub("", to_simplified(fold_width(raw)).replace(" ", ""))
    return pinyin_key(text) or None


def normalize_text(raw: str) -> str | None:
    """Free text (addresses): simplified, width-folded, lower case, no whitespace."""
    value = to_simplified(fold_width(raw[: 4 * MAX_TEXT_KEY])).lower().replace(" ", "")[:MAX_TEXT_KEY]
    return value or None


def normalize_company(raw: str) -> str | None:
    """A company name without its legal-form suffix (有限公司, Co., Ltd.)."""
    value = _COMPANY_SUFFIXES.sub(
        "", to_simplified(fold_width(raw[: 4 * MAX_TEXT_KEY]))[:MAX_TEXT_KEY].lower()
    )
    return value.strip(" ,.").replace(" ", "") or None


def normalize_gender(raw: str) -> str | None:
    return _GENDERS.get(fold_width(raw).lower())


def normalize_date(raw: str) -> str | None:
    """An ISO date from 1990-01-02, 1990/1/2, 19900102 or 1990年1月2日; impossible dates give None."""
    parts = re.findall(r"\d+", fold_width(raw))
    if len(parts) == 1 and len(parts[0]) == 8:
        parts = [parts[0][:4], parts[0][4:6], parts[0][6:]]
    if len(parts) < 3:
        return None
    try:
        return date(int(parts[0]), int(parts[1]), int(parts[2])).isoformat()
    except ValueError:
        return None


def normalize_digits(raw: str) -> str | None:
    value = re.sub(r"\D", "", fold_width(raw))
    return value or None


NORMALISERS: Mapping[str, Callable[[str], str | None]] = {
    "mobile": normalize_mobile,
    "email": normalize_email,
    "device_id": normalize_device_id,
    "national_id": normalize_national_id,
    "identifier": normalize_identifier,
    "code": normalize_code,
    "lower": normalize_lower,
    "person_name": normalize_person_name,
    "city": normalize_city,
    "text": normalize_text,
    "company": normalize_company,
    "gender": normalize_gender,
    "date": normalize_date,
    "digits": normalize_digits,
}


def normaliser_for(
    method: str, surname_readings: Mapping[str, str] | None = None
) -> Callable[[str], str | None]:
    """The normaliser a kind declares (names also get the configured surname readings); its keys
    are in NFKC form, so normalising a key again gives the same key."""
    normalise = (
        functools.partial(normalize_person_name, surname_readings=surname_readings)
        if method == "person_name"
        else NORMALISERS[method]
    )

    def normalised(raw: str) -> str | None:
        key = normalise(raw)
        return unicodedata.normalize("NFKC", key) or None if key else None

    return normalised


def hash_key(value: str, salt: str) -> str:
    """A salted SHA-256 of a sensitive key (national or member ids), so the identity layer can
    link on it without holding the number itself."""
    return hashlib.sha256(f"{salt}|{value}".encode()).hexdigest()
