"""Probabilistic matching on hand-built populations whose answers are known."""

import math
import random
from pathlib import Path

import polars as pl

from assets.identity.comparison import LEVELS
from assets.identity.evaluation import truth_scores
from assets.identity.matching import compare_profiles, match, match_profiled, profiled, profiles
from assets.identity.settings import identity_config, load_identity_config
from tests.identity.helpers import ids, run

SURNAMES = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周"]
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰"


def population(n: int, seed: int = 7) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    people = []
    for i in range(n):
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        people.append((f"P{i}", name, f"S{rng.randrange(12):03d}"))
    return people


def store_rows(people) -> list[tuple]:
    """Each person: two member-card receipts (one with the name) at their store."""
    rows = []
    for pid, name, store in people:
        for k in range(2):
            rid = f"{pid}-card{k}"
            rows += [
                ("pos", rid, "record", "member_id", "", f"M{pid}", k),
                ("pos", rid, "record", "store", "", store, k),
            ]
        rows.append(("pos", f"{pid}-card0", "record", "person_name", "", name, 0))
    return rows


def test_a_receipt_with_only_a_name_joins_the_member_with_that_name_at_that_store():
    people = population(400)
    rows = store_rows(people)
    pid, name, store = people[0]
    other_store = next(s for s in (f"S{i:03d}" for i in range(12)) if s != store)
    rows += [
        ("pos", "walkin", "record", "person_name", "", name.replace("王", "汪"), 50),  # homophone typo
        ("pos", "walkin", "record", "store", "", store, 50),
        ("pos", "elsewhere", "record", "person_name", "", name, 51),
        ("pos", "elsewhere", "record", "store", "", other_store, 51),
    ]
    result = run(rows)
    found = ids(result)
    assert found["pos/walkin"] == found[f"pos/{pid}-card0"]
    assert found["pos/elsewhere"] != found[f"pos/{pid}-card0"]
    row = result.resolved.filter(pl.col("record_id") == "walkin").row(0, named=True)
    assert row["method"] == "probabilistic" and 0 < row["confidence"] <= 1
    link = result.links.filter(pl.col("method") == "probabilistic").row(0, named=True)
    assert set(pl.Series([link["evidence"]]).str.json_decode().struct.unnest().columns) >= {
        "person_name",
        "store",
    }


def test_a_name_shared_by_two_members_at_one_store_is_ambiguous_and_left_alone():
    people = population(400)
    rows = store_rows(people)
    pid, name, store = people[0]
    rows += [
        ("pos", "twin-card", "record", "member_id", "", "MTWIN", 60),
        ("pos", "twin-card", "record", "person_name", "", name, 60),
        ("pos", "twin-card", "record", "store", "", store, 60),
        ("pos", "walkin", "record", "person_name", "", name, 61),
        ("pos", "walkin", "record", "store", "", store, 61),
    ]
    result = run(rows)
    found = ids(result)
    assert found["pos/walkin"] not in (found[f"pos/{pid}-card0"], found["pos/twin-card"])
    assert found["pos/twin-card"] != found[f"pos/{pid}-card0"]
    # three holders of the name at one store: weighed within the store, the name alone is no longer
    # a candidate match; were it one, the ambiguity rule would drop both
    assert result.stats["ambiguous_matches_dropped"] >= 2 or result.stats["clusters_joined_by_matching"] == 0


