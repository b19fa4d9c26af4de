"""The identity settings belong to the engine and say which key is wrong and where."""

from pathlib import Path

import pytest

from assets.common.configuration import ConfigError
from assets.identity.settings import identity_config, load_identity_config

SHIPPED = Path(__file__).parents[2] / "config" / "identity.yaml"


def test_the_deployment_config_is_read_from_the_shipped_file():
    assert identity_config() == load_identity_config(SHIPPED)
    assert identity_config().max_partner_values == 3 and identity_config().matching.max_block_size == 300


@pytest.mark.parametrize(
    "old, new, where, problem",
    [
        (
            "max_partner_values: 3",
            "max_partner_values: three",
            "guards.max_partner_values",
            "must be a whole number >= 1, got 'three'",
        ),
        (
            "max_partner_values: 3",
            "max_partner_values: 0",
            "guards.max_partner_values",
            "must be a whole number >= 1, got 0",
        ),
        (
            "max_cluster_records: 2000",
            "max_cluster_records: 2000.5",
            "guards.max_cluster_records",
            "must be a whole number >= 1, got 2000.5",
        ),
        (
            "max_block_size: 300",
            "max_block_size: true",
            "matching.max_block_size",
            "must be a whole number >= 2, got True",
        ),
        (
            "max_block_size: 300",
            "max_block_size: 1",
            "matching.max_block_size",
            "must be a whole number >= 2, got 1",
        ),
        (
            "string_threshold: 0.88",
            "string_threshold: high",
            "matching.string_threshold",
            "must be a number in (0, 1], got 'high'",
        ),
        (
            "string_threshold: 0.88",
            "string_threshold: 88",
            "matching.string_threshold",
            "must be a number in (0, 1], got 88",
        ),
        (
            "min_pairwise_f1: 0.98",
            "min_pairwise_f1: 1.5",
            "quality.min_pairwise_f1",
            "must be a number in [0, 1], got 1.5",
        ),
        (
            "min_pairwise_f1: 0.98",
            "min_pairwise_f1: '0.98'",
            "quality.min_pairwise_f1",
            "must be a number in [0, 1], got '0.98'",
        ),
        ("owner_share: 0.6", "owner_share: 1.6", "guards.owner_share", "must be a number in (0, 1], got 1.6"),
        (
            "term_frequency_context: [city, store]",
            "term_frequency_context: [city, shop]",
            "matching.term_frequency_context",
            "'shop' is not a declared attribute kind",
        ),
    ],
)
def test_numbers_are_checked_with_file_line_and_key(tmp_path, old, new, where, problem):
    text = SHIPPED.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "identity.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    line = next(i for i, row in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if new in row)
    with pytest.raises(ConfigError) as error:
        load_identity_config(path)
    assert str(error.value) == f"{path}:{line}: {where}: {problem}"


def test_a_minimal_file_gets_the_documented_defaults(tmp_path):
    path = tmp_path / "identity.yaml"
    path.write_text(
        "attribute_kinds: {email: {strength: strong, exclusive: true}}\n"
        "rules: [{name: email, kinds: [email]}]\n",
        encoding="utf-8",
    )
    config = load_identity_config(path)
    assert (config.max_partner_values, config.max_cluster_records, config.quality_floor_f1) == (2, 2000, 0.98)
    assert (config.matching.max_block_size, config.matching.string_threshold) == (300, 0.88)


@pytest.mark.parametrize(
    "old, new, where, problem",
    [
        (
            "  mobile: {strength: strong, normalise: mobile, exclusive: matching, compare: digits}",
            "  mobile: strong",
            "attribute_kinds.mobile",
            "expected a mapping such as {strength: strong, normalise: lower}, got 'strong'",
        ),
        (
            "  - {name: national_id, kinds: [national_id]}",
            "  - {kinds: [national_id]}",
            "rules[0]",
            "expected {name: text, kinds: [strong attribute kinds]}, got {'kinds': ['national_id']}",
        ),
        (
            "  - {name: national_id, kinds: [national_id]}",
            "  - {name: national_id, kinds: national_id}",
            "rules[0]",
            "expected {name: text, kinds: [strong attribute kinds]}, "
            "got {'name': 'national_id', 'kinds': 'national_id'}",
        ),
    ],
)
def test_shapes_are_checked_with_file_line_and_key(tmp_path, old, new, where, problem):
    """A kind or rule of the wrong shape is a config error at its line, not a bare KeyError."""
    test_numbers_are_checked_with_file_line_and_key(tmp_path, old, new, where, problem)
