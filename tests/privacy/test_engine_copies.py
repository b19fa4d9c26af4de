"""Spark's copies of a DuckDB deployment's data (``cdp parity``'s working tables) go whole when a
person is forgotten or rows expire; a Spark deployment's warehouse is never touched."""

from pathlib import Path

import pytest

from assets.privacy.engine_copies import drop_spark_copies


def spark_copy(data_dir: Path) -> Path:
    partition = data_dir / "spark" / "inputs" / "raw" / "pos_transactions" / "_partition=2026-05-01"
    partition.mkdir(parents=True)
    (partition / "part-0.parquet").write_bytes(b"a receipt with a mobile")
    (data_dir / "dbt-spark").mkdir()
    return partition


def test_a_duckdb_deployment_drops_sparks_copies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDP_ENGINE", "duckdb")
    spark_copy(tmp_path)
    (tmp_path / "warehouse.duckdb").write_bytes(b"kept")
    assert drop_spark_copies(tmp_path) == [tmp_path / "spark", tmp_path / "dbt-spark"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["warehouse.duckdb"]
    assert drop_spark_copies(tmp_path) == []  # nothing left to drop is no error


def test_a_spark_deployment_keeps_its_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDP_ENGINE", "spark")
    partition = spark_copy(tmp_path)
    assert drop_spark_copies(tmp_path) == []
    assert partition.exists()
