"""Deletion on request (PIPL): remove a person from every layer of the warehouse.

A request names one identifier (a mobile, an email, a member id — any declared attribute kind).
The person is every record that carries it *and every record identity resolved to the same
unified person*, because a deletion request covers the person, not one spelling of one contact.
The layers are discovered, not listed, so new identity or mart tables are covered without edits:

- raw: each feed's rows whose identity key (record id, or actor key for behaviour feeds) is one of
  the person's records, their quarantined and kept-aside values;
- every base table of the derived schemas holding ``unified_id``, ``(source, record_id)`` or
  ``(source, identity_key)`` of the person, or naming them on one side of a pair of records
  (``source_a, record_id_a`` / ``source_b, record_id_b``: the identity review candidates).

The ledger is kept, so already-loaded files are not read again; each deleted raw row's salted
hash goes to the suppression list, so a rebuild from the landing zone refuses those rows too.
The audit row holds a salted hash of the identifier and counts per table, never the value."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import duckdb
import polars as pl

from assets.activation.settings import Destination
from assets.activation.suppression import destination_values, record_forgotten
from assets.common.sql import fetch_value, ident, literal, table, table_exists
from assets.ingest.batch import ensure_raw_table
from assets.ingest.canonical import create_views, identity_key
from assets.ingest.feeds import FeedConfig, FeedsConfig
from assets.ingest.ledger import EXTRA_COLUMNS, QUARANTINE
from assets.privacy.spark_rows import delete_spark_rows
from assets.privacy.suppression import (
    AUDIT,
    SUPPRESSED_RECORDS,
    ensure_privacy_tables,
    identifier_key_sql,
    record_hash_sql,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DERIVED_SCHEMAS = ("staging", "intermediate", "identity", "marts")


class ForgetError(ValueError):
    """The request cannot be carried out (unknown kind, value that is not an identifier of that kind)."""


@dataclass
class ForgetReport:
    request_id: str
    identifier_kind: str
    identifier_hash: str
    people: int
    rows_deleted: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.rows_deleted.values())


def _columns_by_table(
    con: duckdb.DuckDBPyConnection, kinds: tuple[str, ...]
) -> dict[tuple[str, str], set[str]]:
    """The columns of the derived schemas' relations of these ``kinds``: base tables; on the Spark
    engine, the views its tables are mounted as."""
    rows = con.execute(f"""
        SELECT c.table_schema, c.table_name, c.column_name FROM information_schema.columns c
        JOIN information_schema.tables t USING (table_catalog, table_schema, table_name)
        WHERE t.table_type IN ({", ".join(map(literal, kinds))})
          AND c.table_schema IN ({", ".join(literal(s) for s in DERIVED_SCHEMAS)})
        ORDER BY ALL""").fetchall()
    tables: dict[tuple[str, str], set[str]] = {}
    for schema, name, column in rows:
        tables.setdefault((schema, name), set()).add(column)
    return tables


def _person_filter(columns: set[str]) -> str | None:
    """WHERE clause selecting the person's rows of a derived table, or None if it holds no key of theirs."""
    conditions = []
    if "unified_id" in columns:
        conditions.append("CAST(unified_id AS VARCHAR) IN (SELECT unified_id FROM _forget_people)")
    for side in ("", "_a", "_b"):  # a pair of records (review candidates) names the person on either side
        for key in ("record_id", "identity_key"):
            if {f"source{side}", f"{key}{side}"} <= columns:
                conditions.append(
                    f"(CAST(source{side} AS VARCHAR), CAST({key}{side} AS VARCHAR)) IN "
                    "(SELECT source, record_id FROM _forget_records)"
                )
    return " OR ".join(conditions) or None


