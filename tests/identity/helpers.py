"""Small hand-built identity inputs for engine tests."""

from datetime import datetime, timedelta

import polars as pl

from assets.identity.engine import Resolution, number_nodes, resolve
from pipelines.config import IdentityConfig, identity_config

T0 = datetime(2026, 5, 1)
SALT = "test-salt"


def frames(rows: list[tuple]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """rows: (source, record_id, record_type, kind, namespace, value, hours after T0)."""
    attributes = pl.DataFrame(
        [dict(zip(("source", "record_id", "record_type", "attribute_kind", "namespace", "value"), r[:6]),
              observed_at=T0 + timedelta(hours=r[6])) for r in rows],
        schema={"source": pl.String, "record_id": pl.String, "record_type": pl.String, "attribute_kind": pl.String,
                "namespace": pl.String, "value": pl.String, "observed_at": pl.Datetime("us")})
    records = (attributes.filter(pl.col("record_type") == "record")
               .group_by("source", "record_id").agg(pl.col("observed_at").min()))
    return records, attributes


def run(rows: list[tuple], config: IdentityConfig | None = None, previous: Resolution | None = None,
        records: pl.DataFrame | None = None) -> Resolution:
    found, attributes = frames(rows)
    nodes, attrs = number_nodes(records if records is not None else found, attributes)
    prior = None
    if previous is not None:
        prior = (previous.resolved.filter(pl.col("unified_id").is_not_null())
                 .join(nodes.select("node", "source", "record_id", "record_type"),
                       on=["source", "record_id", "record_type"])
                 .select("node", "unified_id", "id_created_at", "first_linked_run"))
    return resolve(nodes, attrs, config or identity_config(), salt=SALT, previous=prior,
                   run_id="run-2" if previous else "run-1", resolved_at=T0 + timedelta(days=2 if previous else 1))


def ids(result: Resolution) -> dict[str, str | None]:
    return {f"{r['source']}/{r['record_id']}": r["unified_id"] for r in result.resolved.iter_rows(named=True)}
