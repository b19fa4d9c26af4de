"""Which suite checks which table in a deployment.

The product's mart suites live in the repository's ``expectations/``; a deployment's feed suites
(``raw.<feed>.json``) in its own ``$CDP_CONFIG_DIR/expectations/``, where a file of a mart suite's
name overrides the product's. A feed nobody wrote a suite for still gets one, derived from its
declaration, so no feed runs unchecked; a suite for a table the deployment does not have is
skipped with a warning (a feed removed from feeds.yaml must not break the code location)."""

import logging
from collections.abc import Collection, Iterable
from pathlib import Path

from assets.ingest.feeds import FeedConfig
from assets.quality.expectations import SuiteFile, suite_files

log = logging.getLogger(__name__)

# pandas dtypes a column of each declared type arrives as from DuckDB (integers with NULLs as floats).
DTYPES = {
    "integer": ["int8", "int16", "int32", "int64", "Int8", "Int16", "Int32", "Int64", "float64"],
    "double": ["float32", "float64", "Float64"],
    "timestamp": ["datetime64[us]", "datetime64[ns]", "datetime64[ms]", "datetime64[s]"],
}


def _expectation(kind: str, severity: str, **kwargs: object) -> dict:
    return {"type": kind, "kwargs": kwargs, "meta": {"severity": severity}}


def default_suite(feed: FeedConfig, origin: str) -> SuiteFile:
    """A feed's suite derived from its declaration: its record id and required columns not null
    (error), the record id unique within the run's partitions (warn), numbers and timestamps of
    their declared type (warn)."""
    not_null = [c.name for c in feed.columns if c.required or c.name in (feed.record_id, feed.timestamp)]
    expectations = [_expectation("expect_column_values_to_not_be_null", "error", column=c) for c in not_null]
    if feed.record_id:
        expectations.append(_expectation("expect_column_values_to_be_unique", "warn", column=feed.record_id))
    expectations += [
        _expectation(
            "expect_column_values_to_be_in_type_list", "warn", column=c.name, type_list=DTYPES[c.type]
        )
        for c in feed.columns
        if c.type in DTYPES
    ]
    expectations.append(_expectation("expect_table_row_count_to_be_between", "warn", min_value=0))
    definition = {
        "name": f"raw.{feed.name}",
        "expectations": expectations,
        "meta": {"partitioned": True, "description": f"suite: {origin}"},
    }
    return SuiteFile("raw", feed.name, definition, origin)


def deployment_suites(
    folders: Iterable[Path],
    feeds: Iterable[FeedConfig],
    known: Collection[tuple[str, ...]],
    feeds_file: str = "config/feeds.yaml",
) -> list[SuiteFile]:
    """The suites to run: those written in ``folders`` (a later folder's file overrides an earlier
    one's of the same name), a default suite for every feed without one, and only for tables in
    ``known`` (the deployment's asset keys)."""
    suites = {tuple(s.asset_key): s for folder in folders if folder.is_dir() for s in suite_files(folder)}
    for feed in feeds:
        if ("raw", feed.name) not in suites:
            suites[("raw", feed.name)] = default_suite(feed, f"default (derived from {feeds_file})")
    for key in sorted(set(suites) - set(known)):
        log.warning(
            "quality suite %s skipped: %s is not a table of this deployment",
            suites[key].origin,
            ".".join(key),
        )
    return [suite for key, suite in sorted(suites.items()) if key in known]
