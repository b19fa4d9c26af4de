"""Shared parts of the benchmark scripts: the dbt environment of a benchmark workdir, its identity
graph, and the figures as JSON on stdout and optionally in a file."""

import json
import os
from pathlib import Path

import duckdb
import polars as pl

from assets.common.paths import DataPaths, hash_salt
from assets.identity import DuckDBGraphStore
from assets.identity.settings import identity_config


def dbt_env(workdir: Path) -> dict[str, str]:
    """Environment for running dbt against ``workdir``'s warehouse with its deployment salt."""
    data = workdir / "data"
    return {
        **os.environ,
        "CDP_WAREHOUSE_PATH": str(data / "warehouse.duckdb"),
        "DO_NOT_TRACK": "1",
        "CDP_HASH_SALT": hash_salt(DataPaths(data)),
    }


def emit(report: dict, json_path: Path | None) -> None:
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(text + "\n", encoding="utf-8")


def identity_graph(warehouse: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Nodes and raw attributes of a built warehouse, as the identity asset reads them, the
    attributes in one frame (the asset reads them one kind at a time)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        store = DuckDBGraphStore(con)
        nodes = store.load_nodes()
        return nodes, pl.concat(list(store.attributes_by_kind(list(identity_config().attribute_kinds))))
