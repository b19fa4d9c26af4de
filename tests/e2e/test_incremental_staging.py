"""Daily runs build only what changed since the last build, and give the marts a full build gives:
a landing zone loaded in two runs (the second bringing new days, and partners re-sending records
already loaded, with other values; identity links the new days as an increment, which moves some
older records to other people, so the facts replace rows staged or re-resolved since), then rebuilt
with `cdp run --full`, leaves every mart, the analysts' database and every export unchanged.

The deployment is the sample one with identity's ``max_changed_share`` raised: two days of 250
people are a large share of their graph, where a real day is about 1 % and stays an increment."""

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.common.paths import CONFIG_DIR, DataPaths
from generator import generate
from tests.e2e.cdp_process import cdp, python
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
    its column: a re-sent record id is a duplicate, and its first delivery stays. The device file's
    second line is ``earlier_sighting``."""
    for feed, (name, column) in RESENT.items():
        header, first, second, *_ = (landing / feed / str(FIRST) / name).read_text("utf-8-sig").splitlines()
        at = header.split(",").index(column)
        values = first.split(",")
        values[at] = CHANGED[column] if values[at] != CHANGED[column] else "withdrawn"
        if feed == "device_events":
            second = earlier_sighting(landing, name)
        resent_file(landing, feed).write_text("\n".join([header, ",".join(values), second]) + "\n", "utf-8")


def earlier_sighting(landing: Path, name: str) -> str:
    """The first sighting of a device the last days never see, re-sent a minute earlier in the same
    15-minute slot: the event stays as first delivered, but the device was seen earlier (identity
    attributes keep every delivery's sighting), with no new attribute value to give it away."""
    later = "".join(
        file.read_text("utf-8-sig")
        for day in ("2026-06-04", str(LAST))
        for file in (landing / "device_events" / day).iterdir()
        if not file.name.endswith("_resend.csv")
    )
    header, *rows = (landing / "device_events" / str(FIRST) / name).read_text("utf-8-sig").splitlines()
    columns = header.split(",")
    at, device = columns.index("event_time"), columns.index("device_id")
    for row in rows:
        values = row.split(",")
        seen = datetime.fromisoformat(values[at])
        if (
            values[device]
            and values[device] not in later
            and seen.minute % 15
            and not any(r.split(",")[device] == values[device] for r in rows[: rows.index(row)])
        ):
            values[at] = str(seen - timedelta(minutes=1))
            return ",".join(values)
    raise AssertionError("no device seen only on the first days")


def staged(paths: DataPaths) -> dict[str, list[tuple]]:
    """Every incremental staging model's rows; identity attributes with when each was first loaded
    (identity links what arrived since its last run by it)."""
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        rows = {
            model: con.execute(f"SELECT * EXCLUDE (_loaded_at) FROM staging.{model} ORDER BY ALL").fetchall()
            for model in STAGED
        }
        rows["stg_identity_attributes"] = con.execute(
            "SELECT * FROM staging.stg_identity_attributes ORDER BY ALL"
        ).fetchall()
    return rows


def builds(paths: DataPaths, step: str = "dbt_staging") -> list[tuple]:
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        return con.execute(
            "SELECT full_build, reason FROM raw._dbt_builds WHERE step = ? ORDER BY built_at", [step]
        ).fetchall()


def run(root: Path, *args: str) -> None:
    out = cdp(root, "run", *args)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]


def unified_ids(paths: DataPaths) -> dict[tuple[str, str], str | None]:
    with duckdb.connect(str(paths.warehouse), read_only=True) as con:
        return {
            (s, e): u
            for s, e, u in con.execute("SELECT source, event_id, unified_id FROM marts.fct_events").fetchall()
        }


def how_built(root: Path, key: list[str]) -> list[str]:
    """The ``build`` metadata of the asset's materialisations in the deployment's Dagster instance."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(root / "dagster_home"))
        with dg.DagsterInstance.get() as instance:
            records = instance.fetch_materializations(dg.AssetKey(key), limit=10, ascending=True).records
    return [r.asset_materialization.metadata["build"].value for r in records if r.asset_materialization]


def latest_metadata(root: Path, key: list[str]) -> dict:
    """The metadata of the asset's latest materialisation in the deployment's Dagster instance."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(root / "dagster_home"))
        with dg.DagsterInstance.get() as instance:
            event = instance.get_latest_materialization_event(dg.AssetKey(key))
    assert event is not None and event.asset_materialization is not None
    return {name: value.value for name, value in event.asset_materialization.metadata.items()}


