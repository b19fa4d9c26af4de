"""Daily runs stage only what was delivered since the last build, and give the marts a full build
gives: a landing zone loaded in two runs (the second bringing new days, and partners re-sending
records already loaded, with other values), then rebuilt with `cdp run --full`, leaves every mart,
the analysts' database and every export unchanged."""

from datetime import date
from pathlib import Path

import duckdb
import pytest

from assets.common.paths import DataPaths
from generator import generate
from pipelines.runner import run_pipeline
from tests.e2e.mart_checksums import mart_checksums

pytestmark = pytest.mark.slow(seconds=90)
FIRST, SPLIT, LAST = date(2026, 6, 1), date(2026, 6, 3), date(2026, 6, 5)
RESENT = {  # feed → (file of the first day, the column whose value the partner changed)
    "ecommerce_orders": ("jd_orders_2026-06-01.csv", "amount"),
    "device_events": ("devices_2026-06-01.csv", "dwell_seconds"),
    "consent_events": ("consents_2026-06-01.csv", "decision"),
}
CHANGED = {"amount": "1.00", "dwell_seconds": "1", "decision": "granted"}
STAGED = {"stg_orders": "order_id", "stg_events": "event_id", "stg_consents": "consent_id"}


def resent_file(landing: Path, feed: str) -> Path:
    name = RESENT[feed][0]
    return landing / feed / str(LAST) / name.replace(str(FIRST), f"{LAST}_resend")


def resend(landing: Path) -> None:
    """Each RESENT file's first two records again on the last day, the first with another value in
    its column: a re-sent record id is a duplicate, and its first delivery stays."""
    for feed, (name, column) in RESENT.items():
        header, first, second, *_ = (landing / feed / str(FIRST) / name).read_text("utf-8-sig").splitlines()
        at = header.split(",").index(column)
        values = first.split(",")
        values[at] = CHANGED[column] if values[at] != CHANGED[column] else "withdrawn"
        resent_file(landing, feed).write_text("\n".join([header, ",".join(values), second]) + "\n", "utf-8")


def staged(paths: DataPaths) -> dict[str, list[tuple]]:
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        return {
            model: con.execute(f"SELECT * EXCLUDE (_loaded_at) FROM staging.{model} ORDER BY ALL").fetchall()
            for model in STAGED
        }


def builds(paths: DataPaths) -> list[tuple]:
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        return con.execute("SELECT full_build, reason FROM raw._dbt_builds ORDER BY built_at").fetchall()


@pytest.fixture(scope="module")
def daily(module_data_dir: DataPaths) -> DataPaths:
    generate(people=250, seed=11, out=module_data_dir.landing, start=FIRST, end=LAST)
    resend(module_data_dir.landing)
    assert run_pipeline(FIRST, SPLIT).success
    assert run_pipeline(date(2026, 6, 4), LAST).success
    return module_data_dir


def test_the_second_run_stages_only_new_deliveries_and_keeps_first_deliveries(daily: DataPaths) -> None:
    assert builds(daily) == [(True, "no earlier build on record"), (False, "")]
    rows = staged(daily)
    for model in STAGED:
        keys = [row[:2] for row in rows[model]]  # (source, record id)
        assert len(keys) == len(set(keys)) > 0, model
    with duckdb.connect(str(daily.warehouse), read_only=True) as con:
        (orders_resent,) = con.execute(
            "SELECT count(*) FROM raw._files WHERE path LIKE '%_resend.csv' AND rows_loaded = 2"
        ).fetchone()
        [(amount,)] = con.execute(
            "SELECT gross_amount FROM staging.stg_orders WHERE order_id = ?",
            [resent_file(daily.landing, "ecommerce_orders").read_text("utf-8").splitlines()[1].split(",")[0]],
        ).fetchall()
    assert orders_resent == len(RESENT)  # the re-sent records were loaded into raw…
    assert amount != 1.0  # …and the first delivery's amount stayed


def test_a_full_rebuild_gives_the_same_staging_marts_and_exports(daily: DataPaths) -> None:
    before, staged_before = mart_checksums(daily), staged(daily)
    recorded = builds(daily)
    assert run_pipeline(FIRST, LAST, selection=["staging/stg_orders"]).success
    assert builds(daily) == recorded  # a part of the step cannot stand for the whole
    assert run_pipeline(FIRST, LAST, full_staging=True).success
    assert builds(daily)[-1] == (True, "a full build was asked for")
    assert staged(daily) == staged_before
    assert len(before) > 20
    assert mart_checksums(daily) == before
