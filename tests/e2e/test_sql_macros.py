"""The SQL idiom macros (dbt_project/macros/money.sql, sql_lists.sql, orders.sql) compiled by dbt
itself and run in DuckDB on hand-built rows: money sums that do not depend on row order, config
lists a quote cannot break, one definition of a sale, ties broken by the value, exact money
variance; and dbt's DuckDB runs with the memory limit of the deployment's pipeline.yaml.
(kpi_daily's cohorts check money_sum inside a model in the dbt unit test
money_sum_rounds_each_amount_to_four_decimals_and_adds_exactly.) The checks are one row of one
`dbt show`: each dbt start-up costs seconds."""

import duckdb
import pytest

from assets.common.pipeline_config import pipeline_config
from tests.e2e.dbt_cli import dbt_show

pytestmark = pytest.mark.slow(seconds=6)

AMOUNTS = "(values (0.1::double), (0.2::double), (12.34567::double), (null::double)) t(x)"
MONEY = f"""select {{{{ money_sum('x') }}}} as total, sum(x) as double_sum,
                   {{{{ money_sum('x', where='x > 0.15') }}}} as filtered,
                   {{{{ money_avg('x') }}}} as mean,
                   {{{{ money_sum('x', where='x is null') }}}} as nothing
            from {AMOUNTS}"""
LISTS = """select 'it''s' in {{ quoted_list(["view", "it's"]) }} as quoted_value,
                  'it' in {{ quoted_list(["view", "it's"]) }} as cut_value,
                  'view' not in {{ quoted_list(["view", "it's"]) }} as excluded,
                  '' in {{ quoted_list([]) }} as empty_matches_empty_string,
                  'view' in {{ quoted_list([]) }} as empty_matches_other"""
SALES = """select count(*) filter (where {{ completed_sale('o') }}) as sales,
                  count(*) filter (where not {{ completed_sale('o') }}) as other_orders
           from (values ('sale', false), ('sale', true), ('refund', false), ('sale', false))
                o(order_type, is_cancelled)"""
TIES = """select {{ max_by_stable('v', 'n') }} as most, {{ min_by_stable('v', 'seen') }} as first,
                 {{ min_by_stable('v', 'n') }} as least
          from (values ('b', 2, 1), ('a', 2, 1), ('c', 1, 5)) t(v, n, seen)"""
VARIANCE = f"""select {{{{ money_variance('x') }}}} as variance, var_samp(round(x, 4)) as reference,
                      (select {{{{ money_variance('y') }}}} from (values (5.0::double)) s(y)) as single
               from {AMOUNTS}"""


@pytest.fixture(scope="module")
def row(tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("dbt") / "w.duckdb"
    duckdb.connect(str(path)).close()
    [result] = dbt_show(
        f"select * from ({MONEY}) money, ({LISTS}) lists, ({SALES}) sales, ({TIES}) ties, "
        f"({VARIANCE}) variance, (select current_setting('memory_limit') as memory_limit) settings",
        path,
    )
    return result


def test_money_sum_rounds_each_amount_to_four_decimals_and_adds_exactly(row):
    assert row["total"] == 12.6457 and row["double_sum"] != 12.6457  # 0.1 + 0.2 + 12.3457, exactly
    assert row["filtered"] == 12.5457
    assert row["mean"] == pytest.approx(12.6457 / 3, abs=1e-12)
    assert row["nothing"] is None


def test_quoted_list_escapes_quotes_and_renders_an_empty_list(row):
    assert {
        k: row[k]
        for k in (
            "quoted_value",
            "cut_value",
            "excluded",
            "empty_matches_empty_string",
            "empty_matches_other",
        )
    } == {
        "quoted_value": True,
        "cut_value": False,
        "excluded": False,
        "empty_matches_empty_string": True,
        "empty_matches_other": False,
    }


def test_completed_sale_is_a_sale_not_cancelled_and_negates_as_a_whole(row):
    assert (row["sales"], row["other_orders"]) == (2, 2)  # the cancelled sale and the refund


def test_ties_are_broken_by_the_value_so_a_rerun_picks_the_same_one(row):
    # 'a' and 'b' tie on n and on seen
    assert (row["most"], row["first"], row["least"]) == ("b", "a", "c")


def test_money_variance_is_the_sample_variance_from_exact_sums(row):
    assert row["variance"] == pytest.approx(row["reference"], rel=1e-12)
    assert row["single"] is None  # like var_samp: no variance from one amount


def test_dbt_runs_with_the_deployments_memory_limit(row):
    with duckdb.connect() as con:
        con.execute(f"SET memory_limit = '{pipeline_config().dbt_memory_limit}'")
        expected = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    with duckdb.connect() as con:
        default = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert row["memory_limit"] == expected != default  # the sample deployment sets 4GB, not 80 % of RAM
