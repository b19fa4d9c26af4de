"""Suppression lists: who every destination must drop, in the destination's own format.

A person who withdrew a purpose, or who was deleted on request, may already sit in a platform's
custom audience from an earlier upload. Leaving them out of the next export is not enough: the
platform keeps its copy until told. So each destination gets ``_suppression/<destination>/``
with the digests of those people's identifiers, spelled and hashed exactly as in its audience
files. Deleted people's identifiers are gone from the warehouse, so their digests are computed
when they are deleted (``cdp forget``) and kept in ``privacy.activation_suppression``."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from assets.activation.export import platform_ids
from assets.activation.settings import Destination
from assets.exports.publish import swap_in

SUPPRESSION = "privacy.activation_suppression"
SUPPRESSION_FOLDER = "_suppression"
FORGOTTEN_SCHEMA = pl.Schema({"destination": pl.String(), "file": pl.String(), "value": pl.String()})


def ensure_suppression_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS privacy")
    con.execute(f"""CREATE TABLE IF NOT EXISTS {SUPPRESSION} (
        -- platform digests of deleted people's identifiers, one row per destination file and value
        destination VARCHAR, file VARCHAR, value VARCHAR, request_id VARCHAR, recorded_at TIMESTAMP)""")


def destination_values(
    identifiers: pl.DataFrame, destinations: dict[str, Destination], join_keys: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Every (destination, file, value) a person's ``identifiers`` appear as; CRM lists by the
    salted join key (``join_keys``: unified_id, join_key)."""
    rows = []
    for destination in destinations.values():
        if destination.format == "crm_list":
            if join_keys is not None:
                rows += [(destination.name, "members", k) for k in join_keys.get_column("join_key").to_list()]
            continue
        for spec in destination.files:
            rows += [
                (destination.name, spec.name, v) for v in platform_ids(identifiers, spec)["value"].to_list()
            ]
    return pl.DataFrame(rows, schema=FORGOTTEN_SCHEMA, orient="row").unique()


def record_forgotten(con: duckdb.DuckDBPyConnection, values: pl.DataFrame, request_id: str) -> int:
    ensure_suppression_table(con)
    con.register("forgotten_values", values)
    con.execute(
        f"INSERT INTO {SUPPRESSION} SELECT destination, file, value, ?, ? FROM forgotten_values",
        [request_id, datetime.now()],
    )
    con.unregister("forgotten_values")
    return values.height


def write_suppression(
    root: Path,
    destination: Destination,
    withdrawn: pl.DataFrame,
    forgotten: pl.DataFrame,
    manifest: dict[str, object],
) -> dict[str, int]:
    """``withdrawn``: values (destination, file, value) of people who withdrew a purpose this
    destination serves; ``forgotten``: the recorded values of deleted people. Returns rows per file."""
    target = root / SUPPRESSION_FOLDER / destination.name
    target.parent.mkdir(parents=True, exist_ok=True)
    building = target.with_name(f".{destination.name}.{uuid.uuid4().hex}")
    building.mkdir()
    both = pl.concat(
        [
            withdrawn.with_columns(reason=pl.lit("withdrawn")),
            forgotten.with_columns(reason=pl.lit("forgotten")),
        ]
    ).filter(pl.col("destination") == destination.name)
    names = ["members"] if destination.format == "crm_list" else [f.name for f in destination.files]
    extension = "txt"
    counts: dict[str, int] = {}
    for name in names:
        values = sorted(set(both.filter(pl.col("file") == name).get_column("value").to_list()))
        (building / f"{name}.{extension}").write_text("".join(f"{v}\n" for v in values), encoding="utf-8")
        counts[name] = len(values)
    reasons = dict(both.group_by("reason").agg(pl.col("value").n_unique()).iter_rows())
    (building / "manifest.json").write_text(
        json.dumps(
            {
                "destination": destination.name,
                **manifest,
                "created_at": datetime.now().isoformat(timespec="seconds"),
                "files": counts,
                "values_by_reason": reasons,
            },
            ensure_ascii=False,
            indent=2,
        ),
        encoding="utf-8",
    )
    swap_in(building, target)
    return counts
