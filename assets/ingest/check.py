"""A dry run of ingest: what the feed declarations would make of the files in the landing zone.

``cdp feeds check`` answers "does my config fit what partners actually sent?" before anything is
loaded. It runs the real loader into a throw-away in-memory database, so its verdict is exactly
what a run would do: rows that parse, rows that would be quarantined and why, undeclared columns,
files no pattern matches and landing folders no feed reads."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from assets.ingest.feeds import FeedConfig, FeedsConfig
from assets.ingest.ledger import QUARANTINE
from assets.ingest.loader import load_feed_files
from assets.ingest.partitions import partition_files

VALUE = re.compile(r"cannot read (.*) (as [a-z]+(?: \(.*\))?)$")


@dataclass
class FileCheck:
    feed: str
    path: str
    status: str
    rows_in: int
    rows_ok: int
    rows_quarantined: int
    reasons: Counter[str] = field(default_factory=Counter)
    extra_columns: list[str] = field(default_factory=list)


@dataclass
class LandingCheck:
    files: list[FileCheck]
    unread_folders: list[str]  # landing folders that no feed declares (a typo in `path`, a new partner)
    undated_folders: list[str]  # sub-folders of a feed whose name is not a YYYY-MM-DD day

    @property
    def clean(self) -> bool:
        return not self.unread_folders and all(f.rows_quarantined == 0 for f in self.files)


def reason_kind(reason: str) -> str:
    """A quarantine reason without the offending value, so reasons can be counted by kind (and no
    personal data is echoed into a terminal log)."""
    return "; ".join(VALUE.sub(r"cannot read a value \2", part) for part in reason.split("; "))


def _days(folder: Path) -> tuple[list[date], list[str]]:
    days, undated = [], []
    for child in sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []:
        try:
            days.append(date.fromisoformat(child.name))
        except ValueError:
            undated.append(child.relative_to(folder.parent).as_posix())
    return days, undated


def check_feed(
    con: duckdb.DuckDBPyConnection, feed: FeedConfig, landing: Path, timezone: str | None
) -> tuple[list[FileCheck], list[str]]:
    days, undated = _days(landing / feed.path)
    files = [(file, day) for day in days for file in partition_files(landing, feed, day)]
    loads = load_feed_files(con, feed, files, landing, timezone=timezone)
    reasons: dict[str, Counter[str]] = {}
    for path, reason in con.execute(
        f"SELECT path, reason FROM {QUARANTINE} WHERE feed = ?", [feed.name]
    ).fetchall():
        reasons.setdefault(path, Counter())[reason_kind(reason)] += 1
    checks = [
        FileCheck(
            feed.name,
            f.path,
            f.status,
            f.rows_in,
            f.rows_loaded,
            f.rows_quarantined,
            reasons.get(f.path, Counter()),
            f.extra_columns,
        )
        for f in loads
    ]
    return checks, undated


def check_landing(
    config: FeedsConfig, landing: Path, timezone: str | None = None, only: list[str] | None = None
) -> LandingCheck:
    """Every file under the daily folders of every feed (or of the feeds ``only`` names), read and
    typed as a run would, loaded nowhere."""
    files: list[FileCheck] = []
    undated: list[str] = []
    with duckdb.connect() as con:
        for feed in (f for f in config.feeds.values() if not only or f.name in only):
            checked, skipped = check_feed(con, feed, landing, timezone)
            files += checked
            undated += skipped
    declared = {feed.path for feed in config.feeds.values()} | {"reference", "_truth"}
    unread = (
        sorted(p.name for p in landing.iterdir() if p.is_dir() and p.name not in declared)
        if landing.is_dir()
        else []
    )
    return LandingCheck(files, unread, undated)
