"""Re-running is safe: the same partition twice gives identical marts, a late file re-materialises
its partition through the sensor, and an analyst holding marts.duckdb open never blocks a run nor
sees half of one."""

import json
import subprocess
import sys
from datetime import date

import dagster as dg
import duckdb
import pytest

from pipelines.automation import new_landing_files
from pipelines.jobs import RANGE_END_TAG, RANGE_START_TAG
from pipelines.runner import run_pipeline
from tests.bad_inputs import BAD_INPUTS, LATE_DAY
from tests.e2e.mart_checksums import mart_checksums
from tests.landing_builder import DAY, build_small_landing

pytestmark = pytest.mark.slow

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
        self.process = subprocess.Popen([sys.executable, "-c", ANALYST, str(path)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)

    def read(self) -> list:
        self.process.stdin.write("read\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> int:
        self.process.stdin.write("quit\n")
        self.process.stdin.flush()
        return self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def first_run(module_data_dir):
    build_small_landing(module_data_dir.landing)
    assert run_pipeline().success
    return module_data_dir, mart_checksums(module_data_dir)


def test_running_a_partition_again_gives_identical_marts_and_exports(first_run):
    paths, before = first_run
    assert len([k for k in before if k.startswith("export:")]) >= 9
    day = date.fromisoformat(DAY)
    assert run_pipeline(day, day).success
    assert mart_checksums(paths) == before


def test_a_late_file_reruns_its_partition_while_an_analyst_keeps_reading(first_run):
    paths, _ = first_run
    sensor_cursor = json.dumps({"mtime_ns": max(f.stat().st_mtime_ns for f in paths.landing.rglob("*") if f.is_file())})
    late = next(c for c in BAD_INPUTS if c.kind == "late file for an old partition")
    late.write(paths.landing)

    analyst = Analyst(paths.analyst_db)
    before = analyst.read()
    with dg.build_sensor_context(cursor=sensor_cursor) as context:
        result = new_landing_files(context)
    [request] = result.run_requests
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (LATE_DAY, LATE_DAY)
    run = run_pipeline(date.fromisoformat(request.tags[RANGE_START_TAG]),
                       date.fromisoformat(request.tags[RANGE_END_TAG]))
    during = analyst.read()
    assert analyst.close() == 0
    assert run.success
    assert during == before  # the open connection still reads the previous, complete file

    with duckdb.connect(str(paths.analyst_db), read_only=True) as con:
        after = con.execute("SELECT count(*), sum(gross_amount) FROM fct_orders").fetchall()[0]
        late_kpi = con.execute("SELECT sum(orders), sum(gmv) FROM kpi_daily WHERE date = ? AND source = "
                               "'pos_transactions'", [LATE_DAY]).fetchall()[0]
    assert after == (before[0] + 1, pytest.approx(before[1] + 42.0))
    assert late_kpi == (1, 42.0)
