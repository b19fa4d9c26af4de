"""Every test runs against its own data directory and Dagster home under ``tmp_path``."""

from pathlib import Path

import pytest

from assets.common.paths import DataPaths


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataPaths:
    monkeypatch.setenv("CDP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.delenv("CDP_LANDING_DIR", raising=False)
    (tmp_path / "dagster_home").mkdir()
    return DataPaths(tmp_path / "data")
