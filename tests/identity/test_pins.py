"""Pinned decisions (config/identity.yaml ``pins``): a must_link pair always ends in one unified id,
a cannot_link pair never does, in a full run, a full rebuild and an increment; each is logged."""

import dataclasses
from pathlib import Path

import polars as pl
import pytest

from assets.common.configuration import ConfigError
from assets.identity.settings import IncrementalConfig, load_identity_config
from tests.identity.helpers import StagedWarehouse, ids, run

SHIPPED = Path(__file__).parents[2] / "config" / "identity.yaml"

# Two records sharing a mobile (one person by the rules); two sharing nothing; two whose national
# ids differ (two people by the conflict rules).
RECORDS = [
    ("crm", "c1", "record", "mobile", "", "13912345678", 1),
    ("crm", "c1", "record", "person_name", "", "张伟", 1),
    ("pos", "p1", "record", "mobile", "", "139 1234 5678", 2),
    ("pos", "p1", "record", "person_name", "", "张伟", 2),
    ("crm", "c2", "record", "email", "", "li@x.cn", 3),
    ("pos", "p2", "record", "mobile", "", "13711112222", 4),
    ("crm", "c3", "record", "national_id", "", "11010519491231002X", 5),
    ("pos", "p3", "record", "national_id", "", "110105198001010016", 6),
]
PINS = """
pins:
  cannot_link:
    - {a: {source: crm, record_id: c1}, b: {source: pos, record_id: p1}, note: "reviewed: two people"}
  must_link:
    - {a: {source: crm, record_id: c2}, b: {kind: mobile, value: "+86 137-1111-2222"}}
    - {a: {source: crm, record_id: c3}, b: {source: pos, record_id: p3}}
"""


def config_with(tmp_path: Path, pins: str, name: str = "identity.yaml"):
    path = tmp_path / name
    path.write_text(SHIPPED.read_text(encoding="utf-8") + pins, encoding="utf-8")
    return dataclasses.replace(
        load_identity_config(path), incremental=IncrementalConfig(max_changed_share=1.0)
    )


def test_without_pins_the_rules_decide(tmp_path):
    found = ids(run(RECORDS, config_with(tmp_path, "")))
    assert found["crm/c1"] == found["pos/p1"]
    assert found["crm/c2"] != found["pos/p2"] and found["crm/c3"] != found["pos/p3"]


def test_pins_hold_in_a_full_run_and_are_logged(tmp_path):
    result = run(RECORDS, config_with(tmp_path, PINS))
    found = ids(result)
    assert found["crm/c1"] != found["pos/p1"]
    assert found["crm/c2"] == found["pos/p2"]
    assert found["crm/c3"] == found["pos/p3"]  # a pin outweighs conflicting national ids
    pinned = result.links.filter(pl.col("method") == "pinned")
    assert sorted(pinned.select("record_id_a", "record_id_b").rows()) == [("c2", "p2"), ("c3", "p3")]
    assert set(pinned.get_column("rule")) == {"pin_must_link"}
    history = result.history.filter(pl.col("event").is_in(["must_link", "cannot_link"]))
    assert sorted(history.get_column("event").to_list()) == ["cannot_link", "must_link", "must_link"]
    cannot = history.filter(pl.col("event") == "cannot_link").row(0, named=True)
    assert cannot["record_keys"] == ["crm:c1", "pos:p1"] and "reviewed: two people" in cannot["reason"]
    assert all(r.endswith("holds") for r in history.get_column("reason"))
    assert "13711112222" not in " ".join(history.get_column("reason"))  # values never reach the history
    assert (result.stats["pins_applied"], result.stats["pins_not_holding"]) == (3, 0)
    assert result.stats["pins_with_a_side_not_found"] == 0
    typo = run(RECORDS, config_with(tmp_path, PINS.replace("record_id: p3", "record_id: p33"), "typo.yaml"))
    assert typo.stats["pins_with_a_side_not_found"] == 1


