"""Audiences declared in config/audiences.yaml, materialised as ``marts.audience_members``.

Each audience is a SQL query over the marts; the asset runs them all as of the profile date so a
new audience needs only a YAML entry. An audience that declares a consent purpose keeps only the
people whose consent covers it (``marts.user_consent``); how many were left out is kept per
audience in ``marts.audience_summary``, so a shrinking list is explained, not mysterious."""

from datetime import datetime

import dagster as dg
import duckdb
import polars as pl

from assets.activation.settings import Audience, Purpose, load_activation_config
from assets.common.metadata import OWNERS, markdown_table
from assets.common.spark import replace_table
from assets.common.sql import table_exists
from assets.common.warehouse import Warehouse

MEMBERS_SCHEMA = pl.Schema(
    {
        "audience": pl.String(),
        "unified_id": pl.String(),
        "as_of": pl.Date(),
        "computed_at": pl.Datetime("us"),
        "purpose": pl.String(),
        "consented": pl.Boolean(),
    }
)


class AudienceError(ValueError):
    """An audience's query fails or does not return unified_id; the message names the audience."""


def audience_members(
    con: duckdb.DuckDBPyConnection,
    audiences: tuple[Audience, ...],
    purposes: dict[str, Purpose] | None = None,
) -> pl.DataFrame:
    """One row per (audience, unified_id) as of ``intermediate.int_profile_date``, with whether
    the person's consent covers the audience's purpose (always, for an audience without one)."""
    as_of = con.execute("SELECT as_of FROM intermediate.int_profile_date").fetchall()[0][0]
    con.execute("SET VARIABLE as_of = ?", [as_of])
    computed_at = datetime.now()
    frames = [pl.DataFrame(schema=MEMBERS_SCHEMA)]
    for audience in audiences:
        try:
            columns = con.sql(audience.sql).columns
            if "unified_id" not in columns:
                raise AudienceError(
                    f"audience {audience.name!r}: query must return a unified_id column, got {columns}"
                )
            ids = con.sql(
                f"SELECT DISTINCT CAST(unified_id AS VARCHAR) AS unified_id FROM ({audience.sql}) "
                "WHERE unified_id IS NOT NULL"
            ).pl()
        except duckdb.Error as exc:
            raise AudienceError(f"audience {audience.name!r}: query failed: {exc}") from exc
        frames.append(
            ids.select(
                pl.lit(audience.name).alias("audience"),
                "unified_id",
                pl.lit(as_of, pl.Date).alias("as_of"),
                pl.lit(computed_at, pl.Datetime("us")).alias("computed_at"),
                pl.lit(audience.purpose, pl.String).alias("purpose"),
                _consented(con, ids, audience.purpose, purposes or {}).alias("consented"),
            )
        )
    return pl.concat(frames).sort("audience", "unified_id")


def _consented(
    con: duckdb.DuckDBPyConnection, ids: pl.DataFrame, purpose: str | None, purposes: dict[str, Purpose]
) -> pl.Series:
    """Whether each person may be reached for ``purpose``: their row in marts.user_consent, or the
    purpose's basis when consent has not been computed (no consents feed ran yet)."""
    if purpose is None:
        return pl.Series([True] * ids.height, dtype=pl.Boolean)
    exists = table_exists(con, "marts", "user_consent")
    default = purposes[purpose].default_granted if purpose in purposes else False
    if not exists:
        return pl.Series([default] * ids.height, dtype=pl.Boolean)
    granted = con.sql(
        "SELECT unified_id, granted FROM marts.user_consent WHERE purpose = ?", params=[purpose]
    ).pl()
    joined = ids.join(granted, on="unified_id", how="left", maintain_order="left")
    return joined.get_column("granted").fill_null(default)


def audience_summary(members: pl.DataFrame, audiences: tuple[Audience, ...]) -> pl.DataFrame:
    """Per audience: its purpose, the people sent (members) and the people left out for consent."""
    counts = members.group_by("audience").agg(
        pl.col("consented").sum().alias("members"),
        (~pl.col("consented")).sum().alias("excluded_without_consent"),
    )
    declared = pl.DataFrame(
        {
            "audience": [a.name for a in audiences],
            "purpose": [a.purpose for a in audiences],
            "destinations": [list(a.destinations) for a in audiences],
        },
        schema={"audience": pl.String, "purpose": pl.String, "destinations": pl.List(pl.String)},
    )
    return declared.join(counts, on="audience", how="left").with_columns(
        pl.col("members").fill_null(0).cast(pl.Int64),
        pl.col("excluded_without_consent").fill_null(0).cast(pl.Int64),
    )


@dg.asset(
    key=["marts", "audience_members"],
    group_name="kpis",
    deps=[
        ["marts", "user_rfm"],
        ["marts", "user_lifecycle"],
        ["marts", "dim_users"],
        ["marts", "fct_orders"],
        ["marts", "fct_events"],
        ["marts", "user_clv"],
        ["marts", "user_store_proximity"],
        ["marts", "user_consent"],
    ],
    kinds={"python", "duckdb"},
    owners=OWNERS,
    description="Members of every audience in config/audiences.yaml (a SQL query over the marts each), as of "
    "the profile date, limited to people whose consent covers the audience's purpose: audience, "
    "unified_id, as_of, purpose. Also marts.audience_summary (members and people excluded for "
    "consent per audience). Exported one folder per audience.",
)
def audience_members_asset(warehouse: Warehouse) -> dg.MaterializeResult:
    activation = load_activation_config()
    with warehouse.connect() as con:
        selected = audience_members(con, activation.audiences, activation.purposes)
        members = selected.filter(pl.col("consented")).drop("consented")
        summary = audience_summary(selected, activation.audiences)
        if not warehouse.on_spark:
            con.execute("CREATE OR REPLACE TABLE marts.audience_members AS SELECT * FROM members")
            con.execute("CREATE OR REPLACE TABLE marts.audience_summary AS SELECT * FROM summary")
    if warehouse.on_spark:  # the audiences' SQL ran over Spark's marts as mounted; the marts go back
        for name, frame in (("audience_members", members), ("audience_summary", summary)):
            replace_table(warehouse.spark(), f"marts.{name}", frame)
        warehouse.mount_spark_tables()
    return dg.MaterializeResult(
        metadata={
            "audiences": markdown_table(
                [
                    {
                        "audience": a,
                        "purpose": p or "(analysis only)",
                        "members": m,
                        "excluded_without_consent": e,
                    }
                    for a, p, _, m, e in summary.iter_rows()
                ],
                100,
            ),
            "excluded_without_consent": int(summary.get_column("excluded_without_consent").sum()),
            "dagster/row_count": members.height,
        }
    )
