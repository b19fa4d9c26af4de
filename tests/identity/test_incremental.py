"""Incremental identity runs: only what changed is linked, and the result is what a full rebuild gives."""

import dataclasses
import random
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from assets.identity.incremental import _unit_updates
from assets.identity.settings import IdentityConfig, IncrementalConfig, identity_config
from tests.identity.helpers import StagedWarehouse
from tests.identity.test_matching import population, store_rows
from tests.identity.test_noise_kinds import background, family_phone_rows, person
from tests.identity.test_stable_ids import BASE


def incremental_config(**changes) -> IdentityConfig:
    """The shipped config, with incremental runs allowed however much of a tiny graph changes."""
    return dataclasses.replace(
        identity_config(), incremental=IncrementalConfig(max_changed_share=1.0), **changes
    )


@pytest.fixture
def warehouse(tmp_path: Path) -> StagedWarehouse:
    return StagedWarehouse(tmp_path / "warehouse.duckdb")


def people_size(warehouse: StagedWarehouse, unified_id: str) -> int:
    return warehouse.table("resolved_records").filter(pl.col("unified_id") == unified_id).height


def partition(ids: dict[str, str | None]) -> set[frozenset[str]]:
    clusters: dict[str, set[str]] = {}
    for record, uid in ids.items():
        clusters.setdefault(uid or record, set()).add(record)
    return {frozenset(c) for c in clusters.values()}


def test_new_records_join_the_people_holding_their_identifiers_and_nobody_else_is_rewritten(warehouse):
    config = incremental_config()
    warehouse.add(BASE)
    assert warehouse.resolve(config).mode == "full"
    before_ids, before_rows = warehouse.ids(), warehouse.table("resolved_records")
    warehouse.add(
        [
            ("shop", "a3", "record", "email", "", " A@X.cn", 30),
            ("shop", "d1", "record", "email", "", "d@x.cn", 30),
        ]
    )
    outcome = warehouse.resolve(config)
    assert outcome.mode == "incremental" and outcome.reason is None
    after = warehouse.ids()
    assert after["shop/a3"] == before_ids["shop/a1"]
    assert after["shop/d1"] not in before_ids.values()
    assert {k: v for k, v in after.items() if k in before_ids} == before_ids
    # people the new records did not touch keep their rows byte for byte
    untouched = before_rows.filter(pl.col("record_id").is_in(["b1", "b2", "c1"]))
    kept = warehouse.table("resolved_records").join(
        untouched, on=untouched.columns, how="semi", nulls_equal=True
    )
    assert kept.height == 3
    new = warehouse.table("resolved_records").filter(pl.col("record_id") == "a3").row(0, named=True)
    assert (
        new["method"],
        new["rule"],
        new["first_linked_run"],
        people_size(warehouse, new["unified_id"]),
    ) == ("deterministic", "email", "run-2", 3)
    assert outcome.resolution.stats["changed_nodes"] == 2
    assert warehouse.table("state").get_column("mode").to_list() == ["full", "incremental"]


def test_a_run_with_nothing_new_rewrites_nothing(warehouse):
    config = incremental_config()
    warehouse.add(BASE)
    warehouse.resolve(config)
    before = {t: warehouse.table(t) for t in ("resolved_records", "links", "nodes", "node_keys")}
    outcome = warehouse.resolve(config)
    assert outcome.mode == "incremental" and outcome.resolution.stats["rewritten_nodes"] == 0
    for name, table in before.items():
        assert warehouse.table(name).sort(table.columns).equals(table.sort(table.columns)), name


def test_a_new_record_bridging_two_people_merges_them_under_the_oldest_id_with_history(warehouse):
    config = incremental_config()
    warehouse.add(BASE)
    warehouse.resolve(config)
    before = warehouse.ids()
    warehouse.add(
        [
            ("shop", "x1", "record", "email", "", "b@x.cn", 30),
            ("shop", "x1", "record", "device_id", "", "DEV9", 30),
            ("shop", "x2", "record", "email", "", "c@x.cn", 31),
            ("shop", "x2", "record", "device_id", "", "DEV9", 31),
        ]
    )
    assert warehouse.resolve(config).mode == "incremental"
    after = warehouse.ids()
    assert after["shop/c1"] == after["shop/x1"] == before["shop/b1"]
    history = warehouse.table("history").row(0, named=True)
    assert (history["event"], history["unified_id"], history["other_unified_id"]) == (
        "merge",
        before["shop/b1"],
        before["shop/c1"],
    )
    # the earlier links of the absorbed id follow it
    assert set(warehouse.table("links").get_column("unified_id")) <= set(after.values())
    c1 = warehouse.table("resolved_records").filter(pl.col("record_id") == "c1").row(0, named=True)
    assert (c1["method"], c1["rule"], people_size(warehouse, c1["unified_id"])) == (
        "deterministic",
        "email",
        5,
    )
    assert_counts_its_people(warehouse)


