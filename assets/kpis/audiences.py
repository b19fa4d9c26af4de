"""Audiences declared in config/audiences.yaml, materialised as ``marts.audience_members``.

Each audience is a SQL query over the marts; the asset runs them all as of the profile date so a
new audience needs only a YAML entry."""

from datetime import datetime

import dagster as dg
import duckdb
import polars as pl

from assets.ingest.assets import OWNERS
from assets.metadata import markdown_table
from pipelines.config import Audience, load_audiences
from pipelines.resources import Warehouse

MEMBERS_SCHEMA = {"audience": pl.String, "unified_id": pl.String, "as_of": pl.Date, "computed_at": pl.Datetime("us")}


class AudienceError(ValueError):
    """An audience's query fails or does not return unified_id; the message names the audience."""


def audience_members(con: duckdb.DuckDBPyConnection, audiences: tuple[Audience, ...]) -> pl.DataFrame:
    """One row per (audience, unified_id) as of ``intermediate.int_profile_date``."""
    as_of = con.execute("SELECT as_of FROM intermediate.int_profile_date").fetchall()[0][0]
    con.execute("SET VARIABLE as_of = ?", [as_of])
    computed_at = datetime.now()
    frames = [pl.DataFrame(schema=MEMBERS_SCHEMA)]
    for audience in audiences:
        try:
            columns = con.sql(audience.sql).columns
            if "unified_id" not in columns:
                raise AudienceError(f"audience {audience.name!r}: query must return a unified_id column, "
                                    f"got {columns}")
            ids = con.sql(f"SELECT DISTINCT CAST(unified_id AS VARCHAR) AS unified_id FROM ({audience.sql}) "
                          "WHERE unified_id IS NOT NULL").pl()
        except duckdb.Error as exc:
            raise AudienceError(f"audience {audience.name!r}: query failed: {exc}") from exc
        frames.append(ids.select(pl.lit(audience.name).alias("audience"), "unified_id",
                                 pl.lit(as_of, pl.Date).alias("as_of"),
                                 pl.lit(computed_at, pl.Datetime("us")).alias("computed_at")))
    return pl.concat(frames).sort("audience", "unified_id")


@dg.asset(
    key=["marts", "audience_members"],
    group_name="kpis",
    deps=[["marts", "user_rfm"], ["marts", "user_lifecycle"], ["marts", "dim_users"], ["marts", "fct_orders"],
          ["marts", "fct_events"], ["marts", "user_clv"], ["marts", "user_store_proximity"]],
    kinds={"python", "duckdb"},
    owners=OWNERS,
    description="Members of every audience in config/audiences.yaml (a SQL query over the marts each), as of "
                "the profile date: audience, unified_id, as_of. Exported one folder per audience.",
)
def audience_members_asset(warehouse: Warehouse) -> dg.MaterializeResult:
    audiences = load_audiences()
    with warehouse.connect() as con:
        members = audience_members(con, audiences)
        con.execute("CREATE OR REPLACE TABLE marts.audience_members AS SELECT * FROM members")
    sizes = members.group_by("audience").len()
    counts = {name: 0 for name in (a.name for a in audiences)} | dict(sizes.iter_rows())
    return dg.MaterializeResult(metadata={
        "audiences": markdown_table([{"audience": a.name, "members": counts[a.name], "description": a.description}
                                     for a in audiences], 100),
        "dagster/row_count": members.height,
    })
