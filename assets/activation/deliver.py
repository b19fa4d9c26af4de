"""Deliver every activated audience to each of its destinations, and every destination its
suppression list, from the warehouse's marts.

Members come from ``marts.audience_members`` (already limited to people whose consent covers the
audience's purpose); their identifiers from the restricted layer (staging's normalised values of
their records, minus values identity refused as shared or placeholder: a store's front-desk phone
is nobody's). Nothing leaves unhashed but platform ids (OpenIDs), which are the platform's own."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from assets.activation.export import IDENTIFIERS_SCHEMA, ActivationExport, write_export
from assets.activation.identifiers import SPELLINGS
from assets.activation.settings import Audience, Destination, Purpose
from assets.activation.suppression import (
    FORGOTTEN_SCHEMA,
    SUPPRESSION,
    SUPPRESSION_FOLDER,
    destination_values,
    ensure_suppression_table,
    write_suppression,
)

ACTIVATED_KINDS = sorted({kind for kind, _ in SPELLINGS.values()})


@dataclass
class Delivery:
    exports: list[ActivationExport] = field(default_factory=list)
    suppressed: dict[str, dict[str, int]] = field(default_factory=dict)  # destination -> file -> values


def identifiers_of(con: duckdb.DuckDBPyConnection, people: pl.DataFrame) -> pl.DataFrame:
    """Usable identifiers (mobile, email, device ids, platform ids) of ``people`` (unified_id)."""
    if people.is_empty():
        return pl.DataFrame(schema=IDENTIFIERS_SCHEMA)
    con.register("wanted_people", people.select("unified_id").unique())
    kinds = ", ".join(f"'{k}'" for k in ACTIVATED_KINDS)
    frame = con.sql(f"""
        SELECT DISTINCT r.unified_id, a.attribute_kind, a.namespace, a.value
        FROM staging.stg_identity_attributes a
        JOIN identity.resolved_records r USING (source, record_id, record_type)
        JOIN wanted_people w ON w.unified_id = r.unified_id
        LEFT JOIN identity.guarded_values g ON g.attribute_kind = a.attribute_kind AND g.value = a.value
        WHERE a.is_valid AND g.value IS NULL AND a.attribute_kind IN ({kinds})""").pl()
    con.unregister("wanted_people")
    return frame.cast(IDENTIFIERS_SCHEMA)


def crm_rows(con: duckdb.DuckDBPyConnection, people: pl.DataFrame) -> pl.DataFrame:
    """A CRM / SMS tool's row per person: the salted join key and masked display fields."""
    con.register("wanted_people", people.select("unified_id").unique())
    frame = con.sql("""SELECT d.mobile_hash AS join_key, d.mobile_masked, d.name_masked, d.city
                       FROM marts.dim_users d JOIN wanted_people USING (unified_id)
                       WHERE d.mobile_hash IS NOT NULL""").pl()
    con.unregister("wanted_people")
    return frame


@dataclass
class Recipients:
    """Everyone a delivery names, with their identifiers: the members of each activated audience,
    and everyone who withdrew a purpose (each destination's suppression list holds those who
    withdrew a purpose it serves). Their identifiers are looked up in the restricted layer once per
    delivery, not once per audience and destination: at 200 k people each look-up is a join of
    every staged identifier with every resolved record."""

    members: pl.DataFrame  # audience, unified_id
    withdrawals: pl.DataFrame  # unified_id, purpose: one row per withdrawn purpose
    identifiers: pl.DataFrame  # identifiers_of everyone above

    @classmethod
    def read(cls, con: duckdb.DuckDBPyConnection, audiences: list[str]) -> Recipients:
        members = con.sql(
            "SELECT audience, unified_id FROM marts.audience_members "
            "WHERE list_contains(?::VARCHAR[], audience)",
            params=[audiences],
        ).pl()
        withdrawals = con.sql(
            "SELECT DISTINCT unified_id, purpose FROM marts.user_consent WHERE status = 'withdrawn'"
        ).pl()
        everyone = pl.concat([members.select("unified_id"), withdrawals.select("unified_id")])
        return cls(members, withdrawals, identifiers_of(con, everyone))

    def members_of(self, audience: str) -> pl.DataFrame:
        return self.members.filter(pl.col("audience") == audience).select("unified_id")

    def withdrew(self, served: list[str]) -> pl.DataFrame:
        """The people who withdrew any of the ``served`` purposes (unified_id)."""
        return self.withdrawals.filter(pl.col("purpose").is_in(served)).select("unified_id").unique()

    def identifiers_of(self, people: pl.DataFrame) -> pl.DataFrame:
        return self.identifiers.join(people, on="unified_id", how="semi")


