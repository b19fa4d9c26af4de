"""Dagster resources of the code location: the warehouse (``assets.common.warehouse``) and dbt."""

from __future__ import annotations

import dagster as dg

from assets.common.warehouse import Warehouse
from pipelines.dbt import DBT_EXECUTABLE, DBT_PROJECT, VenvDbtCliResource


def default_resources() -> dict[str, dg.ConfigurableResource]:
    return {
        "warehouse": Warehouse(),
        "dbt": VenvDbtCliResource(project_dir=DBT_PROJECT, dbt_executable=DBT_EXECUTABLE),
    }
