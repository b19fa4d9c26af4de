"""Process environment for every entry point (CLI, UI, tests): Dagster home under the data
directory, telemetry off, event batches on, dbt pointed at the warehouse."""

import os
import shutil
from pathlib import Path

from assets.common.paths import REPO_ROOT, DataPaths

EVENT_BATCH_SIZE = 2000
"""Most asset events Dagster hands its event log in one batch (a partitioned step's
materialisations, a run's planned events); see ``pipelines/event_storage.py``."""


def prepare_environment(paths: DataPaths | None = None) -> DataPaths:
    """Make ``CDP_DATA_DIR`` absolute and point ``DAGSTER_HOME`` (default ``$CDP_DATA_DIR/dagster``)
    at a folder holding a ``dagster.yaml`` — the repository's, unless one is already there. Idempotent."""
    paths = paths or DataPaths.from_env()
    os.environ["CDP_DATA_DIR"] = str(paths.root)
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ["DAGSTER_DISABLE_TELEMETRY"] = "1"
    os.environ["CDP_WAREHOUSE_PATH"] = str(paths.warehouse)
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", str(EVENT_BATCH_SIZE))
    home = Path(os.environ.get("DAGSTER_HOME") or paths.dagster_storage)
    home.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("DAGSTER_HOME") or not (home / "dagster.yaml").exists():
        # our settings (telemetry off, one run at a time) unless the deployment brought its own
        shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    return paths
