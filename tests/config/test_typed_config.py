"""Typed config: values that used to escape as a bare ValueError / TypeError / KeyError from deep in a
loader (or be silently truncated) are now reported as ``file:line: key: problem`` at the key's line."""

from pathlib import Path

import pytest

from assets.activation.settings import load_activation_config
from assets.common.configuration import ConfigError
from assets.common.pipeline_config import load_pipeline_config
from assets.ingest.feeds import load_feeds_config
from assets.kpis.attribution.config import load_attribution_config
from assets.profiles.settings import load_clv_config

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


@pytest.mark.parametrize("name, text, load, line, key, problem", [
    ("pipeline.yaml", "schedule:\n  hour: three\n", load_pipeline_config, 2, "schedule.hour",
     "must be a whole number in [0, 23], got 'three'"),
    ("pipeline.yaml", "schedule:\n  minute: 0.5\n", load_pipeline_config, 2, "schedule.minute",
     "must be a whole number in [0, 59], got 0.5"),
    ("pipeline.yaml", "sensor:\n  minimum_interval_seconds: [60]\n", load_pipeline_config, 2,
     "sensor.minimum_interval_seconds", "must be a whole number >= 1, got [60]"),
    ("clv.yaml", "time_unit_days: 7\nprediction_horizons_days: 90\n", load_clv_config, 2,
     "prediction_horizons_days", "expected a list, got 90"),
    ("clv.yaml", "calibration_days: lots\n", load_clv_config, 1, "calibration_days",
     "must be a whole number >= 1, got 'lots'"),
    ("kpis.yaml", "attribution:\n  settings: [1]\n" + TOUCHPOINTS, load_attribution_config, 2,
     "attribution.settings", "expected a mapping with lookback_days, "),
    ("kpis.yaml", "attribution: [1]\n", load_attribution_config, 1, "attribution",
     "expected a mapping with settings, touchpoints"),
    ("audiences.yaml", "destinations:\n  ads:\n    format: id_list\n    files: 5\n", load_activation_config,
     4, "destinations.ads.files", "expected a list, got 5"),
    ("feeds.yaml", FEED.replace("format: csv}", "format: csv, header: false, columns: 5}"), load_feeds_config,
     5, "feeds.shop.files[0].columns", "expected a list, got 5"),
    ("feeds.yaml", FEED + "    canonical: [amount]\n", load_feeds_config, 9, "feeds.shop.canonical",
     "expected a mapping, got ['amount']"),
    ("feeds.yaml", FEED + "    identity: [id]\n", load_feeds_config, 9, "feeds.shop.identity",
     "expected a mapping, got ['id']"),
    ("feeds.yaml", FEED + "reference:\n  stores:\n    columns: {store_id: varchar}\n", load_feeds_config, 10,
     "reference.stores", "missing required key 'file'"),
])
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
    with pytest.raises(ConfigError,
                       match=r"clv.yaml:2: holdout_day: unknown key; expected one of .*'holdout_days'"):
        load_clv_config(path)
