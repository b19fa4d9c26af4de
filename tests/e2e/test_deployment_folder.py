"""A deployment living wholly in its own config folder (``CDP_CONFIG_DIR``): one feed, no reference
data, no partition start, its own profile date, tag rule and suite. It runs every stage without
touching the repository's files. Run in a subprocess: the config folder is read at import."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from assets.common.paths import CONFIG_DIR, REPO_ROOT
from tests.landing_builder import ad, build_small_landing

pytestmark = pytest.mark.slow(seconds=70)
AS_OF = "2026-05-20"
RUN = """
import json
from pipelines.runner import run_pipeline
result = run_pipeline()
checks = {c.check_name: {"passed": c.passed,
                         "suite": c.metadata["suite"].value if "suite" in c.metadata else None}
          for c in result.get_asset_check_evaluations()}
failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
print(json.dumps({"success": result.success, "checks": checks, "failed": failed}))
"""


def deployment(root: Path, feed: str, tag_rule: str) -> Path:
    """A config folder with only ``feed`` of the sample's feeds, and the deployment's own values."""
    config = root / "deploy"
    shutil.copytree(CONFIG_DIR, config, ignore=shutil.ignore_patterns("expectations"))
    feeds = yaml.safe_load((CONFIG_DIR / "feeds.yaml").read_text(encoding="utf-8"))
    (config / "feeds.yaml").write_text(
        yaml.safe_dump({"feeds": {feed: feeds["feeds"][feed]}}, allow_unicode=True), encoding="utf-8"
    )
    pipeline = yaml.safe_load((CONFIG_DIR / "pipeline.yaml").read_text(encoding="utf-8"))
    del pipeline["partitions"]["start_date"]
    (config / "pipeline.yaml").write_text(yaml.safe_dump(pipeline), encoding="utf-8")
    profiles = yaml.safe_load((CONFIG_DIR / "profiles.yaml").read_text(encoding="utf-8"))
    profiles["as_of"] = AS_OF
    profiles["tags"].append(
        {"group": "value", "tag": "deployment_tag", "description": "Its own rule.", "rule": tag_rule}
    )
    (config / "profiles.yaml").write_text(yaml.safe_dump(profiles, allow_unicode=True), encoding="utf-8")
    return config


def run(root: Path, config: Path) -> dict:
    env = {
        **os.environ,
        "CDP_CONFIG_DIR": str(config),
        "CDP_DATA_DIR": str(root / "data"),
        "DAGSTER_HOME": str(root / "home"),
        "CDP_LOG_LEVEL": "WARNING",
    }
    env.pop("CDP_LANDING_DIR", None)
    (root / "home").mkdir()
    done = subprocess.run(
        [sys.executable, "-c", RUN], capture_output=True, text=True, env=env, cwd=root, timeout=600
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def repo_state() -> str:
    return subprocess.run(
        [
            "git",
            "status",
            "--porcelain",
            "--untracked-files=all",
            "--",
            "config",
            "expectations",
            "dbt_project/dbt_project.yml",
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    ).stdout


def test_an_orders_only_deployment_with_its_own_date_tags_and_suite(tmp_path):
    before = repo_state()
    config = deployment(tmp_path, "ecommerce_orders", "case when orders >= 1 then 'buyer' end")
    (config / "expectations").mkdir()
    (config / "expectations" / "raw.ecommerce_orders.json").write_text(
        json.dumps(
            {
                "name": "raw.ecommerce_orders",
                "meta": {"partitioned": True},
                "expectations": [
                    {
                        "type": "expect_column_values_to_not_be_null",
                        "kwargs": {"column": "order_id"},
                        "meta": {"severity": "error"},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    build_small_landing(tmp_path / "data" / "landing")
    outcome = run(tmp_path, config)
    assert outcome["success"] and outcome["failed"] == [], outcome
    assert outcome["checks"]["gx_ecommerce_orders"] == {
        "passed": True,
        "suite": str(config / "expectations" / "raw.ecommerce_orders.json"),
    }
    assert all(c["passed"] for c in outcome["checks"].values()), outcome["checks"]
    with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("SELECT as_of::VARCHAR FROM intermediate.int_profile_date").fetchall() == [
            (AS_OF,)
        ]
        assert con.execute("SELECT count(*) FROM raw.stores").fetchall() == [(0,)]
        tagged = con.execute(
            "SELECT count(*) FROM marts.user_tags WHERE tag = 'deployment_tag' AND value = 'buyer'"
        ).fetchall()[0][0]
        assert tagged == 2  # Wang and Li bought online
        # Li's refunded order is a purchase worth nothing: she counts for frequency, not for spend
        assert con.execute("SELECT count(*) FROM marts.user_clv").fetchall()[0][0] == 2
    assert repo_state() == before


def test_an_events_only_deployment_without_any_order_or_suite(tmp_path):
    config = deployment(tmp_path, "ad_events", "case when online_activity > 0 then 'seen' end")
    from tests.landing_builder import write_parquet

    write_parquet(
        tmp_path / "data" / "landing" / "ad_events" / "2024-03-01" / "ads.parquet",
        [
            ad(
                "A1",
                "abcdef01-2345-6789-abcd-ef0123456789",
                openid="oAbcdefghijklmnopqrstuvwxyz0",
                time="2024-03-01 09:00:00",
            ),
            ad("A2", "abcdef01-2345-6789-abcd-ef0123456789", "click", 0.8, time="2024-03-01 09:01:00"),
        ],
    )
    outcome = run(tmp_path, config)
    assert outcome["success"] and outcome["failed"] == [], outcome
    assert outcome["checks"]["gx_ad_events"] == {
        "passed": True,
        "suite": "default (derived from deploy/feeds.yaml)",
    }
    with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.fct_orders").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM marts.user_clv").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM marts.fct_events").fetchall() == [(2,)]
