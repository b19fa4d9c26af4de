"""Small hand-built identity inputs for engine tests."""

from datetime import datetime, timedelta

import polars as pl

from assets.identity.engine import Resolution, number_nodes, resolve
from assets.identity.settings import IdentityConfig, identity_config

T0 = datetime(2026, 5, 1)
SALT = "test-salt"


def frames(rows: list[tuple]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """rows: (source, record_id, record_type, kind, namespace, value, hours after T0)."""
    attributes = pl.DataFrame(
        [
            dict(
                zip(
                    ("source", "record_id", "record_type", "attribute_kind", "namespace", "value"),
                    r[:6],
                    strict=False,
                ),
                observed_at=T0 + timedelta(hours=r[6]),
            )
            for r in rows
        ],
        schema={
            "source": pl.String,
            "record_id": pl.String,
            "record_type": pl.String,
            "attribute_kind": pl.String,
            "namespace": pl.String,
            "value": pl.String,
            "observed_at": pl.Datetime("us"),
        },
    )
    records = (
        attributes.filter(pl.col("record_type") == "record")
        .group_by("source", "record_id")
        .agg(pl.col("observed_at").min())
    )
    return records, attributes


def run(
    rows: list[tuple],
    config: IdentityConfig | None = None,
    previous: Resolution | None = None,
    records: pl.DataFrame | None = None,
) -> Resolution:
    found, attributes = frames(rows)
    nodes, attrs = number_nodes(records if records is not None else found, attributes)
    prior = None
    if previous is not None:
        prior = (
            previous.resolved.filter(pl.col("unified_id").is_not_null())
            .drop("node")
            .with_columns(pl.col("source", "record_type").cast(pl.String))
            .join(
                nodes.select("node", "source", "record_id", "record_type"),
                on=["source", "record_id", "record_type"],
            )
            .select("node", "unified_id", "id_created_at", "first_linked_run")
        )
    return resolve(
        nodes,
        attrs,
        config or identity_config(),
        salt=SALT,
        previous=prior,
        run_id="run-2" if previous else "run-1",
        resolved_at=T0 + timedelta(days=2 if previous else 1),
        previous_model=previous.model if previous is not None else None,
    )


def ids(result: Resolution) -> dict[str, str | None]:
    return {f"{r['source']}/{r['record_id']}": r["unified_id"] for r in result.resolved.iter_rows(named=True)}


class StagedWarehouse:
    """A DuckDB file holding just the two staging tables identity reads, for incremental runs."""

    def __init__(self, path) -> None:
        import duckdb

        self.con = duckdb.connect(str(path))
        self.con.execute("CREATE SCHEMA staging")
        self.con.execute(
            "CREATE TABLE staging.stg_identity_records (source VARCHAR, record_id VARCHAR, "
            "observed_at TIMESTAMP, loaded_at TIMESTAMP)"
        )
        self.con.execute(
            "CREATE TABLE staging.stg_identity_attributes (source VARCHAR, record_id VARCHAR, "
            "record_type VARCHAR, attribute_kind VARCHAR, namespace VARCHAR, value VARCHAR, "
            "is_valid BOOLEAN, observed_at TIMESTAMP, loaded_at TIMESTAMP)"
        )
        self.runs = self.loads = 0

    def add(self, rows: list[tuple]) -> None:
        """rows as in :func:`frames`, loaded now; records get their earliest attribute time."""
        records, attributes = frames(rows)
        self.loads += 1
        loaded = T0 + timedelta(minutes=self.loads)
        self.con.register("_records", records)
        self.con.register("_attributes", attributes)
        self.con.execute(
            "INSERT INTO staging.stg_identity_records SELECT source, record_id, observed_at, $loaded "
            "FROM _records ANTI JOIN staging.stg_identity_records USING (source, record_id)",
            {"loaded": loaded},
        )
        self.con.execute(
            "INSERT INTO staging.stg_identity_attributes SELECT source, record_id, record_type, "
            "attribute_kind, coalesce(namespace, ''), value, true, observed_at, $loaded FROM _attributes",
            {"loaded": loaded},
        )

    def resolve(self, config: IdentityConfig | None = None, *, full: bool = False, days: int | None = None):
        from assets.identity.run import resolve_warehouse

        self.runs += 1
        return resolve_warehouse(
            self.con,
            config or identity_config(),
            salt=SALT,
            run_id=f"run-{self.runs}",
            now=T0 + timedelta(days=days if days is not None else self.runs),
            full_rebuild=full,
        )

    def table(self, name: str) -> pl.DataFrame:
        return self.con.sql(f"SELECT * FROM identity.{name}").pl()

    def ids(self) -> dict[str, str | None]:
        return {
            f"{s}/{r}": u
            for s, r, u in self.con.execute(
                "SELECT source, record_id, unified_id FROM identity.resolved_records "
                "WHERE record_type = 'record'"
            ).fetchall()
        }
