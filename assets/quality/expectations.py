"""Run a Great Expectations suite from ``expectations/`` on a pandas frame.

GX 1.x has no maintained Dagster integration, so this module is the thin bridge: an ephemeral
context, a suite read from JSON, one whole-dataframe batch. Results come back as plain data with
the failing values, so the Dagster layer only has to display them."""

import json
import logging
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

from pipelines.settings import EXPECTATIONS_DIR


@dataclass(frozen=True)
class SuiteFile:
    path: Path
    schema: str
    table: str

    @property
    def asset_key(self) -> list[str]:
        return [self.schema, self.table]


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    column: str | None
    severity: str
    success: bool
    unexpected_count: int
    unexpected_sample: list


def suite_files(folder: Path = EXPECTATIONS_DIR) -> list[SuiteFile]:
    files = []
    for path in sorted(folder.glob("*.json")):
        schema, _, table = path.stem.partition(".")
        if table:
            files.append(SuiteFile(path, schema, table))
    return files


@cache
def _context():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    return context


def suite_columns(suite_path: Path) -> list[str]:
    """The columns a suite reads, so only those are loaded (wide marts carry list columns that
    are slow to convert and that no expectation looks at)."""
    columns: dict[str, None] = {}
    for expectation in json.loads(suite_path.read_text(encoding="utf-8"))["expectations"]:
        kwargs = expectation.get("kwargs", {})
        for name in ([kwargs["column"]] if "column" in kwargs else []) + list(kwargs.get("column_list", [])):
            columns[name] = None
    return list(columns)


def validate(frame: pd.DataFrame, suite_path: Path) -> list[ExpectationOutcome]:
    import great_expectations as gx

    context = _context()
    definition = json.loads(suite_path.read_text(encoding="utf-8"))
    name = definition["name"]
    if name in {s.name for s in context.suites.all()}:
        context.suites.delete(name)
    suite = context.suites.add(gx.ExpectationSuite(**definition))
    source = context.data_sources.add_or_update_pandas(f"cdp_{name}")
    asset = source.add_dataframe_asset(name=name)
    batch = asset.add_batch_definition_whole_dataframe(f"{name}_batch")
    result = batch.get_batch(batch_parameters={"dataframe": frame}).validate(suite, result_format="SUMMARY")
    outcomes = []
    for item in result.results:
        config = item.expectation_config
        details = item.result or {}
        severity = (config.meta or {}).get("severity", "error")
        outcomes.append(ExpectationOutcome(
            expectation=config.type,
            column=config.kwargs.get("column"),
            severity=severity,
            success=bool(item.success),
            unexpected_count=int(details.get("unexpected_count") or 0),
            unexpected_sample=[str(v) for v in (details.get("partial_unexpected_list") or [])[:10]],
        ))
    return outcomes
