"""Where the identity graph lives: the interface every store implements.

The engine never issues SQL. A full run reads every node from the store and writes the whole
graph back; an incremental run reads the nodes changed since the last run's watermark, asks the
store what it needs about the people around them (:class:`GraphLookups`) and writes only what
changed. :class:`~assets.identity.graph_store.DuckDBGraphStore` keeps the graph in the warehouse;
a store on another engine (Spark) implements the same two protocols."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import polars as pl

from assets.identity.results import Increment, Resolution

# What the lookups say about a stored person: a summary, and their keys with how many of their
# records hold each (the kinds matching and conflict rules read).
SUMMARY_SCHEMA = pl.Schema(
    {
        "unified_id": pl.String(),
        "size": pl.Int64(),
        "node": pl.Int64(),
        "id_created_at": pl.Datetime("us"),
        "first_seen": pl.Datetime("us"),
        "method": pl.String(),
        "rule": pl.String(),
        "confidence": pl.Float64(),
    }
)
PERSON_KEYS_SCHEMA = pl.Schema(
    {
        "unified_id": pl.String(),
        "attribute_kind": pl.String(),
        "kind_ns": pl.String(),
        "key": pl.String(),
        "n": pl.Int64(),
    }
)


@dataclass(frozen=True)
class Tables:
    """The tables a store reads (staging) and writes (the graph), so a deployment or a test can put
    them elsewhere; the defaults are what the dbt project reads and writes."""

    staged_records: str = "staging.stg_identity_records"
    staged_attributes: str = "staging.stg_identity_attributes"
    schema: str = "identity"
    resolved: str = "resolved_records"
    links: str = "links"
    history: str = "history"
    guarded: str = "guarded_values"
    nodes: str = "nodes"
    node_keys: str = "node_keys"
    state: str = "state"
    candidates: str = "match_candidates"
    curve: str = "threshold_curve"

    def qualified(self) -> dict[str, str]:
        """Every table by field name, schema-qualified: the names SQL templates are formatted with."""
        graph = (
            "resolved",
            "links",
            "history",
            "guarded",
            "nodes",
            "node_keys",
            "state",
            "candidates",
            "curve",
        )
        return {
            "staged_records": self.staged_records,
            "staged_attributes": self.staged_attributes,
            **{name: f"{self.schema}.{getattr(self, name)}" for name in graph},
        }


@dataclass(frozen=True)
class State:
    """The last run's state row."""

    mode: str
    resolved_at: datetime
    last_full_at: datetime
    fingerprint: str
    model: str | None
    nodes: int
    watermark: datetime | None
    users: int  # unified ids in the graph: the denominator of name frequencies in the next increment


@dataclass(frozen=True)
class RunRecord:
    """What a run tells the store about itself (the store adds how many nodes the graph holds)."""

    run_id: str
    mode: str  # full | incremental
    reason: str | None  # why a full rebuild ran
    resolved_at: datetime
    last_full_at: datetime
    fingerprint: str
    model: str | None  # the match model as JSON
    changed_nodes: int
    rewritten_nodes: int
    seconds: float
    watermark: datetime | None
    users: int


@dataclass(frozen=True)
class Changes:
    """What was loaded since a watermark: changed nodes, and records staging holds that neither the
    graph nor the change set accounts for (negative: records disappeared)."""

    changed: int
    unaccounted: int


class GraphLookups(Protocol):
    """What an incremental run asks about the stored graph around one set of changed nodes.

    Frames are polars; ``unified_id`` names a stored person; the changed nodes' own stored rows are
    left out of every answer about stored people."""

    def holders(self, identifiers: pl.DataFrame, exclusive: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
        """For (attribute_kind, kind_ns, key, identifier): the stored people holding them (unified_id,
        identifier, node: one of their records holding it) and the values of the ``exclusive`` kinds
        on every stored record holding them (identifier, kind_ns, key)."""

    def previous(self) -> pl.DataFrame:
        """(node, unified_id, id_created_at, first_linked_run, observed_at) of the changed nodes that
        were resolved before."""

    def stored_keys(self, kinds: list[str]) -> pl.DataFrame:
        """(node, attribute_kind, key) of ``kinds`` that the changed nodes held as stored, before
        this run (none for new nodes)."""

    def units(self, ids: pl.Series) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Per stored person: a summary (:data:`SUMMARY_SCHEMA`; ``node``: their first record,
        ``first_seen``: their earliest observation) and their keys of the looked-up kinds
        (:data:`PERSON_KEYS_SCHEMA`) — with the stored keys their changed actors did not bring back."""

    def block_partners(
        self, combos: dict[tuple[str, ...], pl.DataFrame]
    ) -> dict[tuple[str, ...], pl.DataFrame]:
        """Per blocking pass, (unified_id, <kinds>…) of the stored people holding one of its combinations."""

    def people_per_key(self, kind: str, keys: pl.Series) -> pl.DataFrame:
        """(key, people): how many stored people hold each key of ``kind``."""

    def guarded_identifiers(self) -> pl.DataFrame:
        """(attribute_kind, namespace, key) of the identifiers found shared so far."""

    def record_keys(self, ids: pl.Series) -> pl.DataFrame:
        """(unified_id, keys): the sorted source:record_id of each person's records, for the history."""

    def stored_records(self, nodes: pl.DataFrame) -> pl.DataFrame:
        """(node, source, record_id, record_type, old_id) of the given stored nodes."""


class GraphStore(Protocol):
    """A stored identity graph: what a run reads, writes and remembers."""

    version: str  # changes when the store's keys or layout do: a stored graph of another version is rebuilt

    def watermark(self) -> datetime | None:
        """How far staging is loaded now: the next run links what arrives after it."""

    def last_state(self) -> State | None:
        """The last run's state; None when there is no graph (or one of an older layout)."""

    def load_nodes(self) -> pl.DataFrame:
        """Number every node staging holds: the nodes as :func:`~assets.identity.engine.resolve`
        takes them."""

    def attributes_by_kind(self, kinds: list[str]) -> Iterator[pl.DataFrame]:
        """The attributes of :meth:`load_nodes`' nodes as :func:`~assets.identity.engine.resolve`
        takes them, one frame per kind in ``kinds``, each read when it is asked for."""

    def previous_ids(self) -> pl.DataFrame | None:
        """(node, unified_id, id_created_at, first_linked_run) of the stored graph for the nodes of
        :meth:`load_nodes`; None when there is none."""

    def changes_since(self, watermark: datetime) -> Changes:
        """What was loaded after ``watermark``."""

    def load_changed(self, watermark: datetime, node_kinds: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The nodes changed since ``watermark``, numbered: (nodes, attributes) as
        :func:`~assets.identity.incremental.resolve_increment` takes them. A stored actor with a
        person brings its new rows and its old rows of ``node_kinds``; its other old keys are read
        as its person's (:meth:`GraphLookups.units`) and stay stored."""

    def lookups(self, changed: pl.DataFrame, summary_kinds: list[str]) -> GraphLookups:
        """Lookups around the ``changed`` nodes; people's keys are read for ``summary_kinds``."""

    def write_full(self, resolution: Resolution) -> None:
        """Replace the whole graph (after :meth:`load_nodes`)."""

    def write_increment(self, increment: Increment) -> None:
        """Write what an increment changed (after :meth:`load_changed` and :meth:`lookups`)."""

    def record_state(self, run: RunRecord) -> None:
        """Append this run's state row."""
