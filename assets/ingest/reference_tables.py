"""The reference tables (stores, products, campaigns, KOLs) every deployment has.

dbt staging and the marts read these four tables whether or not a partner sends them, so they are
declared here once: a deployment without a ``reference:`` section (an orders-only or events-only
deployment) still gets them, empty, and a deployment that does send one may rename its file or add
columns in ``feeds.yaml`` without repeating the columns the models need."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from assets.ingest.feed_spec import ColumnSpec


@dataclass(frozen=True)
class ReferenceTable:
    """A reference table (stores, products…): one CSV file in the landing zone's ``reference/``."""

    name: str
    file: str
    columns: tuple[ColumnSpec, ...]


BUILT_IN: dict[str, dict[str, str]] = {
    "stores": {
        "store_id": "varchar",
        "store_name": "varchar",
        "city": "varchar",
        "province": "varchar",
        "city_tier": "varchar",
        "latitude": "double",
        "longitude": "double",
        "opened_on": "date",
    },
    "products": {
        "product_id": "varchar",
        "product_name": "varchar",
        "category": "varchar",
        "price": "double",
    },
    "campaigns": {
        "campaign_id": "varchar",
        "campaign_name": "varchar",
        "channel": "varchar",
        "start_date": "date",
        "end_date": "date",
        "budget": "double",
        "variant": "varchar",
        "control_share": "double",
    },
    "kols": {"kol_id": "varchar", "platform": "varchar", "follower_count": "integer", "tier": "varchar"},
}


def with_built_in(declared: Mapping[str, ReferenceTable]) -> dict[str, ReferenceTable]:
    """The built-in tables overlaid with the deployment's declarations: a declared table keeps its file
    name and its columns (a declared type wins) after the built-in ones; undeclared tables are read
    from ``reference/<name>.csv`` when it exists, else left empty. Extra declared tables are kept."""
    tables: dict[str, ReferenceTable] = {}
    for name, columns in BUILT_IN.items():
        own = declared.get(name)
        merged = {c: ColumnSpec(c, t) for c, t in columns.items()} | {
            c.name: c for c in (own.columns if own else ())
        }
        tables[name] = ReferenceTable(name, own.file if own else f"{name}.csv", tuple(merged.values()))
    return tables | {name: table for name, table in declared.items() if name not in BUILT_IN}