def deliver(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    audiences: tuple[Audience, ...],
    destinations: dict[str, Destination],
    purposes: dict[str, Purpose],
    context: dict[str, object],
) -> Delivery:
    """Write each audience × destination and each destination's suppression list under ``root``;
    folders of audiences or destinations no longer declared go, so no upload job sends a stale list."""
    delivery = Delivery()
    summary = {
        a: (m, e)
        for a, m, e in con.execute(
            "SELECT audience, members, excluded_without_consent FROM marts.audience_summary"
        ).fetchall()
    }
    activated = [(a, a.purpose) for a in audiences if a.destinations and a.purpose]
    recipients = Recipients.read(con, [a.name for a, _ in activated])
    for audience, purpose in activated:
        members = recipients.members_of(audience.name)
        identifiers = recipients.identifiers_of(members)
        for name in audience.destinations:
            destination = destinations[name]
            rows = crm_rows(con, members) if destination.format == "crm_list" else identifiers
            members_total, excluded = summary.get(audience.name, (members.height, 0))
            delivery.exports.append(
                write_export(
                    root,
                    audience.name,
                    destination,
                    rows,
                    {
                        "purpose": purpose,
                        "consent_basis": purposes[purpose].basis,
                        "members": members_total,
                        "excluded_without_consent": excluded,
                        **context,
                    },
                )
            )
    ensure_suppression_table(con)
    forgotten = con.sql(f"SELECT DISTINCT destination, file, value FROM {SUPPRESSION}").pl()
    for destination in destinations.values():
        served = sorted({a.purpose for a in audiences if a.purpose and destination.name in a.destinations})
        delivery.suppressed[destination.name] = _suppression_list(
            con,
            root,
            destination,
            recipients.withdrew(served),
            recipients,
            forgotten,
            {"purposes": served, **context},
        )
    _remove_stale(root, {a.name: set(a.destinations) for a, _ in activated}, set(destinations))
    return delivery


def _suppression_list(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    destination: Destination,
    people: pl.DataFrame,
    recipients: Recipients,
    forgotten: pl.DataFrame,
    manifest: dict[str, object],
) -> dict[str, int]:
    """The people ``destination`` must drop: ``people``, who withdrew a purpose it serves, and those
    deleted on request (``forgotten``: their digests were kept when they were deleted)."""
    keys = crm_rows(con, people).select(pl.col("join_key")) if destination.format == "crm_list" else None
    withdrawn = destination_values(recipients.identifiers_of(people), {destination.name: destination}, keys)
    return write_suppression(root, destination, withdrawn, forgotten.cast(FORGOTTEN_SCHEMA), manifest)


def _remove_stale(root: Path, delivered: dict[str, set[str]], destinations: set[str]) -> None:
    for folder in (p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if folder.name == SUPPRESSION_FOLDER:
            stale = [d for d in folder.iterdir() if d.is_dir() and d.name not in destinations]
        elif folder.name not in delivered:
            stale = [folder]
        else:
            stale = [d for d in folder.iterdir() if d.is_dir() and d.name not in delivered[folder.name]]
        for path in stale:
            if not path.name.startswith("."):
                shutil.rmtree(path)
