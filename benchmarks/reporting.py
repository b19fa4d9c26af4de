"""Shared parts of the benchmark scripts: the dbt environment of a benchmark workdir, and the
figures as JSON on stdout and optionally in a file."""

import json
import os
from pathlib import Path

from assets.common.paths import DataPaths, hash_salt


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
