"""Spark's tables readable from the deployment's DuckDB file, as views over their Parquet files.

A Spark deployment keeps a DuckDB file beside its Spark warehouse: the control layer (the file
ledger, quarantine, the feeds' loaded rows before they are published as day partitions, the
quality suites' history, the privacy audit). The steps that read a few marts on the driver — the
audiences' SQL, activation, the quality suites, the attribution reconciliation, the run's table
metadata — read Spark's tables through this file: each Spark table of the derived schemas is a
DuckDB view ``schema.name`` over its Parquet files, read from disk in place (never collected
through the Spark driver). The code those steps run is then the DuckDB engine's, unchanged, and so
are its answers.

A view reads the table's folder when it is queried, so a table Spark rewrites in place is read
afresh; a step that creates or replaces Spark tables mounts them again (a table whose folder held
no file is a typed empty view until then)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from assets.common.sql import ident, literal, table

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DERIVED_SCHEMAS = ("reference", "staging", "intermediate", "identity", "marts")
"""The schemas Spark builds (dbt's seeds and models, identity's tables): the raw layer is the control
file's own."""

DUCKDB_OF_SPARK = {
    "string": "VARCHAR",
    "bigint": "BIGINT",
    "int": "INTEGER",
    "smallint": "SMALLINT",
    "tinyint": "TINYINT",
    "double": "DOUBLE",
    "float": "FLOAT",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp_ntz": "TIMESTAMP",
    "timestamp": "TIMESTAMPTZ",
    "binary": "BLOB",
}


def duckdb_type(spark_type: str) -> str:
    """DuckDB's type of a Spark type as Spark spells it (``simpleString``), for a typed empty view."""
    if spark_type.startswith("array<") and spark_type.endswith(">"):
        return f"{duckdb_type(spark_type[6:-1])}[]"
    decimal = re.fullmatch(r"decimal\((\d+),(\d+)\)", spark_type)
    if decimal:
        return f"DECIMAL({decimal[1]}, {decimal[2]})"
    return DUCKDB_OF_SPARK.get(spark_type, "VARCHAR")


def spark_location(spark: SparkSession, relation: str) -> Path:
    """The folder of a Spark table's files."""
    details = spark.sql(f"DESCRIBE TABLE EXTENDED {relation}").collect()
    return Path(next(row.data_type for row in details if row.col_name == "Location").removeprefix("file:"))


def parquet_reader(spark: SparkSession, relation: str) -> str:
    """DuckDB's reader of a Spark table: its Parquet files (hive partitions included), or, when
    Spark wrote none (an empty table), no rows of its columns."""
    location = spark_location(spark, relation)
    if any(location.rglob("*.parquet")):
        # partition folders (`day=2026-05-01/`) are read as columns; a folder above the table's
        # with `=` in its name must not be
        partitioned = any("=" in child.name for child in location.iterdir() if child.is_dir())
        files = literal(str(location) + ("/**/*.parquet" if partitioned else "/*.parquet"))
        return f"read_parquet({files}, hive_partitioning = {str(partitioned).lower()})"
    fields = spark.table(relation).schema.fields
    columns = ", ".join(
        f"CAST(NULL AS {duckdb_type(f.dataType.simpleString())}) AS {ident(f.name)}" for f in fields
    )
    return f"(SELECT {columns} WHERE false)"


def spark_tables(spark: SparkSession, schemas: Iterable[str] = DERIVED_SCHEMAS) -> list[tuple[str, str]]:
    """The tables (not views) Spark's catalog holds in ``schemas``, as (schema, name)."""
    known = {d.name for d in spark.catalog.listDatabases()}
    return [
        (schema, t.name)
        for schema in schemas
        if schema in known
        for t in spark.catalog.listTables(schema)
        if t.tableType != "VIEW" and not t.isTemporary
    ]


def _refuse_duckdb_tables(con: duckdb.DuckDBPyConnection, mounted: list[tuple[str, str]]) -> None:
    """A table the DuckDB engine built where a Spark table is to be mounted: the file belongs to a
    DuckDB deployment, whose tables are not this step's to drop."""
    built = {
        (schema, name)
        for schema, name in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database()"
        ).fetchall()
    }
    clashes = sorted(f"{schema}.{name}" for schema, name in set(mounted) & built)
    if clashes:
        raise RuntimeError(
            f"the warehouse file holds tables the DuckDB engine built ({', '.join(clashes[:5])}"
            f"{', …' if len(clashes) > 5 else ''}): start a Spark deployment in a data folder of its own "
            "(CDP_DATA_DIR), with the same landing zone (CDP_LANDING_DIR) and salt (CDP_HASH_SALT or "
            "secrets/hash_salt)"
        )


def mount_spark_tables(
    con: duckdb.DuckDBPyConnection, spark: SparkSession, schemas: Iterable[str] = DERIVED_SCHEMAS
) -> list[tuple[str, str]]:
    """Every Spark table of ``schemas`` as the DuckDB view of the same name in ``con``'s file; the
    views of tables Spark no longer holds are dropped. Returns the tables mounted."""
    schemas = list(schemas)
    mounted = spark_tables(spark, schemas)
    _refuse_duckdb_tables(con, mounted)
    for schema in schemas:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(schema)}")
        views = con.execute(
            "SELECT view_name FROM duckdb_views() WHERE database_name = current_database() "
            "AND schema_name = ? AND NOT internal",
            [schema],
        ).fetchall()
        for (name,) in views:
            if (schema, name) not in mounted:
                con.execute(f"DROP VIEW {table(schema, name)}")
    for schema, name in mounted:
        reader = parquet_reader(spark, f"{schema}.`{name}`")
        con.execute(f"CREATE OR REPLACE VIEW {table(schema, name)} AS SELECT * FROM {reader}")
    return mounted
