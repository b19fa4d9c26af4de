"""A `cdp run` killed in the middle (here: while dbt builds the marts), then run again, leaves the
same marts and exports as a run that was never interrupted."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.settings import DataPaths
from tests.e2e.mart_checksums import mart_checksums
from tests.landing_builder import build_small_landing

pytestmark = pytest.mark.slow
CDP = str(Path(sys.executable).with_name("cdp"))
KILL_AT = 'Started execution of step "dbt_marts"'


def cdp_run(root: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "CDP_DATA_DIR": str(root / "data"), "DAGSTER_HOME": str(root / "dagster_home"),
           "CDP_HASH_SALT": "same-salt-for-both-deployments", "CDP_LOG_LEVEL": "DEBUG"}
    env.pop("CDP_LANDING_DIR", None)
    (root / "dagster_home").mkdir(exist_ok=True)
    return subprocess.Popen([CDP, "run"], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def test_a_killed_run_run_again_gives_the_same_marts(tmp_path):
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    for root in (clean, killed):
        build_small_landing(root / "data" / "landing")

    assert cdp_run(clean, tmp_path / "clean.log").wait(timeout=900) == 0

    victim = cdp_run(killed, tmp_path / "killed.log")
    deadline = time.monotonic() + 900
    while KILL_AT not in (tmp_path / "killed.log").read_text(errors="replace"):
        assert victim.poll() is None and time.monotonic() < deadline, "the run ended before dbt_marts started"
        time.sleep(0.2)
    time.sleep(3)  # dbt is now writing marts
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(timeout=60)
    assert victim.returncode == -signal.SIGKILL
    assert cdp_run(killed, tmp_path / "rerun.log").wait(timeout=900) == 0, (tmp_path / "rerun.log").read_text()[-3000:]

    expected = mart_checksums(DataPaths(clean / "data"))
    assert len(expected) > 20
    assert mart_checksums(DataPaths(killed / "data")) == expected