def test_guards_hold_in_an_increment(warehouse):
    """A placeholder phone never links; a phone that turns up with many member cards is shared."""
    config = incremental_config()
    warehouse.add(
        [
            ("pos", "m1", "record", "member_id", "", "M1", 1),
            ("pos", "m1", "record", "mobile", "", "13912345678", 1),
            ("pos", "m2", "record", "member_id", "", "M2", 2),
        ]
    )
    warehouse.resolve(config)
    desk = [("pos", f"z{i}", "record", "member_id", "", f"MZ{i}", 30) for i in range(4)]
    desk += [("pos", f"z{i}", "record", "mobile", "", "139-1234-5678", 30) for i in range(4)]
    placeholder = [
        ("pos", p, "record", kind, "", value, 31)
        for p, kind, value in (
            ("p1", "member_id", "M2"),
            ("p1", "mobile", "13800000000"),
            ("p2", "member_id", "MP2"),
            ("p2", "mobile", "13800000000"),
        )
    ]
    warehouse.add(desk + placeholder)
    outcome = warehouse.resolve(config)
    assert outcome.mode == "incremental"
    found = warehouse.ids()
    assert len({found[f"pos/z{i}"] for i in range(4)} | {found["pos/m1"]}) == 5
    assert found["pos/p1"] == found["pos/m2"] != found["pos/p2"]
    guarded = warehouse.table("guarded_values").select("attribute_kind", "value", "guard").rows()
    assert ("mobile", "13912345678", "shared_identifier") in guarded
    assert ("mobile", "13800000000", "blocked_value") in guarded
    assert outcome.resolution.stats["new_shared_identifiers"] == 1


def test_conflicting_cards_never_merge_in_an_increment(warehouse):
    """A family phone: the son's new receipt carries his own card, so he does not join his mother."""
    config = incremental_config()
    warehouse.add(
        [
            ("pos", "mum", "record", "member_id", "", "M-MUM", 1),
            ("pos", "mum", "record", "mobile", "", "13912345678", 1),
        ]
    )
    warehouse.resolve(config)
    warehouse.add(
        [
            ("pos", "son", "record", "member_id", "", "M-SON", 30),
            ("pos", "son", "record", "mobile", "", "13912345678", 30),
        ]
    )
    assert warehouse.resolve(config).mode == "incremental"
    found = warehouse.ids()
    assert found["pos/son"] != found["pos/mum"]


def test_an_actor_gaining_an_identifier_is_linked_again(warehouse):
    config = incremental_config()
    warehouse.add(
        [
            ("shop", "o1", "record", "mobile", "", "13912345678", 1),
            ("app", "dev-1", "actor", "device_id", "", "DEV-A", 2),
        ]
    )
    warehouse.resolve(config)
    before = warehouse.ids()
    warehouse.add([("app", "dev-1", "actor", "mobile", "", "+86 139 1234 5678", 30)])
    outcome = warehouse.resolve(config)
    assert outcome.mode == "incremental" and outcome.resolution.stats["changed_nodes"] == 1
    actor = warehouse.table("resolved_records").filter(pl.col("record_id") == "dev-1").row(0, named=True)
    assert actor["unified_id"] == before["shop/o1"]


def test_a_receipt_with_only_a_name_is_matched_incrementally_with_the_stored_model(warehouse):
    config = incremental_config()
    people = population(400)
    warehouse.add(store_rows(people))
    warehouse.resolve(config)
    pid, name, store = people[0]
    other_store = next(s for s in (f"S{i:03d}" for i in range(12)) if s != store)
    warehouse.add(
        [
            ("pos", "walkin", "record", "person_name", "", name.replace("王", "汪"), 50),
            ("pos", "walkin", "record", "store", "", store, 50),
            ("pos", "elsewhere", "record", "person_name", "", name, 51),
            ("pos", "elsewhere", "record", "store", "", other_store, 51),
        ]
    )
    outcome = warehouse.resolve(config)
    assert outcome.mode == "incremental"
    found = warehouse.ids()
    assert found["pos/walkin"] == found[f"pos/{pid}-card0"]
    assert found["pos/elsewhere"] != found[f"pos/{pid}-card0"]
    walkin = warehouse.table("resolved_records").filter(pl.col("record_id") == "walkin").row(0, named=True)
    assert walkin["method"] == "probabilistic" and 0.5 <= walkin["confidence"] <= 1
    link = warehouse.table("links").filter(pl.col("method") == "probabilistic").row(0, named=True)
    assert {"person_name", "store"} <= set(
        pl.Series([link["evidence"]]).str.json_decode().struct.unnest().columns
    )


