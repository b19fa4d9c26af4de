"""Dagster resources of the code location: the warehouse (``assets.common.warehouse``) and dbt."""

from __future__ import annotations

import dagster as dg
from dagster_dbt import DbtCliResource

from assets.common.warehouse import Warehouse
from pipelines.dbt import DBT_EXECUTABLE, DBT_PROJECT


def default_resources() -> dict[str, dg.ConfigurableResource]:
    return {
        "warehouse": Warehouse(),
        "dbt": DbtCliResource(project_dir=DBT_PROJECT, dbt_executable=DBT_EXECUTABLE),
    }
