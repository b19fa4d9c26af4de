"""When the incremental staging models must be built in full instead of from the rows delivered
since their last build.

An incremental build appends the deliveries that arrived since the model's last build
(``first_delivery`` in dbt_project/macros/staging.sql). It gives the rows a full build would only
while raw has only grown and every row is still turned into the same staged row. So a step builds
in full when:

- it is asked for (``cdp run --full``);
- it has no build on record (a new deployment, or one from before incremental staging);
- a model, a macro or the deployment's dbt vars changed since (``staging_fingerprint``);
- retention deleted raw rows since (a deletion on request deletes from staging itself).

Each successful build is recorded in ``raw._dbt_builds`` with its fingerprint and why it was full."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from assets.common.sql import fetch_value, table_exists
from assets.privacy.retention import RETENTION_AUDIT

BUILDS = "raw._dbt_builds"


@dataclass(frozen=True)
class BuildPlan:
    full: bool
    reason: str  # why in full; empty for an incremental build


def staging_fingerprint(manifest: Mapping[str, Any], dbt_vars: str) -> str:
    """What decides how a raw row becomes a staged row: the SQL of every incremental model and of
    every macro of the project, and the deployment's vars. Any change to them is a reason to rebuild
    (some are not, but a needless full build costs seconds where a stale row costs a wrong mart)."""
    digest = hashlib.sha256(dbt_vars.encode())
    project = manifest["metadata"]["project_name"]
    for node_id, node in sorted(manifest["nodes"].items()):
        if node["resource_type"] == "model" and node["config"].get("materialized") == "incremental":
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


def record_build(con: duckdb.DuckDBPyConnection, step: str, fingerprint: str, plan: BuildPlan) -> None:
    ensure_builds_table(con)
    con.execute(
        f"INSERT INTO {BUILDS} VALUES (?, ?, ?, ?, ?)",
        [step, fingerprint, datetime.now(), plan.full, plan.reason],
    )
