"""The deployment's profile rules and KPI parameters: read from its config folder, checked with
file:line: key: problem, passed to dbt as vars."""

import json
import shutil

import pytest

from assets.common.configuration import ConfigError
from assets.common.paths import CONFIG_DIR
from pipelines.dbt import build_args
from pipelines.dbt_vars import load_dbt_vars


@pytest.fixture
def config(tmp_path):
    folder = tmp_path / "deploy"
    shutil.copytree(CONFIG_DIR, folder)
    return folder


def edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return text[: text.index(old)].count("\n") + 1


def test_the_sample_deployment_sets_every_var_dbt_reads():
    values = load_dbt_vars()
    assert values["as_of"] is None and values["profiles"]["lifecycle"]["new_max_days"] == 7
    assert len(values["profiles"]["rfm"]["segments"]) == 11 and len(values["user_tags"]) == 18
    assert values["kpi_funnel"]["steps"][-1]["step"] == "purchase" and values["kpi_o2o"]["window_days"] == 7
    assert json.loads(build_args()[build_args().index("--vars") + 1]) == values


def test_a_deployment_sets_its_own_date_and_rules(config):
    edit(config / "profiles.yaml", "as_of: null", "as_of: 2025-12-31")
    assert load_dbt_vars(config)["as_of"] == "2025-12-31"


@pytest.mark.parametrize(
    "file, old, new, key, problem",
    [
        (
            "profiles.yaml",
            "new_max_days: 7",
            "new_max_days: seven",
            "lifecycle.new_max_days",
            "must be a whole number",
        ),
        ("profiles.yaml", "as_of: null", "as_of: last week", "as_of", "must be a date (YYYY-MM-DD) or null"),
        (
            "profiles.yaml",
            "{segment: lost, r: [1, 2], fm: [1]}",
            "{segment: lost, r: [1, 6], fm: [1]}",
            "rfm.segments[10].r[1]",
            "must be a score from 1 to 5",
        ),
        (
            "profiles.yaml",
            "churned: [hibernating, lost]",
            "churned: [hibernating, gone]",
            "rfm.value_classes.churned",
            "'gone' is not a segment",
        ),
        (
            "profiles.yaml",
            "tag: digital_lover",
            "tag: new_mother",
            "tags[17].tag",
            "'new_mother' is declared twice",
        ),
        ("kpis.yaml", "z_threshold: 4", "z_threshold: high", "anomaly.z_threshold", "must be a number"),
        (
            "kpis.yaml",
            "control_arm: control",
            "control_arms: control",
            "experiments.control_arms",
            "unknown key",
        ),
        (
            "kpis.yaml",
            "weights: {plays: 0.3,",
            "weights: {plays: 0.5,",
            "scorecards.kols.weights",
            "must add up to 1",
        ),
    ],
)
def test_mistakes_name_the_file_the_line_and_the_key(config, file, old, new, key, problem):
    line = edit(config / file, old, new)
    with pytest.raises(ConfigError) as error:
        load_dbt_vars(config)
    assert str(error.value).startswith(f"{config / file}:{line}: {key}: {problem}"), str(error.value)