def test_a_cannot_link_pin_splits_a_cluster_that_was_one_person_with_history(tmp_path):
    first = run(RECORDS, config_with(tmp_path, ""))
    second = run(RECORDS, config_with(tmp_path, PINS), previous=first)
    before, after = ids(first), ids(second)
    assert after["crm/c1"] != after["pos/p1"]
    assert before["crm/c1"] in (after["crm/c1"], after["pos/p1"])
    assert "split" in second.history.get_column("event").to_list()


def test_pins_contradicting_each_other_are_reported_and_cannot_link_wins(tmp_path):
    pins = """
pins:
  must_link:
    - {a: {source: crm, record_id: c2}, b: {source: pos, record_id: p2}}
    - {a: {source: pos, record_id: p2}, b: {source: crm, record_id: c3}}
  cannot_link:
    - {a: {source: crm, record_id: c2}, b: {source: crm, record_id: c3}}
"""
    result = run(RECORDS, config_with(tmp_path, pins))
    found = ids(result)
    assert found["crm/c2"] != found["crm/c3"]
    assert result.stats["pins_not_holding"] == 1
    assert result.history.filter(pl.col("reason").str.contains("does NOT hold")).height == 1


def test_pins_survive_a_full_rebuild_and_an_increment(tmp_path):
    # one more must_link, to a record that does not exist yet
    config = config_with(
        tmp_path, PINS + "    - {a: {source: crm, record_id: c1}, b: {source: app, record_id: n1}}\n"
    )
    warehouse = StagedWarehouse(tmp_path / "warehouse.duckdb")
    warehouse.add(RECORDS)
    assert warehouse.resolve(config).mode == "full"
    assert warehouse.resolve(config, full=True).mode == "full"
    rebuilt = warehouse.ids()
    assert rebuilt["crm/c1"] != rebuilt["pos/p1"] and rebuilt["crm/c2"] == rebuilt["pos/p2"]
    # n1 shares nothing with c1 but is pinned to it; n2 holds the pinned mobile; n3 holds the mobile
    # c1 and p1 share, through which the rules alone would glue them back together
    warehouse.add(
        [
            ("app", "n1", "record", "email", "", "new@x.cn", 40),
            ("app", "n2", "record", "mobile", "", "13711112222", 41),
            ("app", "n3", "record", "mobile", "", "13912345678", 42),
        ]
    )
    outcome = warehouse.resolve(config)
    assert outcome.mode == "incremental"
    found = warehouse.ids()
    assert found["app/n1"] == found["crm/c1"] != found["pos/p1"]
    assert found["app/n2"] == found["crm/c2"] == found["pos/p2"]
    # the mobile is now held by two people equally, so n3 goes to neither (guards.owner_share)
    assert found["app/n3"] not in (found["crm/c1"], found["pos/p1"])
    assert found["crm/c3"] == found["pos/p3"]
    assert {k: v for k, v in found.items() if k in rebuilt} == rebuilt
    # the increment logs the pins naming its new records (c1 / p1 are not among them)
    events = warehouse.table("history").filter(pl.col("run_id") == "run-3", pl.col("event") == "must_link")
    assert sorted(events.get_column("record_keys").to_list()) == [["app:n1"], ["app:n2"]]
    assert all("applied to this run's records of side b" in r for r in events.get_column("reason"))


def test_an_identifier_pin_reaches_records_arriving_later(tmp_path):
    """Records holding the card and records holding the mobile stay two people, even when new
    records holding one each share an email."""
    pins = """
pins:
  cannot_link:
    - {a: {kind: member_id, value: "M-1"}, b: {kind: mobile, value: "13912345678"}}
"""
    arrivals = [
        ("pos", "m2", "record", "member_id", "", "M-1", 30),
        ("pos", "m2", "record", "email", "", "e@x.cn", 30),
        ("crm", "c2", "record", "mobile", "", "13912345678", 31),
        ("crm", "c2", "record", "email", "", "e@x.cn", 31),
    ]
    for pinned, expect_apart in (("", False), (pins, True)):
        config = config_with(tmp_path, pinned)
        warehouse = StagedWarehouse(tmp_path / f"warehouse{expect_apart}.duckdb")
        warehouse.add(
            [
                ("pos", "m1", "record", "member_id", "", "M-1", 1),
                ("crm", "c1", "record", "mobile", "", "13912345678", 2),
            ]
        )
        warehouse.resolve(config)
        warehouse.add(arrivals)
        assert warehouse.resolve(config).mode == "incremental"
        found = warehouse.ids()
        assert found["pos/m1"] == found["pos/m2"] and found["crm/c1"] == found["crm/c2"]
        assert (found["pos/m2"] != found["crm/c2"]) is expect_apart


