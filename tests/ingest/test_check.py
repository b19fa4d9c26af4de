"""`cdp feeds check`: the landing zone judged by the declarations, with nothing loaded."""

from typer.testing import CliRunner

from assets.ingest.check import check_landing, reason_kind
from assets.ingest.feeds import feeds_config
from pipelines import cli
from tests.landing_builder import DAY, build_small_landing, pos, write_csv


def test_reasons_are_counted_by_kind_without_the_values():
    assert (
        reason_kind("amount: cannot read ¥12 as double; txn_id: required value missing")
        == "amount: cannot read a value as double; txn_id: required value missing"
    )
    assert (
        reason_kind("d: cannot read 1997 as 01 as date (%Y%m%d)") == "d: cannot read a value as date (%Y%m%d)"
    )


def test_check_reports_what_a_run_would_quarantine_and_loads_nothing(data_dir):
    build_small_landing(data_dir.landing)
    write_csv(
        data_dir.landing / "pos_transactions" / DAY / "late.csv",
        [{**pos("T9"), "amount": "abc", "loyalty_tier": "gold"}, {**pos("T10"), "amount": "x"}],
    )
    (data_dir.landing / "pos_transations" / DAY).mkdir(parents=True)  # a typo of a feed's folder
    (data_dir.landing / "pos_transactions" / "latest").mkdir()
    result = check_landing(feeds_config(), data_dir.landing)
    late = next(f for f in result.files if f.path.endswith("late.csv"))
    assert (late.rows_in, late.rows_ok, late.rows_quarantined) == (2, 0, 2)
    assert late.reasons == {"amount: cannot read a value as double": 2}
    assert late.extra_columns == ["loyalty_tier"]
    orders = [f for f in result.files if f.feed == "ecommerce_orders"]
    assert len(orders) == 2 and all(f.rows_in == f.rows_ok == 1 for f in orders)
    assert result.unread_folders == ["pos_transations"] and result.undated_folders == [
        "pos_transactions/latest"
    ]
    assert not result.clean
    assert not data_dir.warehouse.exists()

    output = CliRunner().invoke(cli.app, ["feeds", "check"], terminal_width=300)
    assert output.exit_code == 1
    assert "2 × amount: cannot read a value as double" in output.output
    assert "landing/pos_transations/ is read by no feed" in output.output
    assert "abc" not in output.output


def test_check_passes_on_a_clean_landing_zone(data_dir):
    build_small_landing(data_dir.landing)
    output = CliRunner().invoke(cli.app, ["feeds", "check", "--feed", "ecommerce_orders"], terminal_width=300)
    assert output.exit_code == 0, output.output
    assert "2 files, 2 rows: 2 parse, 0 would be quarantined" in output.output
    assert CliRunner().invoke(cli.app, ["feeds", "check", "--feed", "nope"]).exit_code == 2
