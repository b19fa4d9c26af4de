"""Write an audience for one destination: the platform's files, the delta since the last export,
and a manifest that says what was sent, why it was allowed and how many of each id type.

``exports/activation/<audience>/<destination>/`` holds, per file of the destination:
``<file>.<ext>`` (everyone, one value a line), ``<file>.added.<ext>`` and ``<file>.removed.<ext>``
(against the previous export, since platforms take increments), and ``manifest.json``. A CRM list
is one ``members.csv`` of masked fields and a salted join key. The folder is built aside and
swapped in, so a reader (an upload job) sees the previous export or the new one, never half."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from assets.activation.identifiers import SPELLINGS, digest, spell
from assets.activation.settings import Destination, IdFile
from assets.exports.publish import swap_in

IDENTIFIERS_SCHEMA = pl.Schema(
    {"unified_id": pl.String(), "attribute_kind": pl.String(), "namespace": pl.String(), "value": pl.String()}
)
"""A person's usable identifiers, as identity normalised them (restricted: never written out)."""


@dataclass
class ExportedFile:
    name: str
    rows: int
    added: int
    removed: int


@dataclass
class ActivationExport:
    audience: str
    destination: str
    folder: Path
    files: list[ExportedFile] = field(default_factory=list)


def platform_ids(identifiers: pl.DataFrame, spec: IdFile) -> pl.DataFrame:
    """(unified_id, value) of ``spec``'s id type, spelled and hashed as the platform asks."""
    kind = SPELLINGS[spec.id_type][0]
    rows = identifiers.filter(pl.col("attribute_kind") == kind)
    if spec.namespace is not None:
        rows = rows.filter(pl.col("namespace") == spec.namespace)
    out = []
    for unified_id, value in rows.select("unified_id", "value").iter_rows():
        spelled = spell(spec.id_type, value)
        if spelled is not None:
            out.append((unified_id, digest(spelled, spec.hash, spec.case)))
    return (
        pl.DataFrame(out, schema={"unified_id": pl.String, "value": pl.String}, orient="row")
        .unique()
        .sort("value")
    )


def _lines(path: Path, header: bool) -> set[str]:
    if not path.exists():
        return set()
    lines = path.read_text(encoding="utf-8").splitlines()
    return set(lines[1:] if header else lines) - {""}


def _write_lines(path: Path, values: list[str], header: str | None) -> None:
    text = "".join(f"{v}\n" for v in ([header] if header else []) + values)
    path.write_text(text, encoding="utf-8")


def _id_files(
    destination: Destination, identifiers: pl.DataFrame, previous: Path, building: Path
) -> list[ExportedFile]:
    written = []
    for spec in destination.files:
        values = platform_ids(identifiers, spec).get_column("value").to_list()
        name = f"{spec.name}.{destination.extension}"
        before = _lines(previous / name, destination.header)
        header = spec.name if destination.header else None
        added, removed = sorted(set(values) - before), sorted(before - set(values))
        _write_lines(building / name, values, header)
        _write_lines(building / f"{spec.name}.added.{destination.extension}", added, header)
        _write_lines(building / f"{spec.name}.removed.{destination.extension}", removed, header)
        written.append(ExportedFile(spec.name, len(values), len(added), len(removed)))
    return written


def _crm_list(crm_rows: pl.DataFrame, previous: Path, building: Path) -> list[ExportedFile]:
    """``crm_rows``: join_key (salted), mobile_masked, name_masked, city — nothing in clear."""
    before = (
        set(pl.read_csv(previous / "members.csv", infer_schema=False).get_column("join_key").to_list())
        if (previous / "members.csv").exists()
        else set()
    )
    rows = crm_rows.sort("join_key")
    rows.write_csv(building / "members.csv")
    keys = set(rows.get_column("join_key").to_list())
    for suffix, selected in (("added", keys - before), ("removed", before - keys)):
        _write_lines(building / f"members.{suffix}.txt", sorted(selected), "join_key")
    return [ExportedFile("members", rows.height, len(keys - before), len(before - keys))]


def write_export(
    root: Path, audience: str, destination: Destination, members: pl.DataFrame, manifest: dict[str, Any]
) -> ActivationExport:
    """Write ``members`` (identifiers for an id_list destination, CRM rows for a crm_list one)
    under ``root/<audience>/<destination>/`` and swap it in."""
    target = root / audience / destination.name
    target.parent.mkdir(parents=True, exist_ok=True)
    building = target.with_name(f".{destination.name}.{uuid.uuid4().hex}")
    building.mkdir()
    if destination.format == "crm_list":
        files = _crm_list(members, target, building)
    else:
        files = _id_files(destination, members, target, building)
    previous = (
        json.loads((target / "manifest.json").read_text(encoding="utf-8"))
        if (target / "manifest.json").exists()
        else {}
    )
    manifest = {
        "audience": audience,
        "destination": destination.name,
        "format": destination.format,
        **manifest,
        "created_at": datetime.now().isoformat(timespec="seconds"),
        "previous_export_at": previous.get("created_at"),
        "files": {f.name: {"rows": f.rows, "added": f.added, "removed": f.removed} for f in files},
    }
    (building / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    swap_in(building, target)
    return ActivationExport(audience, destination.name, target, files)