def test_a_feed_of_names_birth_dates_addresses_postcodes_and_social_security_numbers(tmp_path: Path):
    """No phone, no email: the engine matches whatever kinds a deployment declares."""
    config_file = tmp_path / "identity.yaml"
    config_file.write_text(
        """
attribute_kinds:
  ssn: {strength: strong, normalise: digits, exclusive: true, hashed: true}
  person_name: {strength: weak, normalise: person_name, exclusive: true, compare: name}
  birth_date: {strength: weak, normalise: date, compare: exact}
  address: {strength: weak, normalise: text, compare: string}
  postcode: {strength: weak, normalise: digits, compare: exact, context: true}
rules:
  - {name: ssn, kinds: [ssn]}
matching:
  blocking: [[person_name, birth_date], [birth_date, postcode], [person_name, postcode]]
  min_probability: 0.5
""",
        encoding="utf-8",
    )
    rng = random.Random(11)
    first = ["john", "mary", "james", "linda", "robert", "susan", "michael", "karen", "david", "lisa"]
    last = ["smith", "jones", "brown", "taylor", "wilson", "evans", "thomas", "roberts", "walker", "wright"]
    rows, truth = [], []
    for p in range(600):
        name = f"{rng.choice(first)} {rng.choice(last)}"
        born = f"19{rng.randrange(50, 99)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 28):02d}"
        postcode, street = (
            f"{rng.randrange(10000, 99999)}",
            f"{rng.randrange(1, 200)} {rng.choice(last)} road",
        )
        ssn = f"{rng.randrange(10**8, 10**9)}"
        for k in range(3):
            rid = f"r{p}-{k}"
            typo = name if rng.random() > 0.3 else name[:-1] + "x"
            written = {0: born, 1: born.replace("-", "/"), 2: born.replace("-", "")}[k]
            rows += [
                ("registry", rid, "record", "person_name", "", typo.upper() if k == 1 else typo, p),
                ("registry", rid, "record", "birth_date", "", written, p),
                ("registry", rid, "record", "postcode", "", postcode, p),
                ("registry", rid, "record", "address", "", street, p),
            ]
            if k == 0 or rng.random() < 0.3:
                rows.append(("registry", rid, "record", "ssn", "", f"{ssn[:3]}-{ssn[3:5]}-{ssn[5:]}", p))
            truth.append(("registry", rid, f"P{p}"))
    result = run(rows, config=load_identity_config(config_file))
    scores = truth_scores(
        result.resolved, pl.DataFrame(truth, schema=["source", "record_id", "person_id"], orient="row")
    )
    assert scores["pairwise_precision"] >= 0.98 and scores["pairwise_recall"] >= 0.95, scores
    assert result.stats["clusters_joined_by_matching"] > 0


def test_each_pair_is_compared_on_its_own_clusters_key_sets_whatever_the_order_of_pairs_and_profiles():
    """Pairs are compared one kind at a time (at 2 M people all kinds' sets of both sides at once
    outgrew memory): each row's levels must still be those of its own two clusters."""
    config = identity_config()
    keyed = pl.DataFrame(
        {
            "cluster": [9, 9, 4, 4, 7, 2],
            "attribute_kind": ["email", "person_name", "email", "person_name", "email", "person_name"],
            "key": ["a@x.cn", "wei zhang", "a@x.cn", "wei zhang", "b@x.cn", "fang li"],
        }
    )
    profile = profiles(keyed, ["email", "person_name"]).reverse()
    pairs = pl.DataFrame({"cluster_a": [7, 4, 2, 4], "cluster_b": [9, 9, 9, 7]})
    levels = compare_profiles(profile, pairs, config, ["email", "person_name"])
    agree, differ = 0.0, float(len(LEVELS["exact"]) - 1)
    assert levels["email"].tolist()[:2] == [differ, agree]
    assert math.isnan(levels["email"].iloc[2])  # cluster 2 has no email
    assert levels["email"].iloc[3] == differ
    assert levels["person_name"].iloc[1] == 0.0
    assert math.isnan(levels["person_name"].iloc[0]) and math.isnan(levels["person_name"].iloc[3])
    assert levels["person_name"].iloc[2] > 0.0


def test_matching_from_profiles_built_beforehand_scores_what_matching_in_one_step_does():
    """The full run builds the profiles, frees the keyed nodes, then compares and scores."""
    config = identity_config()
    keyed = pl.DataFrame(
        {
            "node": [0, 0, 1, 1],
            "cluster": [0, 0, 1, 1],
            "attribute_kind": ["person_name", "store", "person_name", "store"],
            "key": ["wei zhang", "S1", "wei zhang", "S1"],
        }
    )
    one_step = match(keyed, config)
    two_steps = match_profiled(profiled(keyed, config), config)
    assert one_step.pairs.equals(two_steps.pairs) and one_step.candidates == two_steps.candidates == 1