def test_a_change_of_pins_rebuilds_in_full_and_says_why(tmp_path):
    warehouse = StagedWarehouse(tmp_path / "warehouse.duckdb")
    warehouse.add(RECORDS)
    warehouse.resolve(config_with(tmp_path, ""))
    outcome = warehouse.resolve(config_with(tmp_path, PINS, "pinned.yaml"))
    assert outcome.mode == "full" and "pinned decisions changed" in outcome.reason
    found = warehouse.ids()
    assert found["crm/c1"] != found["pos/p1"] and found["crm/c2"] == found["pos/p2"]
    assert warehouse.resolve(config_with(tmp_path, PINS, "again.yaml")).mode == "incremental"


@pytest.mark.parametrize(
    "pins, where, problem",
    [
        (
            "pins: {maybe_link: []}",
            "pins",
            "expected a mapping with must_link and/or cannot_link, got {'maybe_link': []}",
        ),
        (
            "pins: {must_link: [{a: {source: crm, record_id: c1}}]}",
            "pins.must_link[0]",
            "expected {a: side, b: side, note: text (optional)}, "
            "got {'a': {'source': 'crm', 'record_id': 'c1'}}",
        ),
        (
            "pins: {must_link: [{a: {source: crm}, b: {source: pos, record_id: p1}}]}",
            "pins.must_link[0].a",
            "expected {source, record_id} or {kind, value, namespace}, got {'source': 'crm'}",
        ),
        (
            "pins: {cannot_link: [{a: {kind: phone, value: '1'}, b: {source: pos, record_id: p1}}]}",
            "pins.cannot_link[0].a.kind",
            "'phone' is not a declared attribute kind",
        ),
        (
            "pins: {cannot_link: [{a: {kind: mobile, value: '12345'}, b: {source: pos, record_id: p1}}]}",
            "pins.cannot_link[0].a.value",
            "does not normalise to a mobile key (mobile)",
        ),
        (
            "pins: {cannot_link: [{a: {kind: mobile, value: '13800000000'}, "
            "b: {source: pos, record_id: p1}}]}",
            "pins.cannot_link[0].a.value",
            "is a placeholder in guards.blocked_values.mobile",
        ),
        (
            "pins: {must_link: [{a: {kind: openid, value: 'o1'}, b: {source: pos, record_id: p1}}]}",
            "pins.must_link[0].a.namespace",
            "'openid' needs a namespace (attribute_kinds.openid)",
        ),
        (
            "pins: {must_link: [{a: {source: crm, record_id: c1}, b: {source: crm, record_id: c1}}]}",
            "pins.must_link[0]",
            "a and b are the same record or identifier",
        ),
        (
            "pins:\n  must_link: [{a: {source: crm, record_id: c1}, b: {source: pos, record_id: p1}}]\n"
            "  cannot_link: [{b: {source: crm, record_id: c1}, a: {source: pos, record_id: p1}}]",
            "pins.cannot_link[0]",
            "contradicts pins.must_link[0]: the same two sides",
        ),
    ],
)
def test_pin_mistakes_say_file_line_and_key(tmp_path, pins, where, problem):
    path = tmp_path / "identity.yaml"
    path.write_text(SHIPPED.read_text(encoding="utf-8") + "\n" + pins + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_identity_config(path)
    assert str(error.value).startswith(f"{path}:") and str(error.value).endswith(f": {where}: {problem}")
    assert str(error.value).split(":")[1].isdigit()


@pytest.mark.parametrize(
    "pin, where, problem",
    [
        (
            "{a: {source: crm, record_id: [c1]}, b: {source: pos, record_id: p1}}",
            "pins.must_link[0].a.record_id",
            "must be text, got ['c1']",
        ),
        (
            "{a: {source: crm, record_id: c1}, b: {source: pos, record_id: p1}, note: [ticket, 41]}",
            "pins.must_link[0].note",
            "must be text, got ['ticket', 41]",
        ),
        (
            "{a: {kind: mobile, value: {number: '13912345678'}}, b: {source: pos, record_id: p1}}",
            "pins.must_link[0].a.value",
            "must be text, got {'number': '13912345678'}",
        ),
        (
            "{a: {kind: [mobile], value: '13912345678'}, b: {source: pos, record_id: p1}}",
            "pins.must_link[0].a.kind",
            "['mobile'] is not a declared attribute kind",
        ),
        (
            "{a: {kind: mobile, value: '13912345678', namespace: wx}, b: {source: pos, record_id: p1}}",
            "pins.must_link[0].a.namespace",
            "'mobile' takes no namespace (attribute_kinds.mobile)",
        ),
    ],
)
def test_the_values_of_a_pin_are_typed_at_their_line(tmp_path, pin, where, problem):
    """A side's record id, value or kind, and a note, that are no text (a list, a mapping) used to
    become their Python spelling or a bare TypeError; they are reported at their line."""
    text = SHIPPED.read_text(encoding="utf-8")
    assert text.count("  must_link: []") == 1
    path = tmp_path / "identity.yaml"
    path.write_text(text.replace("  must_link: []", f"  must_link: [{pin}]"), encoding="utf-8")
    line = next(i for i, row in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if pin in row)
    with pytest.raises(ConfigError) as error:
        load_identity_config(path)
    assert str(error.value) == f"{path}:{line}: {where}: {problem}"


def test_notes_and_the_order_of_pins_do_not_rebuild(tmp_path):
    warehouse = StagedWarehouse(tmp_path / "warehouse.duckdb")
    warehouse.add(RECORDS)
    warehouse.resolve(config_with(tmp_path, PINS))
    reordered = PINS.replace('note: "reviewed: two people"', 'note: "re-checked"').replace(
        """    - {a: {source: crm, record_id: c2}, b: {kind: mobile, value: "+86 137-1111-2222"}}
    - {a: {source: crm, record_id: c3}, b: {source: pos, record_id: p3}}""",
        """    - {a: {source: crm, record_id: c3}, b: {source: pos, record_id: p3}}
    - {a: {source: crm, record_id: c2}, b: {kind: mobile, value: "13711112222"}}""",
    )
    assert reordered.count("re-checked") == 1 and reordered.index("c3") < reordered.index("c2")
    assert warehouse.resolve(config_with(tmp_path, reordered, "reordered.yaml")).mode == "incremental"


def test_the_sides_of_a_cannot_link_do_not_make_an_identifier_shared(tmp_path):
    """With max_partner_values 1, two values of one kind behind a mobile make it a shared number;
    the two sides of a pin (x1 and x2 both hold the mobile) are no such values: the mobile is not
    refused as a merge key (x3, holding only it, still goes to neither: two people hold it equally)."""
    config = dataclasses.replace(
        config_with(
            tmp_path,
            """
pins:
  cannot_link:
    - {a: {source: crm, record_id: x1}, b: {source: crm, record_id: x2}}
""",
        ),
        max_partner_values=1,
    )
    result = run(
        [
            ("crm", "x1", "record", "email", "", "x1@x.cn", 1),
            ("crm", "x2", "record", "email", "", "x2@x.cn", 2),
            ("crm", "x1", "record", "mobile", "", "13912345678", 1),
            ("crm", "x2", "record", "mobile", "", "13912345678", 2),
            ("crm", "x3", "record", "mobile", "", "13912345678", 3),
        ],
        config,
    )
    found = ids(result)
    assert found["crm/x1"] != found["crm/x2"]
    assert (
        "shared"
        not in result.guarded.filter(pl.col("attribute_kind") == "mobile").get_column("guard").to_list()
    )
