"""An increment's blocking: the combinations it creates are looked up, not those its people held."""

from pathlib import Path

import polars as pl
import pytest

from assets.identity.graph_lookups import DuckDBLookups
from tests.identity.helpers import StagedWarehouse
from tests.identity.test_incremental import incremental_config
from tests.identity.test_matching import population, store_rows
from tests.identity.test_noise_kinds import name_only_receipt, person, presence_rows

NAME_AND_VISIT = ("person_name", "visit")


@pytest.fixture
def looked_up(monkeypatch) -> list[pl.DataFrame]:
    """The (person_name, visit) combinations each incremental run asks the store about."""
    asked: list[pl.DataFrame] = []
    original = DuckDBLookups.block_partners

    none = pl.DataFrame(schema=dict.fromkeys(NAME_AND_VISIT, pl.String))

    def spy(self, combos):
        asked.append(combos.get(NAME_AND_VISIT, none))
        return original(self, combos)

    monkeypatch.setattr(DuckDBLookups, "block_partners", spy)
    return asked


def test_an_increment_joins_a_name_only_receipt_to_the_phone_seen_in_its_store_slot(tmp_path: Path):
    warehouse = StagedWarehouse(tmp_path / "warehouse.duckdb")
    warehouse.add(presence_rows())
    assert warehouse.resolve(incremental_config()).mode == "full"
    warehouse.add(name_only_receipt("receipt", "S009@2026-05-02 14:15", 40))
    warehouse.add(name_only_receipt("elsewhen", "S009@2026-05-02 16:00", 41))
    assert warehouse.resolve(incremental_config()).mode == "incremental"
    found = warehouse.ids()
    assert found["pos/receipt"] == found["crm/acct"] != found["crm/homonym"]
    assert found["pos/elsewhen"] not in (found["crm/acct"], found["crm/homonym"])


def test_a_returning_device_looks_up_its_new_visit_and_not_its_old_ones(tmp_path: Path, looked_up):
    """The beacon sees the phone again: only the new slot with the person's name is a new
    combination; its two old slots were looked up when they first appeared."""
    warehouse = StagedWarehouse(tmp_path / "warehouse.duckdb")
    warehouse.add(presence_rows())
    assert warehouse.resolve(incremental_config()).mode == "full"
    warehouse.add([("beacon", "phone", "actor", "visit", "", "S009@2026-05-09 10:00", 200)])
    outcome = warehouse.resolve(incremental_config())
    assert outcome.mode == "incremental" and outcome.resolution.stats["changed_nodes"] == 1
    asked = set(pl.concat(looked_up).iter_rows())
    assert [visit for _, visit in asked] == ["s009@2026-05-09 10:00"]  # keys as normalised


def test_a_returning_device_keeps_its_stored_visits_and_they_still_count(tmp_path: Path):
    """The beacon's old visits are not read again, yet they stay stored with it, it is still first
    seen when it was, and a name-only receipt in one of their slots finds its person — as a full
    rebuild would."""
    warehouse = StagedWarehouse(tmp_path / "warehouse.duckdb")
    warehouse.add(presence_rows() + [("beacon", "phone", "actor", "visit", "", "S009@2026-05-02 13:45", 29)])
    assert warehouse.resolve(incremental_config()).mode == "full"
    first_seen = beacon(warehouse)["observed_at"]
    warehouse.add([("beacon", "phone", "actor", "visit", "", "S009@2026-05-09 10:00", 200)])
    warehouse.add(name_only_receipt("receipt", "S009@2026-05-02 14:15", 201))
    assert warehouse.resolve(incremental_config()).mode == "incremental"
    visits = warehouse.table("node_keys").filter(
        (pl.col("record_id") == "phone") & (pl.col("attribute_kind") == "visit")
    )
    assert visits.height == 4 and visits.get_column("key").n_unique() == 4
    assert beacon(warehouse)["observed_at"] == first_seen
    found = warehouse.ids()
    assert found["pos/receipt"] == found["crm/acct"] != found["crm/homonym"]
    assert warehouse.resolve(incremental_config(), full=True).mode == "full"
    assert warehouse.ids() == found


def beacon(warehouse: StagedWarehouse) -> dict:
    return warehouse.table("resolved_records").filter(pl.col("record_id") == "phone").row(0, named=True)


def test_a_merge_makes_the_combinations_across_the_two_people_new(tmp_path: Path):
    """One stored person holds the name, another the store; a walk-in receipt with both matched
    neither. A record carrying both people's identifiers joins them: the name and the store are
    old, their combination is new, and the walk-in now joins — as a full rebuild would."""
    people = population(400)
    _, name, store = people[0]
    warehouse = StagedWarehouse(tmp_path / "warehouse.duckdb")
    warehouse.add(
        store_rows(people[1:])
        + person("named", member_id="M-NAMED", person_name=name, hours=60)
        + person("shopper", mobile="13912345678", store=store, hours=61)
        + [
            ("pos", "walkin", "record", kind, "", value, 62)
            for kind, value in (("person_name", name), ("store", store))
        ]
    )
    assert warehouse.resolve(incremental_config()).mode == "full"
    alone = warehouse.ids()
    assert alone["pos/walkin"] not in (alone["crm/named"], alone["crm/shopper"])
    warehouse.add(person("both", member_id="M-NAMED", mobile="13912345678", hours=90))
    assert warehouse.resolve(incremental_config()).mode == "incremental"
    found = warehouse.ids()
    assert found["crm/both"] == found["crm/named"] == found["crm/shopper"] == found["pos/walkin"]
    assert warehouse.resolve(incremental_config(), full=True).mode == "full"
    assert warehouse.ids()["pos/walkin"] == warehouse.ids()["crm/named"]
