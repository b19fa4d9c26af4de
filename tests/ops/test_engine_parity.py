"""Two versions of a table agree when they hold the same rows: exactly for whole numbers, text,
dates and lists; to a relative 1e-9 for floating-point numbers; whatever the integer widths or
the row order."""

from datetime import date, datetime

import duckdb
import polars as pl

from assets.common.engine_parity import compare_tables

ROWS = {
    "unified_id": ["u1", "u2", "u3"],
    "orders": [3, 1, None],
    "first_order_date": [date(2026, 5, 1), date(2026, 6, 2), None],
    "net_spend": [320.25, 1 / 3, None],
    "tags": [["a", "b"], [], None],
}


def table_differences(left: pl.DataFrame, right: pl.DataFrame) -> list[str]:
    """The two frames compared as DuckDB compares two engines' tables."""
    con = duckdb.connect()
    con.register("left_side", left)
    con.register("right_side", right)
    return compare_tables(con, "left_side", "right_side").differences


def duckdb_like() -> pl.DataFrame:
    return pl.DataFrame(ROWS, schema_overrides={"orders": pl.Int32})


def test_the_same_rows_in_another_order_and_other_widths_agree() -> None:
    """Spark's BIGINT count, its date as a midnight timestamp, rows in its own order."""
    spark_like = (
        pl.DataFrame(ROWS, schema_overrides={"orders": pl.Int64})
        .with_columns(pl.col("first_order_date").cast(pl.Datetime("us")))
        .reverse()
        .select("tags", "net_spend", "first_order_date", "orders", "unified_id")
    )
    assert table_differences(duckdb_like(), spark_like) == []


def test_floats_agree_to_a_relative_tolerance_and_no_further() -> None:
    close = duckdb_like().with_columns(pl.col("net_spend") * (1 + 5e-10))
    assert table_differences(duckdb_like(), close) == []
    apart = duckdb_like().with_columns(pl.col("net_spend") * (1 + 5e-8))
    assert table_differences(duckdb_like(), apart) == ["column net_spend differs beyond a relative 1e-09"]


def test_a_different_value_a_missing_row_or_column_is_reported() -> None:
    two_orders = pl.when(pl.col("unified_id") == "u2").then(2).otherwise(pl.col("orders"))
    changed = duckdb_like().with_columns(two_orders.alias("orders"))
    [problem] = table_differences(duckdb_like(), changed)
    assert problem.startswith("1 rows differ in") and "'u2'" in problem
    assert table_differences(duckdb_like(), duckdb_like().head(2)) == ["3 rows against 2"]
    assert table_differences(duckdb_like(), duckdb_like().drop("tags")) == [
        "columns differ: only left ['tags'], only right []"
    ]


def test_list_order_and_null_against_empty_are_differences() -> None:
    reordered = duckdb_like().with_columns(pl.Series("tags", [["b", "a"], [], None]))
    assert len(table_differences(duckdb_like(), reordered)) == 1
    emptied = duckdb_like().with_columns(pl.Series("tags", [["a", "b"], [], []]))
    assert len(table_differences(duckdb_like(), emptied)) == 1


def test_a_timestamp_a_microsecond_apart_is_a_difference() -> None:
    at = pl.DataFrame({"k": [1], "at": [datetime(2026, 5, 1, 10, 0, 0)]})
    later = pl.DataFrame({"k": [1], "at": [datetime(2026, 5, 1, 10, 0, 0, 1)]})
    assert table_differences(at, at) == []
    assert len(table_differences(at, later)) == 1


def test_identity_groups_compare_by_membership_not_by_label() -> None:
    """Each engine names a person its own way: the groups must hold the same nodes, and a node one
    side leaves out is a difference the rounded pairwise agreement would not show."""
    from assets.identity.spark_check import partition_agreement, same_groups

    duckdb_side = pl.DataFrame({"node": [1, 2, 3, 4], "det": ["u_a", "u_a", "u_b", "u_b"]})
    assert same_groups(duckdb_side, pl.DataFrame({"node": [4, 3, 2, 1], "det": [9, 9, 1, 1]}))
    assert not same_groups(duckdb_side, pl.DataFrame({"node": [1, 2, 3, 4], "det": [1, 2, 2, 4]}))
    assert not same_groups(duckdb_side, duckdb_side.head(3))
    assert partition_agreement(duckdb_side, pl.DataFrame({"node": [1, 2, 3, 4], "det": [1, 1, 3, 4]})) < 1


def test_identity_outputs_compare_in_any_order_with_floats_to_their_last_bits() -> None:
    """A score summed in another order differs in its last bits, and is the same score; a row, a
    column or a score beyond the tolerance is a difference."""
    from assets.identity.spark_check import frame_differences

    ours = pl.DataFrame(
        {"id": ["u_a", "u_b", None], "score": [0.9, 1 / 3, None], "keys": [["a:1"], ["b:2", "b:3"], []]}
    )
    theirs = ours.reverse().with_columns(pl.col("score") * (1 + 1e-13))
    assert frame_differences(ours, theirs) == []
    assert frame_differences(ours, theirs.with_columns(pl.col("score") * 1.001)) == [
        "score: values differ beyond 1e-09 relative"
    ]
    assert frame_differences(ours, theirs.with_columns(keys=pl.lit(["x"]))) == ["rows differ"]
    assert frame_differences(ours, theirs.head(2)) == ["3 rows against 2"]
    assert frame_differences(ours, theirs.drop("keys")) == ["missing columns ['keys']"]
