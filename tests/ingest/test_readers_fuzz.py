"""Property tests for every file reader, format and encoding: whatever the bytes, a reader returns
rows, bad rows or a file error — it never raises — and what a partner wrote is what is read."""

import csv
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from assets.ingest.feed_spec import FileSpec
from assets.ingest.readers import ROW_NUMBER, read_file

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ENCODINGS = ["auto", "utf-8", "utf-8-sig", "gbk", "gb18030"]
# Text every encoding can carry: Chinese (GB2312 block), ASCII, full-width digits; no lone surrogates.
CHINESE = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
TEXT = st.text(
    st.one_of(
        CHINESE, st.characters(min_codepoint=0x20, max_codepoint=0x7E), st.sampled_from("０１９\n\"',;")
    ),
    max_size=15,
)
NAMES = st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True), min_size=1, max_size=5, unique=True)


def _file(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def _wire(encoding: str) -> str:
    return {"auto": "gb18030", "utf-8-sig": "utf-8-sig", "gbk": "gbk"}.get(encoding, encoding)


@FUZZ
@given(
    names=NAMES,
    data=st.data(),
    encoding=st.sampled_from(ENCODINGS),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
)
def test_csv_in_any_encoding_and_delimiter_reads_back_what_was_written(
    tmp_path_factory, names, data, encoding, delimiter
):
    rows = data.draw(st.lists(st.fixed_dictionaries({n: TEXT for n in names}), max_size=6))
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=names, delimiter=delimiter, lineterminator="\n", quoting=csv.QUOTE_ALL
    )
    writer.writeheader()
    writer.writerows(rows)
    raw = buffer.getvalue().encode(_wire(encoding))
    path = _file(tmp_path_factory.mktemp("csv"), "f.csv", raw)
    result = read_file(path, FileSpec("*.csv", "csv", encoding, delimiter))
    assert result.error is None and result.bad_rows == []
    assert result.table.num_rows == len(rows)
    if not _ambiguous(raw, buffer.getvalue()):
        assert result.table.drop_columns([ROW_NUMBER]).to_pylist() == rows


def _ambiguous(raw: bytes, text: str) -> bool:
    """GBK bytes that are also valid UTF-8 of another text: read as UTF-8 by design (see decode)."""
    try:
        return raw.decode("utf-8") != text and not raw.startswith(b"\xef\xbb\xbf")
    except UnicodeDecodeError:
        return False


@FUZZ
@given(
    data=st.binary(max_size=300),
    fmt=st.sampled_from(["csv", "jsonl", "parquet"]),
    encoding=st.sampled_from(ENCODINGS),
)
@example(data=b"\r\x00", fmt="csv", encoding="auto")  # a carriage return inside the header line
def test_any_bytes_in_any_format_never_raise(tmp_path_factory, data, fmt, encoding):
    path = _file(tmp_path_factory.mktemp("bytes"), f"f.{fmt}", data)
    result = read_file(path, FileSpec(f"*.{fmt}", fmt, encoding))
    assert result.error is not None or result.rows_in == result.table.num_rows + len(result.bad_rows)
    assert ROW_NUMBER in result.table.column_names


@FUZZ
@given(
    rows=st.lists(
        st.dictionaries(
            st.from_regex(r"[a-z]{1,6}", fullmatch=True),
            st.one_of(st.none(), TEXT, st.integers(-(10**6), 10**6)),
            min_size=1,
            max_size=4,
        ),
        max_size=6,
    ),
    garbage=st.lists(
        st.text(max_size=20).filter(
            lambda t: (
                t.strip()
                and "\n" not in t
                and "\r" not in t
                and "\x0b" not in t
                and "\x0c" not in t
                and "\x1c" not in t
                and "\x1d" not in t
                and "\x1e" not in t
                and "\x85" not in t
                and "\u2028" not in t
                and "\u2029" not in t
            )
        ),
        max_size=3,
    ),
)
def test_jsonl_keeps_every_object_line_and_quarantines_every_other_line(tmp_path_factory, rows, garbage):
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    bad = []
    for g in garbage:
        try:
            parsed = json.loads(g)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            bad.append(g)
    path = _file(tmp_path_factory.mktemp("jsonl"), "f.jsonl", "\n".join(lines + bad).encode("utf-8"))
    result = read_file(path, FileSpec("*.jsonl", "jsonl"))
    assert result.error is None
    assert result.table.num_rows == len(rows) and len(result.bad_rows) == len(bad)
    assert all(b.reason for b in result.bad_rows)


@FUZZ
@given(names=NAMES, data=st.data())
def test_parquet_round_trips_any_table(tmp_path_factory, names, data):
    types = data.draw(
        st.lists(
            st.sampled_from([pa.string(), pa.int64(), pa.float64()]), min_size=len(names), max_size=len(names)
        )
    )
    values = {
        pa.string(): st.one_of(st.none(), TEXT),
        pa.int64(): st.one_of(st.none(), st.integers(-(2**62), 2**62)),
        pa.float64(): st.one_of(st.none(), st.floats(allow_nan=False)),
    }
    rows = data.draw(st.integers(0, 6))
    table = pa.table(
        {
            n: pa.array([data.draw(values[t]) for _ in range(rows)], t)
            for n, t in zip(names, types, strict=True)
        }
    )
    path = tmp_path_factory.mktemp("pq") / "f.parquet"
    pq.write_table(table, path)
    result = read_file(path, FileSpec("*.parquet", "parquet"))
    assert result.error is None
    assert result.table.drop_columns([ROW_NUMBER]).equals(table)
