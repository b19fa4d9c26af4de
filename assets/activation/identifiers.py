"""Identifiers as each destination expects them: the platform's spelling, then its digest.

Ad platforms match custom audiences on digests of identifiers they already hold, so the digest
must be computed from exactly the spelling they hash: Tencent Ads hashes an 11-digit mobile, an
upper-case IDFA with its dashes, a lower-case IMEI (its published examples are our tests). A
destination declares, per file, which identifier it takes, the algorithm and the letter case of
the hex digest; this module only knows how to spell each identifier and how to hash it. Our own
salt is never involved: a platform could not match a salted digest."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

UUID_HEX = re.compile(r"^[0-9A-F]{32}$")
IMEI = re.compile(r"^[0-9A-F]{14,15}$")


def _uuid(value: str) -> str | None:
    """A 32-hex device id (IDFA / OAID, as identity keeps it) in 8-4-4-4-12 form."""
    hexed = value.replace("-", "").upper()
    if not UUID_HEX.fullmatch(hexed):
        return None
    return "-".join((hexed[:8], hexed[8:12], hexed[12:16], hexed[16:20], hexed[20:]))


def _mobile(value: str) -> str | None:
    digits = re.sub(r"\D", "", value)
    if len(digits) in (13, 15) and digits.startswith(("86", "0086")):
        digits = digits[-11:]
    return digits if re.fullmatch(r"1[3-9][0-9]{9}", digits) else None


def _imei(value: str) -> str | None:
    plain = value.replace("-", "").upper()
    return plain.lower() if IMEI.fullmatch(plain) and not UUID_HEX.fullmatch(plain) else None


def _idfa(value: str) -> str | None:
    return _uuid(value)


def _oaid(value: str) -> str | None:
    spelled = _uuid(value)
    return spelled.lower() if spelled else None


def _email(value: str) -> str | None:
    value = value.strip().lower()
    return value if re.fullmatch(r"[a-z0-9._%+\-]+@[a-z0-9.\-]+\.[a-z]{2,}", value) else None


def _as_is(value: str) -> str | None:
    return value.strip() or None


SPELLINGS: dict[str, tuple[str, Callable[[str], str | None]]] = {
    # id type: (the identity attribute kind it comes from, its platform spelling)
    "mobile": ("mobile", _mobile),  # 11 digits, no country code
    "email": ("email", _email),  # lower case
    "idfa": ("device_id", _idfa),  # upper-case UUID with dashes
    "oaid": ("device_id", _oaid),  # lower-case UUID with dashes
    "imei": ("device_id", _imei),  # 14-15 digits / hex, lower case
    "openid": ("openid", _as_is),  # a platform's own id, exported as it is
    "unionid": ("unionid", _as_is),
}
ID_TYPES = set(SPELLINGS)
ALGORITHMS = {"md5", "sha256", "none"}
CASES = {"lower", "upper"}


def spell(id_type: str, value: str) -> str | None:
    """The platform spelling of an identity key of the id type's kind, or None when the value is
    not of that type (a UUID device id is no IMEI)."""
    return SPELLINGS[id_type][1](value)


def digest(spelled: str, algorithm: str, case: str = "lower") -> str:
    """The hex digest a destination asks for (``none``: the value itself, for platform ids)."""
    if algorithm == "none":
        return spelled
    hexed = hashlib.new(algorithm, spelled.encode("utf-8")).hexdigest()
    return hexed.upper() if case == "upper" else hexed
