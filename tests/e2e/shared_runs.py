"""Whole-pipeline runs built once per test session and shared by the modules that inspect them.

A run costs tens of seconds, so modules that only need *a* finished run of the same landing zone
share one. Under pytest-xdist each worker is a process of its own: the run is built under a file
lock in a folder beside the workers' temporary folders, by whichever worker asks first, and the
others wait for it. A module that runs more on top (a re-run, a stage run, a forget) works on its
own copy, so no module sees another's changes."""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from assets.common.paths import DataPaths

BUILT = "built"


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    with lock_file.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def session_folder(tmp_path_factory: pytest.TempPathFactory, worker_id: str, name: str) -> Path:
    """A folder every worker of this session sees: the parent of the workers' base temp folders
    under xdist (one per session), the base temp folder itself without it."""
    base = tmp_path_factory.getbasetemp()
    return (base if worker_id == "master" else base.parent) / name


def built_once(folder: Path, build: Callable[[Path], None]) -> Path:
    """``folder`` after ``build(folder)`` ran in exactly one process; a build that failed half-way
    is started again by the next process that asks."""
    with _exclusive(folder.with_name(folder.name + ".lock")):
        if not (folder / BUILT).exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            build(folder)
            (folder / BUILT).touch()
    return folder


def use_deployment(mp: pytest.MonkeyPatch, root: Path) -> DataPaths:
    """Point the process at ``root/data`` and ``root/dagster_home``, as a module's own deployment."""
    mp.setenv("CDP_DATA_DIR", str(root / "data"))
    mp.setenv("DAGSTER_HOME", str(root / "dagster_home"))
    mp.delenv("CDP_LANDING_DIR", raising=False)
    (root / "dagster_home").mkdir(exist_ok=True)
    return DataPaths(root / "data")


@dataclass(frozen=True)
class SharedRun:
    """A module's copy of a shared run: its data folder, the folder the run was built in (paths in
    the run's metadata name that one), what ``cdp run`` printed and how it exited, and the landing
    zone's known answers."""

    paths: DataPaths
    built_in: Path
    output: str
    exit_code: int
    truth: dict[str, str]


def write_cli_result(root: Path, output: str, exit_code: int, truth: dict[str, str]) -> None:
    result = {"output": output, "exit_code": exit_code, "truth": truth}
    (root / "cli_result.json").write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")


def copy_of(template: Path, target: Path, mp: pytest.MonkeyPatch) -> SharedRun:
    shutil.copytree(template, target, ignore=shutil.ignore_patterns(BUILT))
    paths = use_deployment(mp, target)
    result = json.loads((target / "cli_result.json").read_text(encoding="utf-8"))
    return SharedRun(paths, template / "data", result["output"], result["exit_code"], result["truth"])


def the_only_run() -> dg.RunRecord:
    [record] = dg.DagsterInstance.get().get_run_records()
    return record


def check_evaluations(run_id: str) -> list:
    """The asset check evaluations a stored run reported, as ``result.get_asset_check_evaluations()``
    gives them for a run in this process."""
    records = (
        dg.DagsterInstance.get()
        .get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        .records
    )
    return [r.event_log_entry.dagster_event.event_specific_data for r in records]
