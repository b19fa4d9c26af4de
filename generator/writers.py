"""Landing-zone files: one folder per feed and day, each source in its own format and encoding.

The format is a property of the source system, so it is looked up from the file name's prefix
here rather than chosen by the feed builders. Helper columns (names starting with `_`) carry the
target folder and file and never reach the files.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl
import polars.selectors as cs

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
FEEDS = (
    "ecommerce_orders",
    "ecommerce_browse",
    "social_interactions",
    "ad_events",
    "pos_transactions",
    "expo_registrations",
    "device_events",
    "member_coupons",
    "consent_events",
)
OWNED = (*FEEDS, "reference", "_truth")


@dataclass(frozen=True)
class FileFormat:
    kind: Literal["csv", "jsonl", "parquet"]
    encoding: str = "utf-8"  # csv only: utf-8, utf-8-sig (with BOM) or gbk


# file-name prefix -> format, as each source system exports it
FORMATS: dict[str, FileFormat] = {
    "tmall_orders": FileFormat("csv", "gbk"),
    "jd_orders": FileFormat("csv", "utf-8-sig"),
    "douyin_orders": FileFormat("jsonl"),
    "wechat_mp_orders": FileFormat("parquet"),
    "browse": FileFormat("parquet"),
    "social": FileFormat("jsonl"),
    "ads": FileFormat("parquet"),
    "pos": FileFormat("csv", "gbk"),
    "expo": FileFormat("csv", "utf-8-sig"),
    "devices": FileFormat("csv"),
    "coupons": FileFormat("jsonl"),
    "consents": FileFormat("csv", "utf-8-sig"),
}


def format_of(file_name: str) -> FileFormat:
    for prefix, fmt in FORMATS.items():
        if file_name.startswith(prefix + "_"):
            return fmt
    raise ValueError(f"no format known for {file_name}")


def prepare(out: Path) -> None:
    """Create `out`, replacing only the folders the generator owns."""
    out.mkdir(parents=True, exist_ok=True)
    for name in OWNED:
        shutil.rmtree(out / name, ignore_errors=True)


def _write_records(path: Path, frame: pl.DataFrame, fmt: FileFormat) -> None:
    """A Parquet or JSON Lines file; JSON has no timestamp type, so times become strings."""
    if fmt.kind == "parquet":
        frame.write_parquet(path, compression="zstd")
    else:
        frame.with_columns(cs.datetime().dt.strftime(TIME_FORMAT)).write_ndjson(path)


def write_feed(out: Path, feed: str, frame: pl.DataFrame) -> int:
    """Write one file per `_file` (into folder `_dir`) under `out/feed/`; returns the number of files.

    Files are contiguous row ranges of the frame sorted by file. CSV rows are rendered in one call
    and cut into files, because a render call per file costs more than the rows of a small file.
    """
    if frame.is_empty():  # nothing happened in this feed in the date range: no files
        return 0
    untyped = [name for name, dtype in frame.schema.items() if dtype == pl.Null]
    if untyped:
        raise TypeError(f"{feed}: columns without a type would differ between files: {untyped}")
    if not frame.get_column("_file").is_sorted():
        frame = frame.sort("_file", maintain_order=True)
    runs = (
        frame.select("_dir", "_file")
        .with_row_index("at")
        .group_by("_file", maintain_order=True)
        .agg(pl.col("_dir").first(), pl.col("at").first(), pl.len().alias("rows"))
    )
    data = frame.select(pl.exclude("^_.*$"))
    formats = {name: format_of(name) for name in runs.get_column("_file")}
    csv_lines: list[str] = []
    if any(fmt.kind == "csv" for fmt in formats.values()):
        csv_lines = data.write_csv(
            include_header=False, float_precision=2, datetime_format=TIME_FORMAT
        ).split("\n")
        if len(csv_lines) != data.height + 1:
            raise ValueError(f"{feed}: a CSV field holds a line break")
    header = ",".join(data.columns) + "\n"
    for day in runs.get_column("_dir").unique().to_list():
        (out / feed / day).mkdir(parents=True, exist_ok=True)

    def write(run: tuple[str, str, int, int]) -> None:
        name, day, at, rows = run
        path, fmt = out / feed / day / name, formats[name]
        if fmt.kind == "csv":
            path.write_bytes((header + "\n".join(csv_lines[at : at + rows]) + "\n").encode(fmt.encoding))
        else:
            _write_records(path, data.slice(at, rows), fmt)

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(write, runs.iter_rows()))
    return runs.height


def write_table(path: Path, frame: pl.DataFrame, float_precision: int | None = None) -> None:
    """A reference or truth table: UTF-8 CSV with header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(path, float_precision=float_precision)


def append_rows(path: Path, frame: pl.DataFrame) -> None:
    """Rows added to a CSV table `write_table` started (its header is already there)."""
    with path.open("ab") as handle:
        frame.write_csv(handle, include_header=False)
