"""The daily partition range: declared, or following the landing zone's first day folder."""

from datetime import date

import pytest

from assets.common.configuration import ConfigError
from assets.common.pipeline_config import load_pipeline_config
from assets.ingest.feeds import feeds_config
from assets.ingest.partitions import first_partition_day


def test_without_a_declared_start_the_first_landing_day_is_the_first_partition(tmp_path):
    feeds = list(feeds_config().feeds.values())
    assert first_partition_day(tmp_path, feeds, None) == date.today()
    (tmp_path / feeds[0].path / "1997-01-01").mkdir(parents=True)
    (tmp_path / feeds[-1].path / "1998-03-02").mkdir(parents=True)
    (tmp_path / feeds[-1].path / "notes").mkdir()
    assert first_partition_day(tmp_path, feeds, None) == date(1997, 1, 1)
    assert first_partition_day(tmp_path, feeds, "2026-01-01") == date(2026, 1, 1)


def test_the_start_date_is_optional_but_must_be_a_date(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text("partitions: {timezone: Asia/Shanghai}\n", encoding="utf-8")
    assert load_pipeline_config(path).partitions_start is None
    path.write_text("partitions:\n  start_date: soon\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{path}:2: partitions.start_date: must be a date \(YYYY-MM-DD\)"):
        load_pipeline_config(path)