def test_a_stored_fragment_matching_two_people_stays_ambiguous_when_one_of_them_changes(warehouse):
    """A walk-in receipt naming 王伟 at a store where two members named 王伟 shop was left alone by
    the full run; a new receipt of one of the members must not make the walk-in theirs."""
    config = incremental_config()
    people = population(400)
    pid, name, store = people[0]
    warehouse.add(
        store_rows(people)
        + [
            ("pos", "twin-card", "record", "member_id", "", "MTWIN", 60),
            ("pos", "twin-card", "record", "person_name", "", name, 60),
            ("pos", "twin-card", "record", "store", "", store, 60),
            ("pos", "walkin", "record", "person_name", "", name, 61),
            ("pos", "walkin", "record", "store", "", store, 61),
        ]
    )
    warehouse.resolve(config)
    alone = warehouse.ids()["pos/walkin"]
    assert alone not in (warehouse.ids()[f"pos/{pid}-card0"], warehouse.ids()["pos/twin-card"])
    warehouse.add(
        [
            ("pos", f"{pid}-card9", "record", "member_id", "", f"M{pid}", 90),
            ("pos", f"{pid}-card9", "record", "store", "", store, 90),
        ]
    )
    assert warehouse.resolve(config).mode == "incremental"
    found = warehouse.ids()
    assert found[f"pos/{pid}-card9"] == found[f"pos/{pid}-card0"]
    assert found["pos/walkin"] == alone


def mixed_population(n: int, family_phones: bool, seed: int = 3) -> list[tuple]:
    """People seen over 40 days in shops under varying identifiers — mobiles in different
    notations, a placeholder phone now and then, and (optionally) every 17th person sharing the
    previous one's phone."""
    rng = random.Random(seed)
    rows = []
    for i, (pid, name, store) in enumerate(population(n, seed)):
        mobile = f"139{i - 1 if family_phones and i % 17 == 0 else i:08d}"
        for k in range(rng.randint(1, 4)):
            rid, hour = f"{pid}-{k}", rng.randrange(40 * 24)
            kinds = rng.sample(
                ["mobile", "email", "member_id", "person_name", "wechat_id"], rng.randint(1, 3)
            )
            values = {
                "mobile": rng.choice([mobile, f"+86 {mobile[:3]} {mobile[3:7]} {mobile[7:]}"]),
                "email": f"{pid.lower()}@mail.cn",
                "member_id": f"M{pid}",
                "person_name": name,
                "wechat_id": f"wxid_{pid.lower()}",
            }
            rows += [("shop", rid, "record", kind, "", values[kind], hour) for kind in kinds]
            rows.append(("shop", rid, "record", "store", "", store, hour))
            if rng.random() < 0.05:
                rows.append(("shop", rid, "record", "mobile", "", "13800000000", hour))
    return rows


def assert_counts_its_people(warehouse: StagedWarehouse) -> None:
    """The state's count of unified ids (the next increment's name-frequency denominator), kept
    by adding fresh ids and removing merged ones, is the graph's."""
    counted = warehouse.table("state").get_column("users").to_list()[-1]
    assert counted == warehouse.table("resolved_records").get_column("unified_id").drop_nulls().n_unique()


def incremental_and_rebuilt(tmp_path: Path, rows: list[tuple]) -> tuple[dict, dict]:
    """Unified ids after the last two days arrive as an increment, and after a full rebuild."""
    config = incremental_config()
    cutoff = 38 * 24
    incremental = StagedWarehouse(tmp_path / "incremental.duckdb")
    incremental.add([r for r in rows if r[6] < cutoff])
    incremental.resolve(config)
    incremental.add([r for r in rows if r[6] >= cutoff])
    outcome = incremental.resolve(config)
    assert outcome.mode == "incremental" and outcome.resolution.stats["changed_nodes"] > 20
    assert_counts_its_people(incremental)
    rebuilt = StagedWarehouse(tmp_path / "full.duckdb")
    rebuilt.add(rows)
    assert rebuilt.resolve(config).mode == "full"
    return incremental.ids(), rebuilt.ids()


