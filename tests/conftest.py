"""Every test runs against its own data directory and Dagster home under ``tmp_path``; the
session's one run of the hand-built landing zone is shared through copies (tests/e2e/shared_runs.py)."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assets.common.paths import DataPaths
from tests.e2e.shared_runs import (
    SharedRun,
    built_once,
    copy_of,
    session_folder,
    use_deployment,
    write_cli_result,
)
from tests.landing_builder import add_expo_registration, build_small_landing


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slowest modules first, heaviest first (``slow(seconds=…)``), then the rest in their order.
    ``make test`` hands whole files to two workers in this order (``--dist loadfile
    --no-loadscope-reorder``), so the long whole-pipeline modules start early and the many short
    tests fill in around them, instead of one worker ending alone on the last long module."""

    def seconds(item: pytest.Item) -> float:
        marker = item.get_closest_marker("slow")
        return float(marker.kwargs.get("seconds", 1)) if marker else 0.0

    items[:] = sorted(items, key=lambda item: -seconds(item))  # stable: same-weight order is kept


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DataPaths:
    monkeypatch.setenv("CDP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.delenv("CDP_LANDING_DIR", raising=False)
    (tmp_path / "dagster_home").mkdir()
    return DataPaths(tmp_path / "data")


def build_small_run(root: Path) -> None:
    """The hand-built landing zone (with Li's expo registration) through ``cdp run``, every stage, as
    an operator starts it."""
    from pipelines import cli

    with pytest.MonkeyPatch.context() as mp:
        paths = use_deployment(mp, root)
        truth = build_small_landing(paths.landing) | add_expo_registration(paths.landing)
        result = CliRunner().invoke(cli.app, ["run"], terminal_width=200)
    write_cli_result(root, result.output, result.exit_code, truth)


@pytest.fixture(scope="session")
def small_run_template(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    return built_once(session_folder(tmp_path_factory, worker_id, "small-run"), build_small_run)


@pytest.fixture(scope="module")
def small_run(small_run_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedRun]:
    """This module's own copy of the one ``cdp run`` of the hand-built landing zone."""
    with pytest.MonkeyPatch.context() as mp:
        yield copy_of(small_run_template, tmp_path_factory.mktemp("small-run") / "copy", mp)
