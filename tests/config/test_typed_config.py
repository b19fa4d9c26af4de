"""Typed config: values that used to escape as a bare ValueError / TypeError / KeyError from deep in a
loader (or be silently truncated) are now reported as ``file:line: key: problem`` at the key's line."""

import shutil
from pathlib import Path
from typing import Annotated

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from assets.activation.settings import load_activation_config
from assets.common.configuration import SETTINGS, ConfigError, number, problem, read_yaml, validated, whole
from assets.common.paths import CONFIG_DIR
from assets.common.pipeline_config import load_pipeline_config
from assets.ingest.feeds import load_feeds_config
from assets.kpis.attribution.config import load_attribution_config
from assets.profiles.settings import load_clv_config
from pipelines.dbt_vars import load_dbt_vars

FEED = """feeds:
  shop:
    kind: orders
    channel: online
    files: [{pattern: "*.csv", format: csv}]
    record_id: id
    timestamp: ts
    columns: {id: varchar, ts: timestamp, amount: double}
"""
TOUCHPOINTS = "  touchpoints:\n    - {source: ad_events, channel: ad}\n"


@pytest.mark.parametrize(
    "name, text, load, line, key, problem",
    [
        (
            "pipeline.yaml",
            "schedule:\n  hour: three\n",
            load_pipeline_config,
            2,
            "schedule.hour",
            "must be a whole number in [0, 23], got 'three'",
        ),
        (
            "pipeline.yaml",
            "schedule:\n  minute: 0.5\n",
            load_pipeline_config,
            2,
            "schedule.minute",
            "must be a whole number in [0, 59], got 0.5",
        ),
        (
            "pipeline.yaml",
            "dbt:\n  memory_limit: lots\n",
            load_pipeline_config,
            2,
            "dbt.memory_limit",
            "must be an amount such as 4GB or 512MB, or a share of the machine's memory such as 50%, "
            "got 'lots'",
        ),
        (
            "pipeline.yaml",
            "exports:\n  memory_limit: 3 gigs\n",
            load_pipeline_config,
            2,
            "exports.memory_limit",
            "must be an amount such as 4GB or 512MB, or a share of the machine's memory such as 50%, "
            "got '3 gigs'",
        ),
        (
            "pipeline.yaml",
            "engine: snowflake\n",
            load_pipeline_config,
            1,
            "engine",
            "must be one of ['duckdb', 'spark'], got 'snowflake'",
        ),
        (
            "pipeline.yaml",
            "spark:\n  master: local[2]\n  executors: 4\n",
            load_pipeline_config,
            3,
            "spark.executors",
            "unknown key; expected one of ['conf', 'master', 'warehouse_dir']",
        ),
        (
            "pipeline.yaml",
            "sensor:\n  minimum_interval_seconds: [60]\n",
            load_pipeline_config,
            2,
            "sensor.minimum_interval_seconds",
            "must be a whole number >= 1, got [60]",
        ),
        (
            "clv.yaml",
            "time_unit_days: 7\nprediction_horizons_days: 90\n",
            load_clv_config,
            2,
            "prediction_horizons_days",
            "expected a list, got 90",
        ),
        (
            "clv.yaml",
            "calibration_days: lots\n",
            load_clv_config,
            1,
            "calibration_days",
            "must be a whole number >= 1, got 'lots'",
        ),
        (
            "kpis.yaml",
            "attribution:\n  settings: [1]\n" + TOUCHPOINTS,
            load_attribution_config,
            2,
            "attribution.settings",
            "expected a mapping with lookback_days, ",
        ),
        (
            "kpis.yaml",
            "attribution: [1]\n",
            load_attribution_config,
            1,
            "attribution",
            "expected a mapping with settings, touchpoints",
        ),
        (
            "audiences.yaml",
            "destinations:\n  ads:\n    format: id_list\n    files: 5\n",
            load_activation_config,
            4,
            "destinations.ads.files",
            "expected a list, got 5",
        ),
        (
            "feeds.yaml",
            FEED.replace("format: csv}", "format: csv, header: false, columns: 5}"),
            load_feeds_config,
            5,
            "feeds.shop.files[0].columns",
            "expected a list, got 5",
        ),
        (
            "feeds.yaml",
            FEED + "    canonical: [amount]\n",
            load_feeds_config,
            9,
            "feeds.shop.canonical",
            "expected a mapping, got ['amount']",
        ),
        (
            "feeds.yaml",
            FEED + "    identity: [id]\n",
            load_feeds_config,
            9,
            "feeds.shop.identity",
            "expected a mapping, got ['id']",
        ),
        (
            "feeds.yaml",
            FEED + "reference:\n  stores:\n    columns: {store_id: varchar}\n",
            load_feeds_config,
            10,
            "reference.stores",
            "missing required key 'file'",
        ),
    ],
)
def test_every_value_is_reported_at_its_key(tmp_path: Path, name, text, load, line, key, problem):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load(path)
    assert str(error.value).startswith(f"{path}:{line}: {key}: {problem}"), str(error.value)


