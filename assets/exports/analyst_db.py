"""The analysts' read-only DuckDB file, ``marts.duckdb``: every mart, replaced atomically.

The file is built next to the live one and moved over it with one ``os.replace``: an analyst's open
connection keeps reading the previous file and never blocks the pipeline. Its marts' fingerprints
are kept beside it (``.marts.duckdb.fingerprint``, one ``name=fingerprint`` line per mart); when
they are unchanged the file is left as it is.

A daily run changes most marts a little: the facts gain a day and a few thousand older rows follow
identity's merges. Building the file anew copied every row of every mart (16.6 s at 200 k people, 10
of them for fct_events' 10 M rows). So the new file starts as a copy of the live one (a file copy,
0.2 s for 700 MB), in which a mart whose fingerprint is unchanged is kept, a keyed fact gets only the
rows whose content changed (each key's row hash compared, then those rows deleted and inserted:
about 4 s for fct_events' 10 M rows, 70 k of them changed), the dated profile snapshots get the days
whose fingerprint changed, and every other changed mart is copied whole.

The file is built afresh instead when there is no live file or no fingerprints for it, when a
deletion on request publishes it (a DuckDB file may keep deleted rows in its free blocks until they
are overwritten, and a deleted person must not linger in the analysts' copy), and when it has grown
past ``GROWTH`` times its size when last built afresh, by more than ``GROWTH_SLACK`` (space freed by
a patch is not always reused)."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import duckdb

from assets.common.sql import ident, literal, table
from assets.exports.days import DAYS_WRITTEN, among_days, columns_of, day_fingerprints
from assets.exports.publish import FINGERPRINT, MARTS_SCHEMA, PARTITIONED_BY_DAY, fingerprint, read_if_present

FACT_KEYS = {"fct_events": ("source", "event_id"), "fct_orders": ("source", "order_id")}
"""The marts patched row by row, by their unique key (a dbt test holds them to it). The dated
profile snapshots (``DAYS_WRITTEN``) are patched day by day, with a fingerprint per day: a run
rewrites its own day, and hashing every day's rows would cost more each day."""
GROWTH, GROWTH_SLACK = 1.25, 64 << 20  # a small file's new blocks are no reason to rebuild it
FRESH_SIZE = ".fresh_bytes"  # beside the fingerprints: the file's size when last built afresh
ALIAS = "analyst_build"


def publish_analyst_db(
    con: duckdb.DuckDBPyConnection, target: Path, tables: list[str], fresh: bool = False
) -> bool:
    """The warehouse's ``tables`` (marts) into the analysts' file ``target``, patched into a copy of
    the live file unless ``fresh`` (or the reasons above) asks for a new one; whether it was replaced."""
    kept = _kept_content(target)
    held = dict(line.partition("=")[::2] for line in (kept or "").splitlines())
    wanted = {name: _fingerprint(con, name, held.get(name)) for name in tables}
    content = "\n".join(f"{name}={print_}" for name, print_ in wanted.items())
    if kept == content:
        return False
    selects = {name: f"SELECT * FROM {table(MARTS_SCHEMA, name)}" for name in tables}
    if fresh or kept is None or _grown(target):
        return build_analyst_db(con, target, content, selects)
    building = _building(target)
    shutil.copyfile(target, building)
    try:
        _patch_copy(con, building, wanted, held, selects)
    except duckdb.Error:  # a live file this DuckDB cannot write (another version's, damaged): start anew
        building.unlink(missing_ok=True)
        return build_analyst_db(con, target, content, selects)
    except BaseException:
        building.unlink(missing_ok=True)
        raise
    _swap(building, target, content)
    return True


def _patch_copy(
    con: duckdb.DuckDBPyConnection,
    building: Path,
    wanted: dict[str, str],
    held: dict[str, str],
    selects: dict[str, str],
) -> None:
    """The copy of the live file brought to the ``wanted`` marts: unchanged ones kept, keyed facts
    patched by row, other changed ones replaced whole, marts no longer built dropped. The marts
    replaced whole are dropped, and their blocks freed by a checkpoint, before they are written
    again: ``CREATE OR REPLACE`` writes the new table beside the old one, and the file grew by every
    replaced mart's size each day (230 MB of 660 at 200 k people), past its bound every other day."""
    con.execute(f"ATTACH {literal(str(building))} AS {ALIAS}")
    try:
        present = {
            name
            for (name,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [ALIAS]
            ).fetchall()
        }
        changed = [n for n, print_ in wanted.items() if n not in present or held.get(n) != print_]
        keyed = [n for n in changed if n in FACT_KEYS and n in present]
        patched = {n for n in keyed if _patch_rows(con, n, FACT_KEYS[n])}
        dated = [n for n in changed if n in DAYS_WRITTEN and n in present]
        patched |= {n for n in dated if _patch_days(con, n, _days(wanted[n]), _days(held.get(n)))}
        for name in sorted((present - set(wanted)) | (present.intersection(changed) - patched)):
            con.execute(f"DROP TABLE {ALIAS}.main.{ident(name)}")
        con.execute(f"CHECKPOINT {ALIAS}")
        for name in (n for n in changed if n not in patched):
            con.execute(f"CREATE TABLE {ALIAS}.main.{ident(name)} AS {selects[name]}")
        con.execute(f"CHECKPOINT {ALIAS}")
    finally:
        con.execute(f"DETACH {ALIAS}")