def forget(
    con: duckdb.DuckDBPyConnection,
    config: FeedsConfig,
    kind: str,
    value: str,
    salt: str,
    known_kinds: set[str],
    destinations: dict[str, Destination] | None = None,
    spark: SparkSession | None = None,
) -> ForgetReport:
    """Delete the person carrying ``kind``=``value`` from raw, derived schemas and marts, in one
    transaction. With ``destinations``, the person's identifiers as each destination spells and
    hashes them are kept for its suppression list first (they cannot be computed afterwards). With
    ``spark`` (the Spark engine), the derived tables are Spark's, mounted in ``con``: their files are
    rewritten without the person (assets/privacy/spark_rows.py)."""
    if kind not in known_kinds:
        raise ForgetError(
            f"unknown identifier kind '{kind}'; declared kinds: {', '.join(sorted(known_kinds))}"
        )
    key = fetch_value(con, f"SELECT {identifier_key_sql(kind, '$value')}", {"value": value})
    if key is None:
        raise ForgetError(f"'{kind}' value is empty or not a valid {kind} once normalised")
    ensure_privacy_tables(con)
    for feed in config.feeds.values():
        ensure_raw_table(con, feed.name, feed.columns)
    create_views(con, config)
    request_id = uuid.uuid4().hex[:16]
    identifier_hash = fetch_value(
        con, "SELECT sha256($salt || $kind || ':' || $key)", {"salt": salt, "kind": kind, "key": key}
    )
    derived = _columns_by_table(con, ("VIEW",) if spark else ("BASE TABLE",))
    con.execute("BEGIN TRANSACTION")
    try:
        _find_person(con, kind, key, derived)
        people = fetch_value(con, "SELECT count(*) FROM _forget_people")
        if destinations:
            record_forgotten(
                con,
                destination_values(_identifiers(con, kind, key), destinations, _join_keys(con)),
                request_id,
            )
        deleted: dict[str, int] = {}
        for feed in config.feeds.values():
            _forget_feed_rows(con, feed, salt, request_id, deleted)
        deleted |= _forget_derived_rows(con, derived, spark)
        now = datetime.now()
        counts = {t: n for t, n in deleted.items() if n} or {"(no rows found)": 0}
        con.executemany(
            f"INSERT INTO {AUDIT} VALUES (?, ?, ?, ?, ?, ?, ?)",
            [[request_id, now, kind, identifier_hash, people, t, n] for t, n in counts.items()],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    for temp in ("_forget_records", "_forget_people", "_forget_ids"):
        con.execute(f"DROP TABLE IF EXISTS {temp}")
    return ForgetReport(request_id, kind, identifier_hash, people, {t: n for t, n in deleted.items() if n})


def _forget_derived_rows(
    con: duckdb.DuckDBPyConnection, derived: dict[tuple[str, str], set[str]], spark: SparkSession | None
) -> dict[str, int]:
    """Delete the person's rows of every derived table that holds a key of theirs; rows per table."""
    deleted = {}
    for (schema, name), columns in derived.items():
        where = _person_filter(columns)
        if where:
            deleted[f"{schema}.{name}"] = (
                delete_spark_rows(con, spark, schema, name, where)
                if spark
                else _delete(con, table(schema, name), where)
            )
    return deleted


def _forget_feed_rows(
    con: duckdb.DuckDBPyConnection, feed: FeedConfig, salt: str, request_id: str, deleted: dict[str, int]
) -> None:
    """Delete the person's rows of one feed — raw, quarantined and their extra columns — after
    putting their salted record hashes on the suppression list, so a re-delivered file cannot
    bring them back. Adds the deleted counts per table to ``deleted``."""
    raw = table("raw", feed.name)
    mine = (
        f"{identity_key(feed)} IN (SELECT record_id FROM _forget_records WHERE source = {literal(feed.name)})"
    )
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _forget_ids AS
                    SELECT DISTINCT CAST({ident(feed.record_id)} AS VARCHAR) AS rid
                    FROM {raw} WHERE {mine}""")
    con.execute(
        f"""INSERT INTO {SUPPRESSED_RECORDS}
                    SELECT DISTINCT {record_hash_sql("$salt", "$feed", "rid")}, $request FROM _forget_ids
                    ON CONFLICT DO NOTHING""",
        {"salt": salt, "feed": feed.name, "request": request_id},
    )
    deleted[f"raw.{feed.name}"] = _delete(con, raw, mine)
    deleted[QUARANTINE] = deleted.get(QUARANTINE, 0) + _delete(
        con,
        QUARANTINE,
        f"""feed = {literal(feed.name)} AND
        json_extract_string(raw_record, {literal("$." + feed.record_id)}) IN (SELECT rid FROM _forget_ids)""",
    )
    deleted[EXTRA_COLUMNS] = deleted.get(EXTRA_COLUMNS, 0) + _delete(
        con, EXTRA_COLUMNS, f"feed = {literal(feed.name)} AND record_id IN (SELECT rid FROM _forget_ids)"
    )


def _find_person(
    con: duckdb.DuckDBPyConnection, kind: str, key: str, derived: dict[tuple[str, str], set[str]]
) -> None:
    """Fill ``_forget_records`` (every record carrying the identifier, then every record of the
    people identity resolved them to) and ``_forget_people`` (those people's unified ids)."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _forget_records AS
                    SELECT DISTINCT source, record_id FROM raw.identity_attributes
                    WHERE attribute_kind = $kind AND {identifier_key_sql(kind, "raw_value")} = $key""",
        {"kind": kind, "key": key},
    )
    identity_tables = [
        (s, t, cols)
        for (s, t), cols in derived.items()
        if "unified_id" in cols and {"source", "record_id"} <= cols
    ]
    people_sql = (
        " UNION ".join(
            f"SELECT CAST(unified_id AS VARCHAR) AS unified_id FROM {table(s, t)} "
            "WHERE (CAST(source AS VARCHAR), CAST(record_id AS VARCHAR)) IN "
            "(SELECT source, record_id FROM _forget_records)"
            for s, t, _ in identity_tables
        )
        or "SELECT CAST(NULL AS VARCHAR) AS unified_id WHERE false"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _forget_people AS SELECT DISTINCT unified_id FROM ({people_sql}) "
        "WHERE unified_id IS NOT NULL"
    )
    for s, t, _ in identity_tables:
        con.execute(f"""INSERT INTO _forget_records
                        SELECT DISTINCT CAST(source AS VARCHAR), CAST(record_id AS VARCHAR) FROM {table(s, t)}
                        WHERE CAST(unified_id AS VARCHAR) IN (SELECT unified_id FROM _forget_people)
                        EXCEPT SELECT source, record_id FROM _forget_records""")


def _identifiers(con: duckdb.DuckDBPyConnection, kind: str, key: str) -> pl.DataFrame:
    """The person's normalised identifiers (all their records in staging) and the one requested."""
    frame = pl.DataFrame({"unified_id": [""], "attribute_kind": [kind], "namespace": [""], "value": [key]})
    if table_exists(con, "staging", "stg_identity_attributes"):
        staged = con.sql("""SELECT '' AS unified_id, attribute_kind, namespace, value
                            FROM staging.stg_identity_attributes
                            WHERE is_valid
                              AND (source, record_id) IN (SELECT source, record_id FROM _forget_records)
                         """).pl()
        frame = pl.concat([frame, staged.cast(frame.schema)])
    return frame.unique()


def _join_keys(con: duckdb.DuckDBPyConnection) -> pl.DataFrame | None:
    """The CRM lists' salted join keys of the person (from marts.dim_users), if it was built."""
    if not table_exists(con, "marts", "dim_users"):
        return None
    return con.sql("""SELECT mobile_hash AS join_key FROM marts.dim_users
                      WHERE unified_id IN (SELECT unified_id FROM _forget_people)
                        AND mobile_hash IS NOT NULL""").pl()


def _delete(con: duckdb.DuckDBPyConnection, target: str, where: str) -> int:
    return con.execute(f"DELETE FROM {target} WHERE {where}").fetchall()[0][0]
