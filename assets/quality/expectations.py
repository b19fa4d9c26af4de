"""Run a Great Expectations suite from ``expectations/`` on a pandas frame.

GX 1.x has no maintained Dagster integration, so this module is the thin bridge: an ephemeral
context, a suite read from JSON, one whole-dataframe batch. Results come back as plain data with
the failing values, so the Dagster layer only has to display them.

Besides GX's own format, a suite's top-level ``meta`` may declare:

- ``partitioned: true`` — validate only the rows of the partitions the run loaded;
- ``derived_columns: {name: SQL}`` — columns computed in the warehouse before validation, which is
  how cross-table (referential) checks are expressed: ``unified_id IN (SELECT … FROM marts.dim_users)``;
- ``sample_rows: N`` — column expectations run on a reproducible sample of at most N rows (GX on
  pandas costs seconds per expectation per million rows); row-count expectations still see the
  whole count. Whole-table keys are asserted by dbt tests and the loader, in the warehouse;

and an expectation's ``meta.vs_previous_run: {factor: f}`` turns a row-count expectation into
"within a factor f of the previous run" (per partition day for partitioned suites)."""

import json
import logging
import math
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pandas as pd

from assets.common.paths import EXPECTATIONS_DIR


@dataclass(frozen=True)
class SuiteFile:
    """A suite checking the table ``schema.table``: read from ``path``, or (a feed without a written
    suite) derived from its declaration, ``origin`` saying which."""

    schema: str
    table: str
    definition: dict = field(hash=False, compare=False)
    origin: str
    path: Path | None = None

    @classmethod
    def read(cls, path: Path, origin: str | None = None) -> "SuiteFile":
        schema, _, table = path.stem.partition(".")
        return cls(schema, table, json.loads(path.read_text(encoding="utf-8")), origin or path.name, path)

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
    observed: str | None = None


def suite_files(folder: Path = EXPECTATIONS_DIR) -> list[SuiteFile]:
    """The suites written in ``folder``, one ``<schema>.<table>.json`` each, named by their path."""
    return [
        SuiteFile.read(path, str(path))
        for path in sorted(folder.glob("*.json"))
        if path.stem.partition(".")[2]
    ]


def _definition(suite: Path | Mapping) -> Mapping:
    return suite if isinstance(suite, Mapping) else json.loads(suite.read_text(encoding="utf-8"))


@cache
def _context():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    return context


def suite_meta(suite: Path | Mapping) -> dict:
    return _definition(suite).get("meta") or {}


def suite_columns(suite: Path | Mapping) -> list[str]:
    """The stored columns a suite reads, so only those are loaded (wide marts carry list columns
    that are slow to convert and that no expectation looks at). Derived columns are not included."""
    derived = suite_meta(suite).get("derived_columns") or {}
    columns: dict[str, None] = {}
    for expectation in _definition(suite)["expectations"]:
        kwargs = expectation.get("kwargs", {})
        for name in ([kwargs["column"]] if "column" in kwargs else []) + list(kwargs.get("column_list", [])):
            if name not in derived:
                columns[name] = None
    return list(columns)


def row_count_bounds(expected_rows: float, factor: float) -> tuple[int, int]:
    """Rows allowed when ``expected_rows`` are expected, give or take a factor."""
    return math.floor(expected_rows / factor), math.ceil(expected_rows * factor)


def _with_history(definition: Mapping, expected_rows: float | None) -> dict:
    """Fill the bounds of ``vs_previous_run`` expectations; without history they bound nothing."""
    expectations = []
    for expectation in definition["expectations"]:
        vs_previous = (expectation.get("meta") or {}).get("vs_previous_run")
        if vs_previous:
            low, high = (
                (0, None)
                if not expected_rows
                else row_count_bounds(expected_rows, float(vs_previous["factor"]))
            )
            expectation = {
                **expectation,
                "kwargs": {**expectation.get("kwargs", {}), "min_value": low, "max_value": high},
            }
        expectations.append(expectation)
    return {**definition, "expectations": expectations}


ROW_COUNT = "expect_table_row_count_to_be_between"


def _row_count_outcome(expectation: dict, rows: int) -> ExpectationOutcome:
    """A row-count expectation judged on the table's full count, for suites validated on a sample."""
    kwargs = expectation.get("kwargs", {})
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    success = (low is None or rows >= low) and (high is None or rows <= high)
    return ExpectationOutcome(
        ROW_COUNT, None, (expectation.get("meta") or {}).get("severity", "error"), success, 0, [], str(rows)
    )


def validate(
    frame: pd.DataFrame,
    suite: Path | Mapping,
    expected_rows: float | None = None,
    total_rows: int | None = None,
    skip_columns: Collection[str] = (),
) -> list[ExpectationOutcome]:
    """Validate ``frame``; ``expected_rows`` (from the previous run) bounds ``vs_previous_run`` row counts;
    ``total_rows``, when ``frame`` is a sample, is the count row-count expectations are judged on;
    expectations on ``skip_columns`` (derived columns that cannot be computed yet) are left out."""
    import great_expectations as gx

    definition = _with_history(_definition(suite), expected_rows)
    definition = {
        **definition,
        "expectations": [
            e for e in definition["expectations"] if e.get("kwargs", {}).get("column") not in skip_columns
        ],
    }
    counted: list[ExpectationOutcome] = []
    if total_rows is not None:
        counted = [
            _row_count_outcome(e, total_rows) for e in definition["expectations"] if e["type"] == ROW_COUNT
        ]
        definition = {
            **definition,
            "expectations": [e for e in definition["expectations"] if e["type"] != ROW_COUNT],
        }
    context = _context()
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
        outcomes.append(
            ExpectationOutcome(
                expectation=config.type,
                column=config.kwargs.get("column"),
                severity=severity,
                success=bool(item.success),
                unexpected_count=int(details.get("unexpected_count") or 0),
                unexpected_sample=[str(v) for v in (details.get("partial_unexpected_list") or [])[:10]],
                observed=None if details.get("observed_value") is None else str(details["observed_value"]),
            )
        )
    return outcomes + counted
