"""Where things live. Every path derives from ``CDP_DATA_DIR`` so tests and deployments can move
the whole runtime state by setting one variable."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = Path(os.environ.get("CDP_CONFIG_DIR", REPO_ROOT / "config"))
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"

STAGES = ("ingest", "identity", "profiles", "kpis", "exports")
"""The Dagster asset groups, in data-flow order: every asset belongs to one stage."""

# dbt folders not named after a stage: staging cleans the feeds (ingest); the core facts carry the
# resolved customer (identity); intermediate models feed the profiles (dim_users among them).
STAGE_OF_FOLDER = {"staging": "ingest", "core": "identity", "intermediate": "profiles"}


@dataclass(frozen=True)
class DataPaths:
    """The runtime layout under one data directory."""

    root: Path

    @classmethod
    def from_env(cls) -> "DataPaths":
        return cls(Path(os.environ.get("CDP_DATA_DIR", "data")).resolve())

    @property
    def landing(self) -> Path:
        return Path(os.environ.get("CDP_LANDING_DIR", self.root / "landing")).resolve()

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def analyst_db(self) -> Path:
        return self.root / "marts.duckdb"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def dagster_storage(self) -> Path:
        return self.root / "dagster"