def build_analyst_db(
    con: duckdb.DuckDBPyConnection, target: Path, content: str, selects: dict[str, str]
) -> bool:
    """``target`` built afresh with one table per ``selects`` entry (name → query on ``con``) and
    swapped in atomically, unless its kept ``content`` fingerprint says it holds them already;
    whether it was replaced."""
    if _kept_content(target) == content:
        return False
    building = _building(target)
    con.execute(f"ATTACH {literal(str(building))} AS {ALIAS}")
    try:
        for name, query in selects.items():
            con.execute(f"CREATE TABLE {ALIAS}.main.{ident(name)} AS {query}")
    finally:
        con.execute(f"DETACH {ALIAS}")
    _swap(building, target, content)
    _kept(target, FRESH_SIZE).write_text(str(target.stat().st_size), encoding="utf-8")
    return True


def _patch_rows(con: duckdb.DuckDBPyConnection, name: str, key: tuple[str, ...]) -> bool:
    """Replace, in the copy, the rows of mart ``name`` whose key is new, gone or holds other content;
    False (nothing done) when the two tables' columns differ or a key is null, so it is copied whole."""
    old, new = f"{ALIAS}.main.{ident(name)}", table(MARTS_SCHEMA, name)
    if columns_of(con, old) != columns_of(con, new):
        return False
    keys = ", ".join(map(ident, key))
    con.execute(f"""CREATE OR REPLACE TEMP TABLE analyst_changed_keys AS
        SELECT {keys} FROM (SELECT {keys}, hash(t) AS row_hash FROM {new} AS t) AS now
        FULL JOIN (SELECT {keys}, hash(t) AS row_hash FROM {old} AS t) AS held USING ({keys})
        WHERE now.row_hash IS DISTINCT FROM held.row_hash""")
    try:
        null_key = " OR ".join(f"{ident(k)} IS NULL" for k in key)
        if con.execute(f"SELECT count(*) FROM analyst_changed_keys WHERE {null_key}").fetchall()[0][0]:
            return False
        con.execute(f"DELETE FROM {old} WHERE ({keys}) IN (SELECT ({keys}) FROM analyst_changed_keys)")
        con.execute(
            f"INSERT INTO {old} SELECT t.* FROM {new} AS t SEMI JOIN analyst_changed_keys USING ({keys})"
        )
    finally:
        con.execute("DROP TABLE analyst_changed_keys")
    return True


def _fingerprint(con: duckdb.DuckDBPyConnection, name: str, held: str | None) -> str:
    """A mart's fingerprint line: of its whole content, or for the dated snapshots the fingerprint
    of each day (days.py), those of the days no build rewrote taken from ``held``."""
    if name not in DAYS_WRITTEN:
        return fingerprint(con, table(MARTS_SCHEMA, name))[1]
    _, days = day_fingerprints(con, name, PARTITIONED_BY_DAY[name], _days(held))
    return json.dumps(days, sort_keys=True)


def _days(line: str | None) -> dict[str, str] | None:
    """The day fingerprints of a kept line; None when it holds none (a file written before them)."""
    if not line or not line.startswith("{"):
        return None
    days: dict[str, str] = json.loads(line)
    return days


def _patch_days(
    con: duckdb.DuckDBPyConnection, name: str, wanted: dict[str, str] | None, held: dict[str, str] | None
) -> bool:
    """Replace, in the copy, the days of dated mart ``name`` whose fingerprint changed, and drop the
    days gone; False (nothing done) without day fingerprints on both sides or when the columns differ."""
    old, new = f"{ALIAS}.main.{ident(name)}", table(MARTS_SCHEMA, name)
    columns = columns_of(con, new)
    if wanted is None or held is None or columns_of(con, old) != columns:
        return False
    changed = [day for day, print_ in wanted.items() if held.get(day) != print_]
    replaced = changed + [day for day in held if day not in wanted]
    column = PARTITIONED_BY_DAY[name]
    if replaced:
        con.execute(f"DELETE FROM {old} WHERE {among_days(column, columns, replaced)}")
    if changed:
        con.execute(f"INSERT INTO {old} SELECT * FROM {new} WHERE {among_days(column, columns, changed)}")
    return True


def _kept_content(target: Path) -> str | None:
    """The fingerprints kept for ``target``, if they were written for the file now there: a file put
    back from a backup, or by hand, has other fingerprints than the kept ones say."""
    text = read_if_present(_kept(target, FINGERPRINT))
    if text is None or not target.exists():
        return None
    stamp, _, content = text.partition("\n")
    return content if stamp == _stamp(target) else None


def _stamp(target: Path) -> str:
    """Which file the fingerprints were written for: its size and modification time."""
    stat = target.stat()
    return f"file={stat.st_size}:{stat.st_mtime_ns}"


def _grown(target: Path) -> bool:
    fresh = read_if_present(_kept(target, FRESH_SIZE))
    size = target.stat().st_size
    return fresh is None or (size > GROWTH * int(fresh) and size > int(fresh) + GROWTH_SLACK)


def _kept(target: Path, suffix: str) -> Path:
    return target.with_name(f".{target.name}{suffix}")


def _building(target: Path) -> Path:
    return target.with_name(f".{target.name}.{uuid.uuid4().hex}.building")


def _swap(building: Path, target: Path, content: str) -> None:
    """The fingerprints are removed before the swap and written after it, so a run stopped in
    between leaves none and the next run builds afresh."""
    fingerprints = _kept(target, FINGERPRINT)
    fingerprints.unlink(missing_ok=True)
    os.replace(building, target)
    fingerprints.write_text(f"{_stamp(target)}\n{content}", encoding="utf-8")
