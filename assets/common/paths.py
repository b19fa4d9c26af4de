"""Where things live. Every runtime path derives from ``CDP_DATA_DIR`` so tests and deployments can
move the whole runtime state by setting one variable; a deployment's configuration is one folder,
``CDP_CONFIG_DIR``. This module is the one place that reads those variables."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = Path(os.environ.get("CDP_CONFIG_DIR", REPO_ROOT / "config"))
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"


@dataclass(frozen=True)
class DataPaths:
    """The runtime layout under one data directory."""

    root: Path

    @classmethod
    def from_env(cls) -> DataPaths:
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
    def dbt_target(self) -> Path:
        """dbt's target folder for this deployment: artifacts, logs and the partial-parse state.
        dbt re-parses the whole project when the warehouse path, the salt or the vars differ from
        the last parse in its target folder, so each deployment keeps its own."""
        return self.root / "dbt"

    @property
    def dagster_storage(self) -> Path:
        return self.root / "dagster"


def hash_salt(paths: DataPaths) -> str:
    """The salt of the pseudonymous hashes in marts: ``CDP_HASH_SALT`` if set, else a random salt
    kept in ``$CDP_DATA_DIR/secrets/hash_salt`` (created on first use, readable by its owner only),
    so it is never in the repository and stays stable across runs of one deployment."""
    if os.environ.get("CDP_HASH_SALT"):
        return os.environ["CDP_HASH_SALT"]
    path = paths.root / "secrets" / "hash_salt"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        path.write_text(secrets.token_hex(32), encoding="ascii")
        path.chmod(0o600)
    return path.read_text(encoding="ascii").strip()
