"""The engine a run uses: ``pipeline.yaml``'s ``engine``, overridden by ``CDP_ENGINE`` for one run;
the Spark session's settings, with the ones the SQL relies on kept whatever the deployment says."""

from pathlib import Path

import pytest

from assets.common.configuration import ConfigError
from assets.common.pipeline_config import PipelineConfig, Spark, engine_name, load_pipeline_config
from assets.common.spark import REQUIRED_CONF, session_conf, warehouse_folder


def config_with(tmp_path: Path, text: str) -> PipelineConfig:
    path = tmp_path / "pipeline.yaml"
    path.write_text(text, encoding="utf-8")
    return load_pipeline_config(path)


def test_duckdb_is_the_default_and_spark_is_chosen_in_the_file(tmp_path: Path) -> None:
    assert config_with(tmp_path, "schedule:\n  hour: 3\n").engine == "duckdb"
    chosen = config_with(tmp_path, "engine: spark\nspark:\n  master: spark://head:7077\n")
    assert (chosen.engine, chosen.spark.master) == ("spark", "spark://head:7077")


def test_cdp_engine_overrides_the_file_for_one_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = config_with(tmp_path, "engine: duckdb\n")
    monkeypatch.delenv("CDP_ENGINE", raising=False)
    assert engine_name(config) == "duckdb"
    monkeypatch.setenv("CDP_ENGINE", "spark")
    assert engine_name(config) == "spark"
    monkeypatch.setenv("CDP_ENGINE", "bigquery")
    expected = r"CDP_ENGINE: must be one of \['duckdb', 'spark'\], got 'bigquery'"
    with pytest.raises(ConfigError, match=expected):
        engine_name(config)


def test_the_session_keeps_the_settings_the_sql_relies_on(tmp_path: Path) -> None:
    """A deployment may tune Spark, but not switch off what makes its answers DuckDB's."""
    settings = Spark(
        conf={"spark.sql.parser.escapedStringLiterals": "false", "spark.sql.shuffle.partitions": "64"}
    )
    conf = session_conf(settings, tmp_path)
    assert conf["spark.sql.parser.escapedStringLiterals"] == "true"
    assert conf["spark.sql.shuffle.partitions"] == "64"
    assert all(conf[key] == value for key, value in REQUIRED_CONF.items())
    assert conf["spark.sql.warehouse.dir"] == str(tmp_path.resolve() / "spark" / "warehouse")
    metastore = conf["spark.hadoop.javax.jdo.option.ConnectionURL"]
    assert str(tmp_path.resolve() / "spark" / "metastore_db") in metastore


def test_a_deployment_may_put_the_spark_warehouse_elsewhere(tmp_path: Path) -> None:
    settings = Spark(warehouse_dir=str(tmp_path / "lake"))
    assert warehouse_folder(settings, tmp_path / "data") == tmp_path / "lake"
    warehouse = session_conf(settings, tmp_path / "data")["spark.sql.warehouse.dir"]
    assert warehouse.startswith(str(tmp_path / "lake"))


def test_on_one_machine_the_driver_listens_on_loopback_only(tmp_path: Path) -> None:
    local = session_conf(Spark(master="local[2]"), tmp_path)
    assert (local["spark.driver.bindAddress"], local["spark.driver.host"]) == ("127.0.0.1", "127.0.0.1")
    assert "spark.driver.bindAddress" not in session_conf(Spark(master="spark://head:7077"), tmp_path)
    assert "-Dlog4j2.configurationFile=file:" in local["spark.driver.extraJavaOptions"]
