"""Re-running is safe: the same partition twice gives identical marts (loading nothing twice), a
`cdp run` killed in the middle and run again gives the marts of an uninterrupted run, a late file
re-materialises its partition through the sensor, and an analyst holding marts.duckdb open never
blocks a run nor sees half of one. The first run is the session's one run of the hand-built landing
zone (tests/e2e/shared_runs.py), copied for this module."""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from typer.testing import CliRunner

from assets.common.paths import DataPaths, hash_salt
from assets.ingest.partitions import RANGE_END_TAG, RANGE_START_TAG
from pipelines import cli
from pipelines.automation import new_landing_files
from pipelines.runner import run_pipeline
from tests.bad_inputs import BAD_INPUTS, LATE_DAY
from tests.e2e.mart_checksums import mart_checksums
from tests.e2e.shared_runs import SharedRun, use_deployment
from tests.landing_builder import DAY, add_expo_registration, build_small_landing

pytestmark = pytest.mark.slow(seconds=110)
CDP = str(Path(sys.executable).with_name("cdp"))
KILL_AT = 'Started execution of step "dbt_marts"'

ANALYST = """
import json, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
for line in sys.stdin:
    if line.strip() == "quit":
        break
    rows = con.execute("SELECT count(*), coalesce(sum(gross_amount), 0) FROM fct_orders").fetchall()[0]
    print(json.dumps(rows), flush=True)
"""


class Analyst:
    """A second process with a read-only connection to marts.duckdb, kept open while runs happen."""

    def __init__(self, path):
        self.process = subprocess.Popen(
            [sys.executable, "-c", ANALYST, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def read(self) -> list:
        self.process.stdin.write("read\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> int:
        self.process.stdin.write("quit\n")
        self.process.stdin.flush()
        return self.process.wait(timeout=30)


RAW_COUNTS = (
    "SELECT (SELECT count(*) FROM raw._files), (SELECT count(*) FROM raw.pos_transactions), "
    "(SELECT count(*) FROM marts.fct_orders), (SELECT count(*) FROM raw._quarantine)"
)
IDENTITY_MAP = "SELECT source, record_id, unified_id FROM marts.identity_map ORDER BY ALL"


@pytest.fixture(scope="module")
def first_run(small_run: SharedRun):
    """The session's one ``cdp run`` of the hand-built landing zone (a copy of it, this module's own)."""
    assert small_run.exit_code == 0, small_run.output[-3000:]
    return small_run.paths, mart_checksums(small_run.paths)


def raw_counts(paths: DataPaths) -> tuple[list, list]:
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        return con.execute(RAW_COUNTS).fetchall(), con.execute(IDENTITY_MAP).fetchall()


def test_running_a_partition_again_gives_identical_marts_and_exports(first_run):
    """The landing zone holds one day, so this is also a plain `cdp run` again: nothing loads twice."""
    paths, before = first_run
    assert len([k for k in before if k.startswith("export:")]) >= 9
    counts_before = raw_counts(paths)
    day = date.fromisoformat(DAY)
    assert run_pipeline(day, day).success
    assert mart_checksums(paths) == before
    assert raw_counts(paths) == counts_before


def cdp_run(root: Path, salt: str, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "CDP_DATA_DIR": str(root / "data"),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "CDP_HASH_SALT": salt,
        "CDP_LOG_LEVEL": "DEBUG",
    }
    env.pop("CDP_LANDING_DIR", None)
    (root / "dagster_home").mkdir(exist_ok=True)
    return subprocess.Popen(
        [CDP, "run"], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )


def test_a_killed_run_run_again_gives_the_marts_of_an_uninterrupted_run(first_run, tmp_path):
    """Killed while dbt builds the marts, in another deployment of the same landing zone and salt."""
    paths, expected = first_run
    killed = tmp_path / "killed"
    build_small_landing(killed / "data" / "landing")
    add_expo_registration(killed / "data" / "landing")
    salt = hash_salt(paths)
    victim = cdp_run(killed, salt, tmp_path / "killed.log")
    deadline = time.monotonic() + 900
    while KILL_AT not in (tmp_path / "killed.log").read_text(errors="replace"):
        assert victim.poll() is None and time.monotonic() < deadline, "the run ended before dbt_marts started"
        time.sleep(0.2)
    time.sleep(3)  # dbt is now writing marts
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(timeout=60)
    assert victim.returncode == -signal.SIGKILL
    with pytest.MonkeyPatch.context() as mp:  # `cdp run` again, in this process: no second start-up
        use_deployment(mp, killed)
        mp.setenv("CDP_HASH_SALT", salt)
        mp.setenv("CDP_WAREHOUSE_PATH", str(killed / "data" / "warehouse.duckdb"))  # restored afterwards
        rerun = CliRunner().invoke(cli.app, ["run"], terminal_width=200)
    assert rerun.exit_code == 0, rerun.output[-3000:]
    assert len(expected) > 20
    assert mart_checksums(DataPaths(killed / "data")) == expected


def test_a_late_file_reruns_its_partition_while_an_analyst_keeps_reading(first_run):
    paths, _ = first_run
    sensor_cursor = json.dumps(
        {"mtime_ns": max(f.stat().st_mtime_ns for f in paths.landing.rglob("*") if f.is_file())}
    )
    late = next(c for c in BAD_INPUTS if c.kind == "late file for an old partition")
    late.write(paths.landing)

    analyst = Analyst(paths.analyst_db)
    before = analyst.read()
    with dg.build_sensor_context(cursor=sensor_cursor) as context:
        result = new_landing_files(context)
    [request] = result.run_requests
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (LATE_DAY, LATE_DAY)
    run = run_pipeline(
        date.fromisoformat(request.tags[RANGE_START_TAG]), date.fromisoformat(request.tags[RANGE_END_TAG])
    )
    during = analyst.read()
    assert analyst.close() == 0
    assert run.success
    assert during == before  # the open connection still reads the previous, complete file

    with duckdb.connect(str(paths.analyst_db), read_only=True) as con:
        after = con.execute("SELECT count(*), sum(gross_amount) FROM fct_orders").fetchall()[0]
        late_kpi = con.execute(
            "SELECT sum(orders), sum(gmv) FROM kpi_daily WHERE date = ? AND source = 'pos_transactions'",
            [LATE_DAY],
        ).fetchall()[0]
    assert after == (before[0] + 1, pytest.approx(before[1] + 42.0))
    assert late_kpi == (1, 42.0)
