"""Property tests for the normalisers and masks outside identity stitching: the dbt macros that turn
raw contacts into comparable keys and display values, and the loose key `cdp forget` matches with.
The macros are rendered with plain Jinja and run in DuckDB, exactly the SQL dbt would run."""

from functools import cache

import duckdb
import jinja2
from hypothesis import given, settings
from hypothesis import strategies as st

from assets.common.paths import DBT_PROJECT_DIR
from assets.privacy.suppression import identifier_key_sql

FUZZ = settings(max_examples=150, deadline=None)
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
MOBILES = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
SEPARATORS = st.sampled_from(["", " ", "-", "　", "－"])


class DuckDBAdapter:
    """dbt's ``adapter.dispatch`` as it resolves on DuckDB: the ``default__`` implementation."""

    module = None

    def dispatch(self, name: str, namespace: str):
        return getattr(self.module, f"default__{name}")


@cache
def macros(name: str):
    """``name``.sql's macros with the engine macros they dispatch to (macros/engine.sql), and dbt's
    ``return``, which hands a macro's value back (here: renders it)."""
    folder = DBT_PROJECT_DIR / "macros"
    source = (folder / "engine.sql").read_text(encoding="utf-8") + (folder / f"{name}.sql").read_text(
        encoding="utf-8"
    )
    environment, adapter = jinja2.Environment(), DuckDBAdapter()
    environment.globals.update({"adapter": adapter, "return": lambda value: value})
    adapter.module = environment.from_string(source).module
    return adapter.module


@cache
def _con() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def sql(expression: str, value: str | None):
    return _con().execute(f"SELECT {expression}", {"v": value}).fetchall()[0][0]


@st.composite
def spelt(draw, mobile: str) -> str:
    """A mobile as partners write it: +86 / 0086 prefixes, separators, full-width digits."""
    prefix = draw(st.sampled_from(["", "+86", "+86 ", "0086", "86", "＋８６ "]))
    sep = draw(SEPARATORS)
    text = prefix + sep.join([mobile[:3], mobile[3:7], mobile[7:]])
    return text.translate(FULL_WIDTH) if draw(st.booleans()) else text


@FUZZ
@given(data=st.data(), mobile=MOBILES)
def test_every_spelling_of_a_mobile_normalises_to_its_11_digits(data, mobile):
    raw = data.draw(spelt(mobile))
    assert sql(str(macros("normalize_identifiers").normalize_mobile("$v")), raw) == mobile
    assert sql(identifier_key_sql("mobile", "$v"), raw) == mobile


@FUZZ
@given(st.text(max_size=25))
def test_mobile_normalisation_never_invents_a_mobile(text):
    normalised = sql(str(macros("normalize_identifiers").normalize_mobile("$v")), text)
    digits = "".join(
        c for c in text.translate(str.maketrans("０１２３４５６７８９", "0123456789")) if c.isdigit()
    )
    assert normalised is None or (
        len(normalised) == 11 and normalised.startswith("1") and normalised in digits
    )


@FUZZ
@given(
    local=st.from_regex(r"[A-Za-z0-9._]{1,12}", fullmatch=True),
    domain=st.from_regex(r"[a-z0-9]{1,8}\.(com|cn)", fullmatch=True),
    pad=st.sampled_from(["", " ", "  "]),
)
def test_emails_normalise_case_and_spaces_and_match_the_forget_key(local, domain, pad):
    raw = f"{pad}{local}@{domain.upper()}{pad}"
    expected = f"{local}@{domain}".lower()
    assert sql(str(macros("normalize_identifiers").normalize_email("$v")), raw) == expected
    assert sql(identifier_key_sql("email", "$v"), raw) == expected


@FUZZ
@given(st.text(max_size=30))
def test_email_normalisation_returns_a_valid_address_or_nothing(text):
    normalised = sql(str(macros("normalize_identifiers").normalize_email("$v")), text)
    assert normalised is None or (normalised == normalised.lower().strip() and "@" in normalised)


@FUZZ
@given(hex_=st.from_regex(r"[0-9a-f]{32}", fullmatch=True), upper=st.booleans(), dashed=st.booleans())
def test_device_ids_in_any_case_or_dash_style_are_one_key(hex_, upper, dashed):
    raw = "-".join([hex_[:8], hex_[8:12], hex_[12:16], hex_[16:20], hex_[20:]]) if dashed else hex_
    raw = raw.upper() if upper else raw
    expected = None if set(hex_) == {"0"} else hex_.upper()
    assert sql(str(macros("normalize_identifiers").normalize_device_id("$v")), raw) == expected


@FUZZ
@given(
    mobile=MOBILES,
    email_local=st.from_regex(r"[a-z0-9]{1,10}", fullmatch=True),
    name=st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=1, max_size=4),
)
def test_masks_never_show_the_whole_value(mobile, email_local, name):
    mask = macros("mask")
    masked_mobile = sql(str(mask.mask_mobile("$v")), mobile)
    assert masked_mobile == mobile[:3] + "****" + mobile[-4:] and mobile not in masked_mobile
    masked_email = sql(str(mask.mask_email("$v")), f"{email_local}@qq.com")
    assert masked_email == f"{email_local[0]}***@qq.com"
    masked_name = sql(str(mask.mask_name("$v")), name)
    assert masked_name == name[0] + "*" and (len(name) == 1 or name not in masked_name)
