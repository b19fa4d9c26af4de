"""Pinned decisions at run time: a reviewer's ``must_link`` / ``cannot_link`` as graph keys.

A pin becomes keys of the records it names, so every step of a full or an incremental run
honours it without knowing pins exist:

* ``must_link``: both sides hold one identifier of the kind :data:`PIN_MUST`, linked by the
  strongest stitching rule (:data:`PIN_RULE`), which :func:`~assets.identity.clustering.constrained_merge`
  applies even across conflicting exclusive values (two national ids the reviewer knows are one
  person's) — only a ``cannot_link`` stops it;
* ``cannot_link``: side a holds the value ``a`` and side b the value ``b`` of an exclusive kind of
  its own (:data:`PIN_CANNOT` namespaced by the pin), so the two never share a cluster: a
  component holding both is split at its weakest links, as any conflict is, and no match joins them.

The keys are stored with the node's others (``identity.node_keys``), so a record arriving later
finds the stored people it is pinned to or against. Each run logs the pins it applied to
``identity.history`` (event ``must_link`` / ``cannot_link``), saying whether the decision holds."""

from __future__ import annotations

import hashlib
from datetime import datetime

import polars as pl

from assets.identity.normalize import hash_key
from assets.identity.pin_settings import Pin, PinSide
from assets.identity.stable_ids import HISTORY_SCHEMA

PIN_MUST = "_pin_must_link"  # the attribute kind carrying must_link identifiers
PIN_CANNOT = "_pin_cannot_link"  # the exclusive kind carrying cannot_link sides
PIN_RULE = "pin_must_link"  # the stitching rule must_link identifiers link by (links.rule, identity_map.rule)
PINNED_SCHEMA = pl.Schema({"pin": pl.Int64(), "side": pl.String(), "node": pl.Int64()})
KEYS_SCHEMA = pl.Schema(
    {
        "node": pl.Int64(),
        "attribute_kind": pl.String(),
        "namespace": pl.String(),
        "key": pl.String(),
        "kind_ns": pl.String(),
    }
)


def pin_id(pin: Pin) -> str:
    """A name for the pin that stays while its sides do (not its position in the file)."""
    return hashlib.sha256(repr((pin.decision, sorted([repr(pin.a), repr(pin.b)]))).encode()).hexdigest()[:12]


def pinned_nodes(
    pins: tuple[Pin, ...], nodes: pl.DataFrame, keyed: pl.DataFrame, hashed: set[str], salt: str
) -> pl.DataFrame:
    """(pin, side, node): the nodes of this run each pin names; ``pin`` indexes ``pins``.

    ``nodes``: (node, source, record_id, record_type); ``keyed``: the run's normalised keys;
    ``hashed``: the kinds whose keys are salted hashes."""
    parts = [
        _side_nodes(side, nodes, keyed, hashed, salt).select(
            pl.lit(i, dtype=pl.Int64).alias("pin"), pl.lit(name).alias("side"), "node"
        )
        for i, pin in enumerate(pins)
        for name, side in (("a", pin.a), ("b", pin.b))
    ]
    return (
        pl.concat(parts).unique().sort("pin", "side", "node") if parts else pl.DataFrame(schema=PINNED_SCHEMA)
    )


def _side_nodes(
    side: PinSide, nodes: pl.DataFrame, keyed: pl.DataFrame, hashed: set[str], salt: str
) -> pl.DataFrame:
    if side.source is not None:
        return nodes.filter(
            (pl.col("source") == side.source)
            & (pl.col("record_id") == side.record_id)
            & (pl.col("record_type") == "record")
        ).select("node")
    assert side.key is not None  # a side is a record (source) or an identifier (kind and key)
    key = hash_key(side.key, salt) if side.kind in hashed else side.key
    return keyed.filter(
        (pl.col("attribute_kind") == side.kind)
        & (pl.col("namespace") == side.namespace)
        & (pl.col("key") == key)
    ).select("node")


def pin_keys(pins: tuple[Pin, ...], pinned: pl.DataFrame) -> pl.DataFrame:
    """The keys that make the engine honour the pins (:data:`KEYS_SCHEMA`, appended to the run's keys)."""
    ids = pl.DataFrame(
        {
            "pin": range(len(pins)),
            "decision": [p.decision for p in pins],
            "pin_id": [pin_id(p) for p in pins],
        },
        schema={"pin": pl.Int64, "decision": pl.String, "pin_id": pl.String},
    )
    rows = pinned.join(ids, on="pin")
    must = rows.filter(pl.col("decision") == "must_link").select(
        "node",
        pl.lit(PIN_MUST).alias("attribute_kind"),
        pl.lit("").alias("namespace"),
        pl.col("pin_id").alias("key"),
        pl.lit(PIN_MUST).alias("kind_ns"),
    )
    cannot = rows.filter(pl.col("decision") == "cannot_link").select(
        "node",
        pl.lit(PIN_CANNOT).alias("attribute_kind"),
        pl.col("pin_id").alias("namespace"),
        pl.col("side").alias("key"),
        pl.concat_str(pl.lit(PIN_CANNOT), pl.col("pin_id"), separator=":").alias("kind_ns"),
    )
    return pl.concat([must, cannot]).unique().cast(KEYS_SCHEMA)


def pin_history(
    pins: tuple[Pin, ...], pinned: pl.DataFrame, resolved: pl.DataFrame, run_id: str, happened_at: datetime
) -> tuple[pl.DataFrame, dict[str, int]]:
    """One history row per pin naming a record of this run, saying whether it holds, and the counts.

    ``resolved``: (node, source, record_id, unified_id) of the run's nodes. An incremental run sees
    only the sides among its changed nodes and the people they joined."""
    sides = pinned.join(resolved.select("node", "source", "record_id", "unified_id"), on="node")
    rows, unmet = [], 0
    for (pin_index,), group in (
        sides.sort("pin", "side", "node").partition_by("pin", as_dict=True, maintain_order=True).items()
    ):
        pin = pins[pin_index]
        ids = {
            side: set(group.filter(pl.col("side") == side).get_column("unified_id").to_list())
            for side in "ab"
        }
        held = (
            len(ids["a"] | ids["b"]) == 1 and None not in ids["a"]
            if pin.decision == "must_link"
            else not (ids["a"] & ids["b"] - {None})
        )
        unmet += not held
        outcome = "holds" if held else "does NOT hold (contradicted by another pin)"
        if held and not (ids["a"] and ids["b"]):
            outcome = f"applied to this run's records of side {'a' if ids['a'] else 'b'}"
        note = f" ({pin.note})" if pin.note else ""
        first = {side: min((i for i in ids[side] if i is not None), default=None) for side in "ab"}
        rows.append(
            (
                run_id,
                pin.decision,
                first["a"],
                first["b"],
                group.height,
                sorted(set(group.select(pl.concat_str("source", "record_id", separator=":")).to_series())),
                f"pinned in config/identity.yaml {pin.where}{note}: {pin.a.describe()} and "
                f"{pin.b.describe()} — {outcome}",
                happened_at,
            )
        )
    history = pl.DataFrame(rows, schema=HISTORY_SCHEMA, orient="row")
    return history, {"pins_applied": history.height, "pins_not_holding": unmet}


def pins_not_found(pins: tuple[Pin, ...], pinned: pl.DataFrame) -> int:
    """Pins with a side naming no record of a full run: a mistyped record id, or a record not loaded yet."""
    both = pinned.select("pin", "side").unique().group_by("pin").len().filter(pl.col("len") == 2).height
    return len(pins) - both
