"""Dagster resources of the code location: the warehouse (``assets.common.warehouse``). dbt needs
none: it runs in the step's process against that warehouse (pipelines/dbt_runner.py)."""

from __future__ import annotations

import dagster as dg

from assets.common.warehouse import Warehouse


def default_resources() -> dict[str, dg.ConfigurableResource]:
    return {"warehouse": Warehouse()}