def test_an_incremental_run_gives_the_clusters_of_a_full_rebuild(tmp_path: Path):
    incremental, rebuilt = incremental_and_rebuilt(tmp_path, mixed_population(600, family_phones=False))
    assert partition(incremental) == partition(rebuilt)


def test_with_family_phones_an_increment_agrees_with_a_full_rebuild_on_nearly_every_record(tmp_path: Path):
    """A record holding only a shared family phone goes, in a full rebuild, to whichever of the two
    people is larger at the time; an increment never moves stored records between people."""
    incremental, rebuilt = incremental_and_rebuilt(tmp_path, mixed_population(600, family_phones=True))
    same = partition(incremental) & partition(rebuilt)
    assert sum(len(c) for c in same) / len(rebuilt) >= 0.99


def test_an_increment_gives_a_family_phone_receipt_to_the_holder_seen_at_its_store(warehouse):
    """As a full run does (test_noise_kinds): stored people are whole units, their stores counted."""
    warehouse.add(background(60) + family_phone_rows())
    assert warehouse.resolve(incremental_config()).mode == "full"
    warehouse.add(person("phone-at-S002", mobile="13755556666", store="S002", hours=30))
    warehouse.add(person("phone-at-S001", mobile="13755556666", store="S001", hours=31))
    assert warehouse.resolve(incremental_config()).mode == "incremental"
    found = warehouse.ids()
    assert found["crm/phone-at-S002"] == found["crm/child0"] != found["crm/parent0"]
    assert found["crm/phone-at-S001"] == found["crm/parent0"]


def test_a_full_rebuild_runs_when_the_stored_graph_cannot_be_trusted(warehouse, monkeypatch):
    config = incremental_config()
    warehouse.add(BASE)
    assert warehouse.resolve(config).reason.startswith("no identity graph yet")
    assert warehouse.resolve(config, full=True).reason == "requested"
    # key ids are DuckDB hashes, which a DuckDB upgrade may change
    monkeypatch.setattr("duckdb.__version__", "0.0.0-other")
    assert "DuckDB" in warehouse.resolve(config).reason
    monkeypatch.undo()
    changed = dataclasses.replace(config, max_partner_values=config.max_partner_values + 1)
    assert "config" in warehouse.resolve(changed).reason
    assert "older than" in warehouse.resolve(changed, days=30).reason
    warehouse.con.execute("DELETE FROM staging.stg_identity_records WHERE record_id = 'c1'")
    warehouse.con.execute("DELETE FROM staging.stg_identity_attributes WHERE record_id = 'c1'")
    assert "disappeared" in warehouse.resolve(changed, days=30).reason
    warehouse.add([("shop", f"n{i}", "record", "email", "", f"n{i}@x.cn", 40) for i in range(4)])
    strict = dataclasses.replace(changed, incremental=IncrementalConfig(max_changed_share=0.5))
    assert warehouse.resolve(strict, days=30).mode == "incremental"
    warehouse.add([("shop", f"m{i}", "record", "email", "", f"m{i}@x.cn", 41) for i in range(20)])
    assert "changed" in warehouse.resolve(strict, days=30).reason
    assert warehouse.table("state").get_column("mode").to_list()[-2:] == ["incremental", "full"]


def test_a_stored_person_is_relabelled_only_when_they_were_one_record_alone():
    """Records of one person may carry different methods (an actor linked apart from a card
    holder's receipts); which one the summary picks must not decide whether they are relabelled."""
    stored = pl.DataFrame(
        {
            "unified_id": ["u_alone", "u_many"],
            "size": [1, 3],
            "method": ["singleton", "singleton"],
            "id_created_at": [datetime(2026, 1, 1)] * 2,
            "element": [-1, -2],
            "det": [-1, -2],
            "cluster": [7, 8],
        }
    )
    ids = pl.DataFrame(
        {"cluster": [7, 8], "unified_id": ["u_alone", "u_many"], "id_created_at": [datetime(2026, 1, 1)] * 2}
    )
    sizes = pl.DataFrame({"cluster": [7, 8], "cluster_size": [2, 4]})
    scores = (
        pl.DataFrame({"node": [-1, -2], "rule_det": ["mobile", "mobile"]}),
        pl.DataFrame(schema={"det": pl.Int64, "absorbed_score": pl.Float64}),
        pl.DataFrame(schema={"det": pl.Int64, "match_score": pl.Float64}),
    )
    updates = _unit_updates(stored, ids, sizes, scores)
    assert updates.select("old_id", "method", "rule").rows() == [("u_alone", "deterministic", "mobile")]