def test_unknown_keys_are_mistakes_with_the_keys_to_use(tmp_path: Path):
    """A misspelt key used to be ignored (its default silently used); it is named with the right ones."""
    path = tmp_path / "clv.yaml"
    path.write_text("time_unit_days: 7\nholdout_day: 91\n", encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"clv.yaml:2: holdout_day: unknown key; expected one of .*'holdout_days'"
    ):
        load_clv_config(path)


class Block(BaseModel):
    model_config = ConfigDict(frozen=True, **SETTINGS)

    kinds: Annotated[tuple[str, ...], Field(min_length=1)]
    max_size: Annotated[int, whole(2)] = 300

    @model_validator(mode="after")
    def _known(self, info: ValidationInfo) -> "Block":
        for kind in self.kinds:
            if kind not in info.context["kinds"]:
                raise problem(f"'{kind}' is not a declared attribute kind", at="kinds")
        return self


class Matching(BaseModel):
    model_config = ConfigDict(frozen=True, **SETTINGS)

    blocking: tuple[Block, ...] = ()
    min_probability: Annotated[float, number(0, 1, low_open=True, high_open=True)] = 0.5


BLOCKING = "matching:\n  blocking:\n"


@pytest.mark.parametrize(
    "text, line, key, problem_text",
    [
        (
            BLOCKING + "    - {kinds: [mobile], max_size: 1}\n",
            3,
            "matching.blocking[0].max_size",
            "must be a whole number >= 2, got 1",
        ),
        (
            BLOCKING + "    - {kinds: [mobile, city]}\n",
            3,
            "matching.blocking[0].kinds",
            "'city' is not a declared attribute kind",
        ),
        (BLOCKING + "    - {kinds: []}\n", 3, "matching.blocking[0].kinds", "expected a non-empty list"),
        (BLOCKING + "    - {max_size: 5}\n", 3, "matching.blocking[0]", "missing required key 'kinds'"),
        (
            "matching:\n  min_probability: 1\n",
            2,
            "matching.min_probability",
            "must be a number in (0, 1), got 1",
        ),
        (
            "matching:\n  min_probabilty: 0.4\n",
            2,
            "matching.min_probabilty",
            "unknown key; expected one of ['blocking', 'min_probability']",
        ),
    ],
)
def test_the_bridge_reports_pydantic_models_too(tmp_path: Path, text, line, key, problem_text):
    """The identity settings will move onto the same bridge as BaseModels: their errors read the same."""
    path = tmp_path / "identity.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        validated(path, Matching, read_yaml(path)["matching"], "matching", context={"kinds": {"mobile"}})
    assert str(error.value).startswith(f"{path}:{line}: {key}: {problem_text}"), str(error.value)


def test_a_missing_section_says_where_to_copy_it_from(tmp_path: Path):
    folder = tmp_path / "deploy"
    shutil.copytree(CONFIG_DIR, folder)
    kpis = (folder / "kpis.yaml").read_text(encoding="utf-8")
    (folder / "kpis.yaml").write_text(kpis[: kpis.index("anomaly:")], encoding="utf-8")
    with pytest.raises(ConfigError, match=r"kpis.yaml: anomaly: missing; copy it from the repository"):
        load_dbt_vars(folder)
