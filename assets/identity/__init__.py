"""Identity resolution: records and event actors → stable unified ids, as a library.

The public API is what this package exports; its modules are internal. A run reads nodes and
their raw identifier values, links them on strong identifiers (splitting components that hold
conflicting values), matches what is left with a Fellegi–Sunter model and keeps ids stable across
runs. :func:`resolve` resolves a whole graph in memory; :func:`resolve_stored` does one daily run
against a :class:`GraphStore` — a full rebuild, or :func:`resolve_increment` of what changed — and
:class:`DuckDBGraphStore` keeps the graph in a DuckDB warehouse (:class:`Tables` says where).
Nothing here imports Dagster: ``assets/identity/assets.py`` is the thin wrapper that does.

Example, from the repository root — two receipts sharing an email are one person, a third with
its own phone another:

>>> from datetime import datetime
>>> from pathlib import Path
>>> import polars as pl
>>> from assets.identity import load_identity_config, resolve
>>> config = load_identity_config(Path("config/identity.yaml"))
>>> nodes = pl.DataFrame({"node": [0, 1, 2], "source": "shop", "record_id": ["r1", "r2", "r3"],
...                       "record_type": "record", "observed_at": datetime(2026, 5, 1)})
>>> attributes = pl.DataFrame({"node": [0, 1, 2], "attribute_kind": ["email", "email", "mobile"],
...                            "namespace": "", "value": ["a@x.cn", " A@X.CN", "13912345678"]})
>>> result = resolve(nodes, attributes, config, salt="example", run_id="run-1")
>>> result.resolved.sort("node").get_column("unified_id").n_unique()
2
>>> result.resolved.sort("node").get_column("method").to_list()
['deterministic', 'deterministic', 'singleton']
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

# Loaded on first use: the settings are read by every configuration check (``cdp feeds check``, the
# feeds' own config), which should not pay for the matching libraries.
_EXPORTS = {
    "IdentityConfig": "settings",
    "load_identity_config": "settings",
    "resolve": "engine",
    "number_nodes": "engine",
    "resolve_increment": "incremental",
    "resolve_stored": "run",
    "resolve_warehouse": "run",
    "Outcome": "run",
    "Resolution": "results",
    "Increment": "results",
    "GraphStore": "store",
    "GraphLookups": "store",
    "Tables": "store",
    "State": "store",
    "RunRecord": "store",
    "Changes": "store",
    "DuckDBGraphStore": "graph_store",
}
__all__ = [
    "Changes",
    "DuckDBGraphStore",
    "GraphLookups",
    "GraphStore",
    "IdentityConfig",
    "Increment",
    "Outcome",
    "Resolution",
    "RunRecord",
    "State",
    "Tables",
    "load_identity_config",
    "number_nodes",
    "resolve",
    "resolve_increment",
    "resolve_stored",
    "resolve_warehouse",
]

if TYPE_CHECKING:
    from assets.identity.engine import number_nodes, resolve
    from assets.identity.graph_store import DuckDBGraphStore
    from assets.identity.incremental import resolve_increment
    from assets.identity.results import Increment, Resolution
    from assets.identity.run import Outcome, resolve_stored, resolve_warehouse
    from assets.identity.settings import IdentityConfig, load_identity_config
    from assets.identity.store import Changes, GraphLookups, GraphStore, RunRecord, State, Tables


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
