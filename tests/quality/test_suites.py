"""Which suites a deployment runs: its own feed suites, the product's mart suites (overridable),
a derived suite for a feed nobody wrote one for, nothing for tables it does not have."""

import json
import logging

import pandas as pd

from assets.common.paths import EXPECTATIONS_DIR
from assets.ingest.feed_spec import ColumnSpec
from assets.ingest.feeds import FeedConfig
from assets.quality.expectations import validate
from assets.quality.suites import deployment_suites

FEED = FeedConfig(
    name="shop",
    description="",
    kind="orders",
    channel="online",
    identity_bearing=True,
    path="shop",
    files=(),
    record_id="order_no",
    timestamp="paid_at",
    columns=(
        ColumnSpec("order_no", "varchar"),
        ColumnSpec("paid_at", "timestamp"),
        ColumnSpec("mobile", "varchar", required=True),
        ColumnSpec("amount", "double"),
    ),
    canonical=(),
    identity=(),
)


def write_suite(folder, name, expectations):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(
        json.dumps({"name": name, "expectations": expectations}), encoding="utf-8"
    )


def test_a_feed_without_a_suite_gets_one_derived_from_its_declaration():
    [suite] = deployment_suites([], [FEED], {("raw", "shop")}, "deploy/feeds.yaml")
    assert suite.origin == "default (derived from deploy/feeds.yaml)"
    assert suite.definition["meta"]["partitioned"] is True
    frame = pd.DataFrame(
        {
            "order_no": ["1", "1", None],
            "paid_at": pd.to_datetime(["2026-05-01"] * 3),
            "mobile": ["138", None, "139"],
            "amount": [1.0, 2.0, 3.0],
        }
    )
    failed = {
        (o.expectation, o.column, o.severity) for o in validate(frame, suite.definition) if not o.success
    }
    assert failed == {
        ("expect_column_values_to_not_be_null", "order_no", "error"),
        ("expect_column_values_to_not_be_null", "mobile", "error"),
        ("expect_column_values_to_be_unique", "order_no", "warn"),
    }
    typed = frame.dropna().drop_duplicates("order_no")
    assert all(o.success for o in validate(typed, suite.definition))


def test_the_deployment_folder_overrides_and_unknown_tables_are_skipped_with_a_warning(tmp_path, caplog):
    own = tmp_path / "deploy" / "expectations"
    write_suite(own, "raw.shop", [{"type": "expect_column_to_exist", "kwargs": {"column": "order_no"}}])
    write_suite(
        own, "marts.fct_orders", [{"type": "expect_column_to_exist", "kwargs": {"column": "order_id"}}]
    )
    write_suite(own, "raw.gone_feed", [])
    known = {("raw", "shop"), ("marts", "fct_orders"), ("marts", "dim_users")}
    with caplog.at_level(logging.WARNING):
        suites = {s.table: s for s in deployment_suites([EXPECTATIONS_DIR, own], [FEED], known)}
    assert set(suites) == {"shop", "fct_orders", "dim_users"}
    assert suites["shop"].origin == str(own / "raw.shop.json")
    assert suites["fct_orders"].origin == str(own / "marts.fct_orders.json")
    assert suites["dim_users"].origin == str(EXPECTATIONS_DIR / "marts.dim_users.json")
    assert "raw.gone_feed.json" in caplog.text and "not a table of this deployment" in caplog.text
