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


@pytest.mark.parametrize(
    "old, new, where, problem",
    [
        (
            "max_block_size: 300",
            "max_block_sise: 300",
            "matching.max_block_sise",
            "unknown key; expected one of ['blocking', 'classifier', 'max_block_size', 'min_probability', "
            "'string_threshold', 'term_frequency_context']",
        ),
        (
            "quality:",
            "qualty:",
            "qualty",
            "unknown key; expected one of ['attribute_kinds', 'guards', 'incremental', 'matching', 'names', "
            "'pins', 'quality', 'review', 'rules']",
        ),
        (
            "  mobile: {strength: strong,",
            "  mobile: {strength: medium,",
            "attribute_kinds.mobile.strength",
            "must be one of ['strong', 'weak'], got 'medium'",
        ),
        (
            "  openid: {strength: strong, namespaced: true,",
            "  openid: {strength: strong, namespaced: 'yes',",
            "attribute_kinds.openid.namespaced",
            "must be true or false, got 'yes'",
        ),
        (
            "normalise: mobile, exclusive: matching",
            "normalise: mobile, exclusive: sometimes",
            "attribute_kinds.mobile.exclusive",
            "must be true, false or matching, got 'sometimes'",
        ),
        (
            "compare: digits}",
            "compare: fuzzy}",
            "attribute_kinds.mobile.compare",
            "must be one of ['digits', 'exact', 'name', 'string'], got 'fuzzy'",
        ),
        (
            "  email: {strength: strong, normalise: email,",
            "  email: {strength: strong, normalise: upper,",
            "attribute_kinds.email.normalise",
            "must be one of ['city', 'code', 'company', 'date', 'device_id', 'digits', 'email', 'gender', "
            "'identifier', 'lower', 'mobile', 'national_id', 'person_name', 'text'], got 'upper'",
        ),
        (
            "  email: {strength: strong, normalise: email,",
            "  email: {strength: strong, normalize: email,",
            "attribute_kinds.email.normalize",
            "unknown key; expected one of ['compare', 'context', 'exclusive', 'hashed', 'namespaced', "
            "'normalise', 'strength']",
        ),
        (
            "  store: {",
            "  _pin_store: {",
            "attribute_kinds._pin_store",
            "names starting with '_pin' are the engine's own (pinned decisions)",
        ),
        (
            "  - {name: email, kinds: [email]}",
            "  - {name: email, kinds: [email], priority: 1}",
            "rules[6].priority",
            "unknown key; expected one of ['kinds', 'name']",
        ),
        (
            '    email: ["test@test.com"',
            '    e_mail: ["test@test.com"',
            "guards.blocked_values.e_mail",
            "'e_mail' is not a declared attribute kind",
        ),
        (
            "owner_share: 0.6",
            "owner_share: true",
            "guards.owner_share",
            "must be a number in (0, 1], got True",
        ),
        (
            "classifier: fellegi_sunter",
            "classifier: svm",
            "matching.classifier",
            "must be one of ['fellegi_sunter'], got 'svm'",
        ),
        (
            "min_probability: 0.5",
            "min_probability: 1",
            "matching.min_probability",
            "must be a number in (0, 1), got 1",
        ),
        (
            "    - [birth_date, postcode]",
            "    - []",
            "matching.blocking[5]",
            "expected a non-empty list, got []",
        ),
        (
            "    - [birth_date, postcode]",
            "    - [birth_date, zip]",
            "matching.blocking[5]",
            "'zip' is not a declared attribute kind",
        ),
        (
            "    - [birth_date, postcode]",
            "    - birth_date",
            "matching.blocking[5]",
            "expected a list, got 'birth_date'",
        ),
        (
            "term_frequency_context: [city, store]",
            "term_frequency_context: [city, device_id]",
            "matching.term_frequency_context",
            "'device_id' is not compared (no compare:)",
        ),
        (
            "  surname_readings: {",
            "  surname_reading: {",
            "names.surname_reading",
            "unknown key; expected one of ['surname_readings']",
        ),
        ("enabled: true", "enabled: 'no'", "incremental.enabled", "must be true or false, got 'no'"),
        (
            "max_changed_share: 0.1",
            "max_changed_share: 0",
            "incremental.max_changed_share",
            "must be a number in (0, 1], got 0",
        ),
        (
            "full_rebuild_days: 7",
            "full_rebuild_days: 0.5",
            "incremental.full_rebuild_days",
            "must be a whole number >= 1, got 0.5",
        ),
        ("pairs: 50", "pairs: 0", "review.pairs", "must be a whole number >= 1, got 0"),
        ("margin_bits: 2", "margin_bits: 0", "review.margin_bits", "must be a number > 0, got 0"),
        ("floor: 0.01", "floor: 1", "review.floor", "must be a number in (0, 1), got 1"),
        (
            "max_candidates: 20000",
            "max_candidates: many",
            "review.max_candidates",
            "must be a whole number >= 1, got 'many'",
        ),
        (
            "max_candidates: 20000",
            "max_candidate: 20000",
            "review.max_candidate",
            "unknown key; expected one of ['floor', 'margin_bits', 'max_candidates', 'pairs']",
        ),
    ],
)
def test_every_key_is_typed_and_a_misspelt_one_is_refused(tmp_path, old, new, where, problem):
    """Choices, flags, numbers and key names that used to be read loosely (``namespaced: 'yes'``
    was true, ``review.pairs: 0`` and a misspelt ``max_block_sise`` went unnoticed)."""
    test_numbers_are_checked_with_file_line_and_key(tmp_path, old, new, where, problem)


def test_exclusive_reads_true_false_or_matching_and_empty_sections_take_their_defaults(tmp_path):
    path = tmp_path / "identity.yaml"
    path.write_text(
        "attribute_kinds:\n"
        "  card: {strength: strong, exclusive: true}\n"
        "  mobile: {strength: strong, exclusive: matching}\n"
        "  device: {strength: strong}\n"
        "rules:\nguards:\nmatching:\n  blocking:\nnames:\npins:\nreview:\nincremental:\nquality:\n",
        encoding="utf-8",
    )
    config = load_identity_config(path)
    kinds = config.attribute_kinds
    assert [(kinds[k].exclusive, kinds[k].exclusive_in_matching) for k in ("card", "mobile", "device")] == [
        (True, True),
        (False, True),
        (False, False),
    ]
    assert config.rules == () and config.blocked_values == {} and config.pins.all == ()
    assert (config.max_partner_values, config.review.pairs, config.incremental.full_rebuild_days) == (
        2,
        50,
        7,
    )
