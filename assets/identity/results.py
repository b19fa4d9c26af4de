"""What the identity engine returns: a full :class:`Resolution` or an :class:`Increment`, and the
column schemas of their frames (the identity tables' shapes, whichever store keeps them)."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from assets.identity.scoring import FellegiSunter

NODE_KEYS = ["source", "record_id", "record_type"]
"""What names a node outside the engine: the record (or event actor) of a source."""
LABEL = pl.Categorical()
"""A column of few distinct values (a source, a method, a rule, a run): a full run at 2 M people
holds 22 M resolved rows and 15 M links at once, where a string is a 16-byte view per row (and its
bytes beyond 12) and a category 4 bytes. The stores read it as text."""


def as_labels(frame: pl.DataFrame, columns: tuple[str, ...]) -> pl.DataFrame:
    """``frame`` with ``columns`` held as :data:`LABEL`."""
    return frame.with_columns(pl.col(*columns).cast(LABEL))


RESOLVED_SCHEMA = pl.Schema(
    {
        "source": LABEL,
        "record_id": pl.String(),
        "record_type": LABEL,
        "unified_id": pl.String(),
        "method": LABEL,
        "rule": LABEL,
        "confidence": pl.Float64(),
        "observed_at": pl.Datetime("us"),
        "first_linked_run": LABEL,
        "id_created_at": pl.Datetime("us"),
        "resolved_at": pl.Datetime("us"),
        "node": pl.Int64(),  # the record's permanent number in the stored graph (identity.nodes)
    }
)
LINKS_SCHEMA = pl.Schema(
    {
        "source_a": LABEL,
        "record_id_a": pl.String(),
        "record_type_a": LABEL,
        "source_b": LABEL,
        "record_id_b": pl.String(),
        "record_type_b": LABEL,
        "unified_id": pl.String(),
        "method": LABEL,
        "rule": LABEL,
        "score": pl.Float64(),
        "evidence": pl.String(),
    }
)
# The scored candidate pairs kept for review and for the threshold figures, shown between the first
# records of their two clusters (restricted: record keys; the review mart masks what it shows).
CANDIDATES_SCHEMA = pl.Schema(
    {
        "source_a": pl.String(),
        "record_id_a": pl.String(),
        "record_type_a": pl.String(),
        "source_b": pl.String(),
        "record_id_b": pl.String(),
        "record_type_b": pl.String(),
        "decision": pl.String(),
        "score": pl.Float64(),
        "threshold": pl.Float64(),
        "margin_bits": pl.Float64(),
        "near_threshold": pl.Boolean(),
        "review_rank": pl.Int64(),
        "in_review": pl.Boolean(),
        "agreed": pl.List(pl.String()),
        "disagreed": pl.List(pl.String()),
        "evidence": pl.String(),
        "run_id": pl.String(),
    }
)
KEY_COLUMNS = ["node", "attribute_kind", "namespace", "kind_ns", "key"]
# What an increment changes about a stored person: their new id when merged into an older one, and
# how they are linked when they were alone until now. The store applies it to every record they
# hold; stored people merely gaining records are not rewritten at all.
UNIT_UPDATE_SCHEMA = pl.Schema(
    {
        "old_id": pl.String(),
        "unified_id": pl.String(),
        "id_created_at": pl.Datetime("us"),
        "method": pl.String(),
        "rule": pl.String(),
        "confidence": pl.Float64(),
    }
)


@dataclass(frozen=True)
class Resolution:
    resolved: pl.DataFrame  # RESOLVED_SCHEMA
    links: pl.DataFrame  # LINKS_SCHEMA: the links that built each cluster
    history: pl.DataFrame  # stable_ids.HISTORY_SCHEMA
    guarded: pl.DataFrame  # attribute_kind, namespace, value, guard
    stats: dict[str, int | float]
    match_weights: dict[str, dict[str, float]] = field(default_factory=dict)
    keys: pl.DataFrame = field(default_factory=pl.DataFrame)  # KEY_COLUMNS
    model: FellegiSunter | None = None  # the fitted match model (an incremental run reuses it)
    # CANDIDATES_SCHEMA: a full run's scored pairs near the threshold (an increment keeps the stored ones)
    candidates: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=CANDIDATES_SCHEMA))
    # per compared kind, how far its weights moved since the last run's model (bits, the largest level change)
    match_weight_changes: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Increment:
    resolution: Resolution  # resolved: the changed nodes' rows; keys: their keys
    units: pl.DataFrame  # UNIT_UPDATE_SCHEMA: stored people joined by this run
