"""When a dbt step's incremental models must be built in full instead of from what changed since
their last build, and what the last build saw.

The staging step's models append the deliveries that arrived since their last build
(``first_delivery`` in dbt_project/macros/staging.sql); the marts step's facts replace the rows
staged or re-resolved by identity since (``facts_to_build`` in dbt_project/macros/facts.sql). Either
gives the rows a full build would only while raw has only grown and every row is still turned into
the same row. So a step builds in full when:

- it is asked for (``cdp run --full``);
- it has no build on record (a new deployment, or one from before its incremental models);
- a model, a macro or the deployment's dbt vars changed since (``step_fingerprint``);
- retention deleted raw rows since (a deletion on request deletes from staging and marts itself);
- for the marts step, what it reads was rebuilt in full since: staging (a changed staging model may
  stage old rows differently) or identity (every record re-resolved; replacing every fact row one by
  one would cost more than building them anew).

Each successful build is recorded in ``raw._dbt_builds`` with its fingerprint and why it was full,
and, for the marts step, in ``raw._dbt_watermarks`` with the newest load and resolution times it
saw: the next incremental build takes the rows after them."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from assets.common.sql import fetch_value, table_exists
from assets.identity.store import Tables
from assets.privacy.retention import RETENTION_AUDIT

BUILDS = "raw._dbt_builds"
WATERMARKS = "raw._dbt_watermarks"
STAGING_STEP = "dbt_staging"
MARTS_STEP = "dbt_marts"
# the relations the marts step's facts are built incrementally from, and the column that says when
# a row arrived in them (dbt_project/macros/facts.sql reads them back by these names)
MARTS_WATERMARKS = {
    "stg_events": ("staging.stg_events", "_loaded_at"),
    "stg_orders": ("staging.stg_orders", "_loaded_at"),
    "resolved_records": (f"{Tables().schema}.{Tables().resolved}", "resolved_at"),
}


@dataclass(frozen=True)
class BuildPlan:
    full: bool
    reason: str  # why in full; empty for an incremental build


def is_staging_node(node: Mapping[str, Any]) -> bool:
    """Whether a manifest node belongs to the staging step (pipelines/dbt.py ``STAGING``)."""
    return node["resource_type"] == "seed" or node["fqn"][1:2] == ["staging"]


def step_fingerprint(manifest: Mapping[str, Any], dbt_vars: str, staging: bool) -> str:
    """What decides how the step's incremental models turn their inputs into rows: their SQL, every
    macro of the project, and the deployment's vars. Any change to them is a reason to rebuild (some
    are not, but a needless full build costs seconds where a stale row costs a wrong mart). Models
    that refuse ``--full-refresh`` (a snapshot's history) are left out: a full build keeps them."""
    digest = hashlib.sha256(dbt_vars.encode())
    project = manifest["metadata"]["project_name"]
    for node_id, node in sorted(manifest["nodes"].items()):
        config = node["config"]
        if (
            node["resource_type"] == "model"
            and config.get("materialized") == "incremental"
            and config.get("full_refresh") is not False
            and is_staging_node(node) == staging
        ):
            digest.update(f"{node_id}:{node['checksum']['checksum']}".encode())
    for macro_id, macro in sorted(manifest["macros"].items()):
        if macro["package_name"] == project:
            digest.update(f"{macro_id}:{macro['macro_sql']}".encode())
    return digest.hexdigest()


def ensure_builds_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {BUILDS} "
        "(step VARCHAR, fingerprint VARCHAR, built_at TIMESTAMP, full_build BOOLEAN, reason VARCHAR)"
    )
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {WATERMARKS} "
        "(step VARCHAR, built_at TIMESTAMP, relation VARCHAR, through TIMESTAMP)"
    )


def plan_build(con: duckdb.DuckDBPyConnection, step: str, fingerprint: str, asked_full: bool) -> BuildPlan:
    """Incremental, unless one of the module's reasons for a full build holds (the first one found)."""
    if asked_full:
        return BuildPlan(True, "a full build was asked for")
    ensure_builds_table(con)
    last = con.execute(
        f"SELECT fingerprint, built_at FROM {BUILDS} WHERE step = ? ORDER BY built_at DESC LIMIT 1", [step]
    ).fetchone()
    if last is None:
        return BuildPlan(True, "no earlier build on record")
    if last[0] != fingerprint:
        return BuildPlan(True, "a model, a macro or the deployment's dbt vars changed")
    if _retention_deleted_since(con, last[1]):
        return BuildPlan(True, "retention deleted raw rows since the last build")
    if step == MARTS_STEP:
        return BuildPlan(*_upstream_rebuilt_since(con, last[1]))
    return BuildPlan(False, "")


def _retention_deleted_since(con: duckdb.DuckDBPyConnection, built_at: datetime) -> bool:
    schema, name = RETENTION_AUDIT.split(".")
    if not table_exists(con, schema, name):
        return False
    deleted = fetch_value(
        con,
        f"SELECT count(*) FROM {RETENTION_AUDIT} WHERE applied_at >= $at AND rows_deleted > 0",
        {"at": built_at},
    )
    return bool(deleted)


def _upstream_rebuilt_since(con: duckdb.DuckDBPyConnection, built_at: datetime) -> tuple[bool, str]:
    staged_in_full = fetch_value(
        con,
        f"SELECT count(*) FROM {BUILDS} WHERE step = $step AND full_build AND built_at > $at",
        {"step": STAGING_STEP, "at": built_at},
    )
    if staged_in_full:
        return True, "staging was built in full since the last build"
    tables = Tables()
    if table_exists(con, tables.schema, tables.state):
        resolved_in_full = fetch_value(
            con,
            f"SELECT count(*) FROM {tables.schema}.{tables.state} WHERE mode = 'full' AND resolved_at > $at",
            {"at": built_at},
        )
        if resolved_in_full:
            return True, "identity was resolved in full since the last build"
    return False, ""


def watermarks(con: duckdb.DuckDBPyConnection) -> dict[str, datetime | None]:
    """The newest arrival time in each relation the marts step's facts read (None: empty or not
    built yet), taken before the step's build: nothing writes them while dbt holds the warehouse."""
    seen: dict[str, datetime | None] = {}
    for relation, (table, column) in MARTS_WATERMARKS.items():
        schema, name = table.split(".")
        seen[relation] = (
            fetch_value(con, f"SELECT max({column}) FROM {table}")
            if table_exists(con, schema, name)
            else None
        )
    return seen


def record_build(
    con: duckdb.DuckDBPyConnection,
    step: str,
    fingerprint: str,
    plan: BuildPlan,
    seen: Mapping[str, datetime | None] | None = None,
) -> None:
    """The build in the ledger, with the watermarks ``seen`` before it (the marts step's)."""
    ensure_builds_table(con)
    now = datetime.now()
    con.execute("BEGIN TRANSACTION")
    con.execute(
        f"INSERT INTO {BUILDS} VALUES (?, ?, ?, ?, ?)", [step, fingerprint, now, plan.full, plan.reason]
    )
    for relation, through in (seen or {}).items():
        con.execute(f"INSERT INTO {WATERMARKS} VALUES (?, ?, ?, ?)", [step, now, relation, through])
    con.execute("COMMIT")
