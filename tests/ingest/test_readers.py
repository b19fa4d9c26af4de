import codecs

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from assets.ingest.feed_spec import FileSpec
from assets.ingest.readers import decode, read_file

CSV = FileSpec("*.csv", "csv")
JSONL = FileSpec("*.jsonl", "jsonl")


def test_gbk_csv_is_decoded_with_auto_detection(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes("id,name\n1,王芳\n2,李娜\n".encode("gbk"))
    result = read_file(path, CSV)
    assert result.encoding == "gb18030"
    assert result.table.column("name").to_pylist() == ["王芳", "李娜"]
    assert result.table.column("_row_number").to_pylist() == [1, 2]


def test_utf8_bom_is_stripped_from_the_first_header(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(codecs.BOM_UTF8 + "id,name\n1,张伟\n".encode())
    result = read_file(path, CSV)
    assert result.table.column_names[:2] == ["id", "name"] and result.encoding == "utf-8-sig"


def test_quoted_newlines_and_commas_stay_in_their_field(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text('id,address\n1,"上海市\n浦东新区, 1号"\n2,x\n', encoding="utf-8")
    result = read_file(path, CSV)
    assert (
        result.table.column("address").to_pylist() == ["上海市\n浦东新区, 1号", "x"] and not result.bad_rows
    )


def test_rows_with_the_wrong_field_count_come_back_as_bad_rows(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text(
        "id,a,b\n1,x,y\n2,x\n3,x,y,z\n4,x,y", encoding="utf-8"
    )  # truncated last line is fine here
    result = read_file(path, CSV)
    assert result.table.column("id").to_pylist() == ["1", "4"]
    assert [b.reason for b in result.bad_rows] == ["expected 3 fields, found 2", "expected 3 fields, found 4"]
    assert result.rows_in == 4


def test_empty_and_header_only_files_have_no_rows(tmp_path):
    (tmp_path / "e.csv").write_bytes(b"")
    (tmp_path / "h.csv").write_text("id,name\n", encoding="utf-8")
    assert read_file(tmp_path / "e.csv", CSV).rows_in == 0
    header_only = read_file(tmp_path / "h.csv", CSV)
    assert header_only.rows_in == 0 and header_only.error is None


def test_jsonl_bad_lines_are_kept_aside_and_good_lines_kept(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"id": "1", "n": 5}\n{"id": "2", \n[1, 2]\n{"id": "3", "n": "x"}\n', encoding="utf-8")
    result = read_file(path, JSONL)
    assert result.table.column("id").to_pylist() == ["1", "3"]
    assert result.table.column("_row_number").to_pylist() == [1, 4]
    assert len(result.bad_rows) == 2 and result.rows_in == 4


def test_parquet_keeps_its_types_and_unreadable_parquet_is_an_error(tmp_path):
    pq.write_table(pa.table({"id": ["a"], "amount": [1.5]}), tmp_path / "a.parquet")
    result = read_file(tmp_path / "a.parquet", FileSpec("*.parquet", "parquet"))
    assert result.table.column("amount").type == pa.float64()
    (tmp_path / "b.parquet").write_bytes(b"not parquet at all")
    assert read_file(tmp_path / "b.parquet", FileSpec("*.parquet", "parquet")).error


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_decode_round_trips_any_utf8_and_gb18030_text(text):
    assert decode(text.encode("utf-8"), "auto")[0] == text
    data = text.encode("gb18030")
    try:  # a few short GB18030 strings are valid UTF-8 too; strict UTF-8 is tried first (see decode)
        as_utf8 = data.decode("utf-8")
    except UnicodeDecodeError:
        as_utf8 = None
    assert decode(data, "gb18030")[0] == (text if as_utf8 is None else as_utf8)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=12),
        min_size=2,
        max_size=5,
    ),
    st.integers(1, 5),
)
def test_csv_reader_never_raises_and_accounts_for_every_line(tmp_path_factory, fields, rows):
    import csv
    import io

    path = tmp_path_factory.mktemp("fuzz") / "f.csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([f"c{i}" for i in range(len(fields))])
    for _ in range(rows):
        writer.writerow(fields)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    result = read_file(path, CSV)
    assert result.error is None
    assert result.rows_in == rows


def test_a_csv_whose_first_line_is_empty_is_a_file_error_not_a_crash(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"\n\x00")  # found by the fuzz test: the reader used to raise StopIteration
    result = read_file(path, CSV)
    assert result.error is not None and "header" in result.error
