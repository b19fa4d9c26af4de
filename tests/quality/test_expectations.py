import duckdb
import pandas as pd

from assets.common.paths import CONFIG_DIR, EXPECTATIONS_DIR
from assets.quality.checks import run_partitions, suite_query
from assets.quality.expectations import row_count_bounds, suite_columns, suite_files, validate

FEED_SUITES = CONFIG_DIR / "expectations"

SUITE = EXPECTATIONS_DIR / "marts.identity_map.json"


def good() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": ["pos", "pos"],
            "record_id": ["1", "2"],
            "unified_id": ["u_0123456789abcdef", "u_fedcba9876543210"],
            "method": ["singleton", "deterministic"],
            "confidence": [1.0, 0.97],
            "cluster_size": [1, 2],
        }
    )


def test_a_clean_table_passes_every_expectation():
    assert all(o.success for o in validate(good(), SUITE))


def test_failures_carry_their_severity_and_the_failing_values():
    bad = pd.concat(
        [
            good(),
            pd.DataFrame(
                {
                    "source": ["pos"],
                    "record_id": ["1"],
                    "unified_id": ["oops"],
                    "method": ["magic"],
                    "confidence": [1.0],
                    "cluster_size": [99999],
                }
            ),
        ]
    )
    failed = {(o.expectation, o.column): o for o in validate(bad, SUITE) if not o.success}
    assert failed[("expect_column_values_to_match_regex", "unified_id")].unexpected_sample == ["oops"]
    assert failed[("expect_column_values_to_be_in_set", "method")].severity == "error"
    assert failed[("expect_column_values_to_be_between", "cluster_size")].severity == "warn"
    assert ("expect_compound_columns_to_be_unique", None) in failed


def test_every_suite_targets_an_asset_of_the_pipeline():
    from pipelines.definitions import defs

    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    suites = suite_files() + suite_files(FEED_SUITES)
    assert len(suites) >= 4
    assert all("/".join(s.asset_key) in keys for s in suites)
    checks = {c.name for c in defs.resolve_asset_graph().asset_check_keys}
    assert {f"gx_{s.table}" for s in suites} <= checks


def test_every_declared_feed_has_a_raw_suite_checking_its_record_id():
    from assets.ingest.feeds import feeds_config

    suites = {s.table: s for s in suite_files(FEED_SUITES) if s.schema == "raw"}
    for feed in feeds_config().feeds.values():
        assert feed.name in suites, f"config/expectations/raw.{feed.name}.json is missing"
        outcomes = validate(
            pd.DataFrame({c: [None] for c in suite_columns(suites[feed.name].path)}), suites[feed.name].path
        )
        assert ("expect_column_values_to_not_be_null", feed.record_id, "error") in {
            (o.expectation, o.column, o.severity) for o in outcomes if not o.success
        }


def test_row_count_is_checked_against_the_previous_run():
    suite = EXPECTATIONS_DIR / "marts.identity_map.json"
    frame = pd.concat([good()] * 5, ignore_index=True).assign(record_id=[str(i) for i in range(10)])

    def row_check(expected):
        [outcome] = [
            o
            for o in validate(frame, suite, expected)
            if o.expectation == "expect_table_row_count_to_be_between"
        ]
        return outcome

    assert row_check(None).success  # no history yet: nothing to compare with
    assert row_check(8).success  # within a factor 3 of the previous run
    dropped = row_check(100)
    assert not dropped.success and dropped.severity == "warn" and dropped.observed == "10"
    assert row_count_bounds(100, 3) == (33, 300)


def test_referential_and_partition_filters_are_computed_in_the_warehouse(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("CREATE SCHEMA marts; CREATE SCHEMA raw")
    con.execute("CREATE TABLE marts.dim_users AS SELECT 'u_1' AS unified_id")
    con.execute("""CREATE TABLE marts.fct_orders AS SELECT * FROM (VALUES
        ('pos', 'T1', 'u_1', 'offline', 10.0, 0.0), ('pos', 'T2', 'u_gone', 'offline', 10.0, 0.0))
        t(source, order_id, unified_id, channel, gross_amount, refund_amount)""")
    suite = next(s for s in suite_files() if s.table == "fct_orders")
    sql, params = suite_query(suite, None)
    failed = {o.column: o for o in validate(con.sql(sql, params=params).df(), suite.path) if not o.success}
    assert set(failed) == {"user_in_dim_users"} and failed["user_in_dim_users"].severity == "error"

    raw_suite = next(s for s in suite_files(FEED_SUITES) if s.table == "pos_transactions")
    columns = ", ".join(f'"{c}" VARCHAR' for c in suite_columns(raw_suite.path))
    con.execute(f"CREATE TABLE raw.pos_transactions ({columns}, _partition DATE)")
    con.execute(
        "INSERT INTO raw.pos_transactions (txn_id, _partition) VALUES "
        "('a', '2026-05-01'), ('b', '2026-05-02'), ('c', '2026-05-09')"
    )
    sql, params = suite_query(raw_suite, ("2026-05-01", "2026-05-02"))
    assert sorted(con.sql(sql, params=params).df()["txn_id"]) == ["a", "b"]
    assert run_partitions(
        {
            "dagster/asset_partition_range_start": "2026-05-01",
            "dagster/asset_partition_range_end": "2026-05-02",
        }
    ) == ("2026-05-01", "2026-05-02")
    assert run_partitions({"dagster/partition": "2026-05-03"}) == ("2026-05-03", "2026-05-03")
    assert run_partitions({}) is None


def test_sampled_suites_validate_a_bounded_sample_but_count_every_row(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("CREATE SCHEMA marts")
    con.execute("""CREATE TABLE marts.identity_map AS SELECT 'pos' AS source, CAST(i AS VARCHAR) AS record_id,
                   'u_' || lpad(to_hex(i), 16, '0') AS unified_id, 'singleton' AS method, 1.0 AS confidence,
                   1 AS cluster_size
                   FROM range(60000) r(i)""")
    suite = next(s for s in suite_files() if s.table == "identity_map")
    sql, params = suite_query(suite, None)
    frame = con.sql(sql, params=params).df()
    assert len(frame) == 50000  # meta.sample_rows
    counted = {o.expectation: o for o in validate(frame, suite.path, expected_rows=10, total_rows=60000)}
    row_count = counted["expect_table_row_count_to_be_between"]
    assert not row_count.success and row_count.observed == "60000"
    assert validate(frame, suite.path, expected_rows=55000, total_rows=60000)[-1].success


def test_a_referential_column_waits_for_the_table_it_reads(tmp_path):
    """fct_orders checked before any dim_users exists (an identity-only run on a fresh folder): the
    referential column is left out and named, the rest of the suite still runs."""
    from assets.quality.checks import missing_references

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("CREATE SCHEMA marts")
    con.execute("""CREATE TABLE marts.fct_orders AS
                   SELECT * FROM (VALUES ('pos', 'T1', 'u_1', 'offline', 10.0, 0.0))
                   t(source, order_id, unified_id, channel, gross_amount, refund_amount)""")
    suite = next(s for s in suite_files() if s.table == "fct_orders")
    skipped = missing_references(con, suite)
    assert list(skipped) == ["user_in_dim_users"] and "dim_users" in skipped["user_in_dim_users"]
    sql, params = suite_query(suite, None, skip=skipped)
    outcomes = validate(con.sql(sql, params=params).df(), suite.definition, skip_columns=skipped)
    assert outcomes and all(o.success for o in outcomes)
    assert "user_in_dim_users" not in {o.column for o in outcomes}
