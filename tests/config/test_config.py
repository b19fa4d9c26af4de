from pathlib import Path

import pytest

from assets.common.configuration import ConfigError
from assets.common.pipeline_config import load_pipeline_config
from assets.identity.settings import load_identity_config
from assets.ingest.feeds import load_feeds_config

FEED = """
feeds:
  shop:
    kind: orders
    channel: online
    files: [{pattern: "*.csv", format: csv}]
    record_id: id
    timestamp: ts
    columns: {id: {type: varchar, required: true}, ts: timestamp, phone: varchar}
    identity: {phone: mobile}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_config_loads_all_six_feeds_and_reference_data():
    config = load_feeds_config()
    assert {
        "ecommerce_orders",
        "ecommerce_browse",
        "social_interactions",
        "ad_events",
        "pos_transactions",
        "expo_registrations",
        "device_events",
    } <= set(config.feeds)
    assert set(config.reference) == {"stores", "products", "campaigns", "kols"}
    assert load_pipeline_config().partitions_start <= "2026-05-01"


def test_minimal_feed_gets_defaults(tmp_path):
    feed = load_feeds_config(write(tmp_path, FEED)).feeds["shop"]
    assert feed.identity_bearing and feed.path == "shop"
    assert feed.identity[0].kind == "mobile"
    assert feed.file_spec("a.csv").encoding == "auto" and feed.file_spec("a.json") is None


@pytest.mark.parametrize(
    "broken, where",
    [
        (FEED.replace("record_id: id", "record_id: nope"), "feeds.shop.record_id"),
        (FEED.replace("format: csv", "format: xml"), "feeds.shop.files[0].format"),
        (FEED.replace("{phone: mobile}", "{phone: telepathy}"), "feeds.shop.identity.phone.kind"),
        (FEED.replace("ts: timestamp", "ts: datetime2"), "feeds.shop.columns.ts"),
        (FEED.replace("    kind: orders\n", ""), "missing required key 'kind'"),
    ],
)
def test_config_errors_name_the_file_and_the_key(tmp_path, broken, where):
    path = write(tmp_path, broken)
    with pytest.raises(ConfigError) as error:
        load_feeds_config(path)
    assert str(path) in str(error.value) and where in str(error.value)


def test_invalid_yaml_reports_the_line(tmp_path):
    path = write(tmp_path, "feeds:\n  shop: [unclosed\n")
    with pytest.raises(ConfigError, match="line"):
        load_feeds_config(path)


def test_identity_rules_must_use_strong_kinds(tmp_path):
    path = tmp_path / "identity.yaml"
    path.write_text(
        "attribute_kinds: {mobile: {strength: strong}, city: {strength: weak}}\n"
        "rules: [{name: by_city, kinds: [city]}]\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"rules\[0\]\.kinds"):
        load_identity_config(path)


@pytest.mark.parametrize(
    "broken, where, line",
    [
        (FEED.replace("record_id: id", "record_id: nope"), "feeds.shop.record_id", 7),
        (FEED.replace("format: csv", "format: xml"), "feeds.shop.files[0].format", 6),
        (FEED.replace("{phone: mobile}", "{phone: telepathy}"), "feeds.shop.identity.phone.kind", 10),
        (FEED.replace("    kind: orders\n", ""), "missing required key 'kind'", 3),  # the feed that lacks it
    ],
)
def test_config_errors_give_the_line(tmp_path, broken, where, line):
    path = write(tmp_path, broken)
    with pytest.raises(ConfigError) as error:
        load_feeds_config(path)
    assert error.value.line == line
    assert str(error.value).startswith(f"{path}:{line}: ")


def test_pipeline_freshness_windows_are_checked(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        "partitions: {start_date: '2026-01-01'}\nfreshness:\n  warn_after_hours: 60\n"
        "  fail_after_hours: 50\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"pipeline.yaml:2: freshness: .*warn_after_hours"):
        load_pipeline_config(path)


SHAPES = """
feeds:
  shop:
    kind: people
    channel: online
    files: [{pattern: "*.dat", format: fixed_width, widths: [3, 8], columns: [id, born]}]
    columns: {id: varchar, born: {type: date, format: "%Y%m%d"}, paid: {type: double, thousands: ","}}
"""


@pytest.mark.parametrize(
    "broken, where, problem",
    [
        (
            SHAPES.replace("widths: [3, 8]", "widths: [3]"),
            "feeds.shop.files[0].widths",
            "one width per column",
        ),
        (
            SHAPES.replace("widths: [3, 8]", "widths: [3, 0]"),
            "feeds.shop.files[0].widths",
            "whole number >= 1",
        ),
        (
            SHAPES.replace("columns: [id, born]", "columns: [id, bron]"),
            "feeds.shop.files[0].columns",
            "'bron' is not a declared column",
        ),
        (
            SHAPES.replace('format: "%Y%m%d"', 'format: "YYYYMMDD"'),
            "feeds.shop.columns.born.format",
            "neither a strftime pattern",
        ),
        (
            SHAPES.replace('paid: {type: double, thousands: ","}', 'paid: {type: varchar, thousands: ","}'),
            "feeds.shop.columns.paid.thousands",
            "integer and double columns",
        ),
        (
            SHAPES.replace('thousands: ","', 'thousands: ",", decimal: ","'),
            "feeds.shop.columns.paid.thousands",
            "must differ",
        ),
        (
            SHAPES.replace("paid: {type: double", "paid: {type: double, fromat: x"),
            "feeds.shop.columns.paid.fromat",
            "unknown key; expected one of ['decimal', 'false_values', 'format',",
        ),
        (SHAPES.replace("id: varchar,", "_id: varchar,"), "feeds.shop.columns._id", "reserved"),
        (
            SHAPES.replace("format: fixed_width,", "format: fixed_width, skip_rows: -1,"),
            "feeds.shop.files[0].skip_rows",
            "whole number >= 0",
        ),
        (
            SHAPES.replace("    columns: {id", "    record_id: {hash: everything}\n    columns: {id"),
            "feeds.shop.record_id",
            "{columns: [a, b]}",
        ),
        (
            SHAPES.replace("    columns: {id", "    timestamp: {from: yesterday}\n    columns: {id"),
            "feeds.shop.timestamp.from",
            "must be one of ['load_time', 'partition']",
        ),
        (
            SHAPES.replace("    channel: online", "    channel: online\n    identity_bearing: false"),
            "feeds.shop.identity_bearing",
            "person records",
        ),
    ],
)
def test_file_shape_and_value_format_mistakes_are_named(tmp_path, broken, where, problem):
    path = write(tmp_path, broken)
    with pytest.raises(ConfigError) as error:
        load_feeds_config(path)
    assert f": {where}: " in str(error.value) and problem in str(error.value)


def test_a_people_feed_without_ids_or_times_gets_derived_columns(tmp_path):
    feed = load_feeds_config(write(tmp_path, SHAPES)).feeds["shop"]
    assert (feed.record_id, feed.record_id_from, feed.timestamp, feed.timestamp_from) == (
        "_record_id",
        (),
        "_timestamp",
        "partition",
    )
    assert [c.name for c in feed.source_columns] == ["id", "born", "paid"]
    assert feed.files[0].columns == ("id", "born") and feed.files[0].header is False