def last_run_checks(root: Path) -> dict[str, bool]:
    """Whether each asset check of the deployment's latest run passed, by check name."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(root / "dagster_home"))
        with dg.DagsterInstance.get() as instance:
            [latest] = instance.get_runs(limit=1)
            records = instance.get_records_for_run(
                latest.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
            ).records
    evaluations = [r.event_log_entry.dagster_event.event_specific_data for r in records]
    return {e.check_name: e.passed for e in evaluations}


@dataclass(frozen=True)
class Daily:
    root: Path
    paths: DataPaths
    first_ids: dict[tuple[str, str], str | None]  # each event's unified id after the first run


@pytest.fixture(scope="module")
def daily(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daily]:
    root = tmp_path_factory.mktemp("daily")
    shutil.copytree(CONFIG_DIR, root / "config")
    identity = root / "config" / "identity.yaml"
    identity.write_text(
        re.sub(r"max_changed_share: *[0-9.]+", "max_changed_share: 1.0", identity.read_text("utf-8"))
    )
    paths = DataPaths(root / "data")
    generate(people=250, seed=11, out=paths.landing, start=FIRST, end=LAST)
    resend(paths.landing)
    run(root, "--from", str(FIRST), "--to", str(SPLIT))
    first_ids = unified_ids(paths)
    run(root, "--from", "2026-06-04", "--to", str(LAST))
    yield Daily(root, paths, first_ids)


def test_the_second_run_stages_only_new_deliveries_and_keeps_first_deliveries(daily: Daily) -> None:
    assert builds(daily.paths) == [(True, "no earlier build on record"), (False, "")]
    rows = staged(daily.paths)
    for model in STAGED:
        keys = [row[:2] for row in rows[model]]  # (source, record id)
        assert len(keys) == len(set(keys)) > 0, model
    with duckdb.connect(str(daily.paths.warehouse), read_only=True) as con:
        (orders_resent,) = con.execute(
            "SELECT count(*) FROM raw._files WHERE path LIKE '%_resend.csv' AND rows_loaded = 2"
        ).fetchone()
        [(amount,)] = con.execute(
            "SELECT gross_amount FROM staging.stg_orders WHERE order_id = ?",
            [
                resent_file(daily.paths.landing, "ecommerce_orders")
                .read_text("utf-8")
                .splitlines()[1]
                .split(",")[0]
            ],
        ).fetchall()
    assert orders_resent == len(RESENT)  # the re-sent records were loaded into raw…
    assert amount != 1.0  # …and the first delivery's amount stayed


def test_the_second_run_replaces_only_new_and_relinked_fact_rows(daily: Daily) -> None:
    with duckdb.connect(str(daily.paths.warehouse), read_only=True) as con:
        modes = [m for (m,) in con.execute("SELECT mode FROM identity.state ORDER BY resolved_at").fetchall()]
    assert modes == ["full", "incremental"]
    assert builds(daily.paths, "dbt_marts") == [(True, "no earlier build on record"), (False, "")]
    assert how_built(daily.root, ["marts", "fct_events"]) == [
        "full: no earlier build on record",
        "incremental: only what changed since the last build",
    ]  # what the UI shows on each materialisation
    now = unified_ids(daily.paths)
    relinked = {key for key, unified in daily.first_ids.items() if now[key] != unified}
    assert relinked  # the increment moved older events to other people: the facts followed
    assert len(now) > len(daily.first_ids)
    with duckdb.connect(str(daily.paths.warehouse), read_only=True) as con:
        day_of = {
            (s, e): str(d)
            for s, e, d in con.execute("SELECT source, event_id, event_date FROM marts.fct_events").fetchall()
        }
    changed_days = {day_of[key] for key in now if key in relinked or key not in daily.first_ids}
    exported = latest_metadata(daily.root, ["exports", "parquet"])["days_rewritten"]
    # the export rewrote exactly the days holding a new or re-linked event, and says so
    assert exported["fct_events"] == {"rewritten": len(changed_days), "held": len(set(day_of.values()))}


def test_a_full_rebuild_gives_the_same_staging_marts_and_exports(daily: Daily) -> None:
    before, staged_before = mart_checksums(daily.paths), staged(daily.paths)
    recorded = builds(daily.paths)
    run(daily.root, "--from", str(FIRST), "--to", str(LAST), "--select", "staging/stg_orders")
    assert builds(daily.paths) == recorded  # a part of the step cannot stand for the whole
    # every staging and fact model from all of raw, on the identity the increments built (a full
    # identity run re-resolves every record: its clusters may differ from an increment's by design)
    rebuilt = python(
        daily.root,
        "from datetime import date; from pipelines.runner import run_pipeline; "
        f"first, last = date({FIRST:%Y, %-m, %-d}), date({LAST:%Y, %-m, %-d}); "
        "assert run_pipeline(first, last, full_models=True).success",
    )
    assert rebuilt.returncode == 0, rebuilt.stdout[-3000:] + rebuilt.stderr[-3000:]
    assert builds(daily.paths)[-1] == (True, "a full build was asked for")
    assert builds(daily.paths, "dbt_marts")[-1] == (True, "a full build was asked for")
    assert staged(daily.paths) == staged_before
    assert len(before) > 20
    assert mart_checksums(daily.paths) == before


def test_the_second_run_tests_the_keys_it_wrote_in_every_kept_model(daily: Daily) -> None:
    """The uniqueness tests that count only the keys a build wrote (``written`` in the models' yml)
    still run, and pass, in an incremental run: each in the step that builds its model."""
    narrowed = [
        f"unique_combination_{model}_{keys}"
        for model, keys in [
            ("stg_events", "source__event_id"),
            ("stg_orders", "source__order_id"),
            ("fct_events", "source__event_id"),
            ("fct_orders", "source__order_id"),
            ("dim_users_snapshot", "as_of__unified_id"),
        ]
    ]
    checks = last_run_checks(daily.root)
    assert {name: checks.get(name) for name in narrowed} == dict.fromkeys(narrowed, True)
