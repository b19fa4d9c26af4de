"""Dagster resources of the code location: the warehouse (``assets.common.warehouse``) and dbt."""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from assets.common.paths import DBT_PROJECT_DIR
from assets.common.warehouse import Warehouse


def default_resources() -> dict[str, dg.ConfigurableResource]:
    return {
        "warehouse": Warehouse(),
        "dbt": DbtCliResource(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR),
                              dbt_executable=str(Path(sys.executable).with_name("dbt"))),
    }
