"""Identity's steps on Spark give the DuckDB engine's answers.

- Normalisation, pins and guards (``spark_prepare``) give ``engine.prepare``'s keys, placeholders,
  refused identifiers and pinned nodes, on values typed the ways partners type them.
- Connected components (large-star / small-star) give scipy's partition: on the shapes that are
  hard for label propagation (a long chain numbered against its order), on random sparse graphs
  with many components, and from the bipartite record-identifier graph."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from assets.common.spark import to_polars
from assets.identity.clustering import components
from assets.identity.engine import number_nodes, prepare, resolve, stitch_prepared
from assets.identity.matching import candidate_pairs, compare_profiles, match, profiles
from assets.identity.review import scoring_config
from assets.identity.settings import load_identity_config
from assets.identity.spark_components import connected_components, shared_identifier_edges
from assets.identity.spark_match import match_on_spark
from assets.identity.spark_matching import candidate_pairs_on_spark, compare_on_spark, profiles_on_spark
from assets.identity.spark_prepare import prepare_on_spark
from assets.identity.spark_resolve import people_on_spark
from assets.identity.spark_stitching import stitch_on_spark
from assets.identity.steps import Clock
from tests.identity.helpers import SALT, frames
from tests.spark import NEEDS_SPARK
from tests.spark.identity_data import PINS, ROWS, SHIPPED, partners_rows, rows_of

pytestmark = [pytest.mark.slow(seconds=120), *NEEDS_SPARK]


def scipy_partition(n_nodes: int, memberships: pl.DataFrame) -> dict[int, int]:
    """Each node's component on one machine, labelled by its smallest node (scipy's are positional)."""
    labels = pl.DataFrame({"node": np.arange(n_nodes), "label": components(n_nodes, memberships)})
    return dict(labels.select("node", root=pl.col("node").min().over("label")).iter_rows())


def spark_partition(spark: Any, n_nodes: int, memberships: pl.DataFrame) -> dict[int, int]:
    edges = shared_identifier_edges(spark.createDataFrame(memberships.to_arrow()))
    found = dict(to_polars(connected_components(edges)).iter_rows())
    return {node: found.get(node, node) for node in range(n_nodes)}


def edges_as_memberships(a: np.ndarray, b: np.ndarray) -> pl.DataFrame:
    """Node-node edges as the bipartite graph: each edge is an identifier its two nodes hold."""
    ident = np.arange(len(a))
    return pl.DataFrame({"node": np.concatenate([a, b]), "ident": np.concatenate([ident, ident])})


def test_a_long_chain_numbered_against_its_order_is_one_component(spark: Any) -> None:
    rng = np.random.default_rng(3)
    order = rng.permutation(300)  # neighbours along the chain have unrelated numbers
    memberships = edges_as_memberships(order[:-1], order[1:])
    partition = spark_partition(spark, 300, memberships)
    assert set(partition.values()) == {0}
    assert partition == scipy_partition(300, memberships)


def test_random_sparse_graphs_give_scipys_partition(spark: Any) -> None:
    rng = np.random.default_rng(11)
    for nodes, edges in ((500, 300), (2_000, 1_900)):
        memberships = edges_as_memberships(rng.integers(0, nodes, edges), rng.integers(0, nodes, edges))
        expected = scipy_partition(nodes, memberships)
        assert spark_partition(spark, nodes, memberships) == expected
        assert 1 < len(set(expected.values())) < nodes  # several components, and some with many nodes


def test_records_sharing_identifiers_join_through_any_of_them(spark: Any) -> None:
    """A mobile shared by records 0, 4 and 7, a card shared by 7 and 2: one person; 5 alone."""
    memberships = pl.DataFrame({"node": [0, 4, 7, 7, 2, 1, 3, 6], "ident": [10, 10, 10, 11, 11, 12, 12, 13]})
    partition = spark_partition(spark, 8, memberships)
    assert partition == {0: 0, 2: 0, 4: 0, 7: 0, 1: 1, 3: 1, 5: 5, 6: 6}
    assert partition == scipy_partition(8, memberships)


def test_no_edges_means_every_node_alone(spark: Any) -> None:
    memberships = pl.DataFrame({"node": [0, 1, 2], "ident": [5, 6, 7]})
    assert spark_partition(spark, 3, memberships) == {0: 0, 1: 1, 2: 2}


def test_normalisation_pins_and_guards_give_the_duckdb_engines_graph(spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "identity.yaml"
    path.write_text(SHIPPED.read_text(encoding="utf-8") + PINS, encoding="utf-8")
    config = load_identity_config(path)
    nodes, attributes = number_nodes(*frames(ROWS))
    expected = prepare(nodes, attributes, config, SALT, Clock())

    graph = prepare_on_spark(
        spark,
        spark.createDataFrame(nodes.to_arrow()),
        spark.createDataFrame(attributes.to_arrow()),
        config,
        SALT,
    )
    usable = to_polars(graph.usable)
    assert rows_of(usable) == rows_of(expected.usable)
    assert rows_of(to_polars(graph.refused)) == rows_of(expected.refused)
    assert rows_of(to_polars(graph.blocked)) == rows_of(expected.blocked)
    assert rows_of(to_polars(graph.shared)) == rows_of(expected.guard.shared) == [("mobile:13700001111",)]
    assert rows_of(to_polars(graph.exclusive)) == rows_of(expected.guard.exclusive)
    assert rows_of(to_polars(graph.pinned)) == rows_of(expected.pinned)
    strong = to_polars(graph.strong).select(
        "node", "priority", ident=pl.col("identifier").rank("dense").cast(pl.Int64) - 1
    )
    assert rows_of(strong) == rows_of(expected.guard.strong)
    # what the case is made of: three spellings of one mobile, a salted member id, pins on both sides
    assert usable.filter(pl.col("key") == "13912345678").height == 3
    assert not usable.get_column("key").str.contains("VIP").any()
    assert {side for _, side, _ in rows_of(expected.pinned)} == {"a", "b"}
    assert expected.blocked.height == 1


CONFLICTS = [  # one mobile shared by two people whose national ids differ: a conflicted component
    ("crm", "n1", "record", "mobile", "", "13655556666", 8),
    ("crm", "n1", "record", "national_id", "", "11010519491231002X", 8),
    ("crm", "n1", "record", "email", "", "wang@x.cn", 8),
    ("shop", "n2", "record", "mobile", "", "136 5555 6666", 9),
    ("shop", "n2", "record", "national_id", "", "110105198001010016", 9),
    ("shop", "n3", "record", "email", "", "wang@x.cn", 9),
    ("pos", "n4", "record", "mobile", "", "13655556666", 10),
    ("pos", "n4", "record", "store", "", "S01", 10),
]


@pytest.mark.parametrize("buckets", [1, 3])
def test_stitching_on_spark_gives_the_duckdb_engines_clusters_and_links(
    spark: Any, tmp_path: Path, buckets: int
) -> None:
    path = tmp_path / "identity.yaml"
    path.write_text(SHIPPED.read_text(encoding="utf-8") + PINS, encoding="utf-8")
    config = load_identity_config(path)
    nodes, attributes = number_nodes(*frames(ROWS + CONFLICTS))
    expected = stitch_prepared(prepare(nodes, attributes, config, SALT, Clock()), config)

    spark_nodes = spark.createDataFrame(nodes.to_arrow())
    spark_graph = prepare_on_spark(
        spark, spark_nodes, spark.createDataFrame(attributes.to_arrow()), config, SALT
    )
    stitched = stitch_on_spark(spark_graph, spark_nodes, config, buckets=buckets)

    det = to_polars(stitched.det)
    assert rows_of(det) == rows_of(expected.det)  # the same clusters, named alike: by their smallest node
    assert rows_of(to_polars(stitched.links)) == rows_of(expected.links)
    assert (
        to_polars(stitched.conflicted).height == expected.conflicted.len() >= 2
    )  # the pins' and the mobile's
    # the case holds what it should: the shared mobile's holders split by their national ids
    node_of = dict(nodes.select(pl.concat_str("source", "record_id", separator="/"), "node").iter_rows())
    cluster = dict(det.iter_rows())
    assert cluster[node_of["crm/n1"]] == cluster[node_of["shop/n3"]] != cluster[node_of["shop/n2"]]


def random_keys(rng: np.random.Generator, clusters: int, rows: int) -> pl.DataFrame:
    """(cluster, attribute_kind, key) with few distinct values, so blocks are shared and some are
    over-common; names repeat within a cluster so its most frequent one is told apart."""
    kinds = np.array(["person_name", "city", "store", "birth_date", "postcode"])
    kind = rng.integers(0, len(kinds), rows)
    return pl.DataFrame(
        {
            "cluster": rng.integers(0, clusters, rows),
            "attribute_kind": kinds[kind],
            "key": [f"v{v}" for v in rng.integers(0, 40, rows) // (1 + kind)],
        }
    )


def test_profiles_and_blocking_on_spark_give_the_duckdb_engines_candidates(spark: Any) -> None:
    keyed = random_keys(np.random.default_rng(5), 400, 3_000)
    kinds = ["person_name", "city", "store", "birth_date", "postcode", "address"]  # no address keys
    passes = (("person_name", "city"), ("person_name", "store"), ("birth_date", "postcode"), ("address",))
    expected = profiles(keyed, kinds)

    profile = profiles_on_spark(spark.createDataFrame(keyed.to_arrow()), kinds)
    got = to_polars(profile).select(expected.columns).sort("cluster")
    assert got.equals(expected)
    for max_block_size in (300, 8):
        want, want_skipped = candidate_pairs(expected, passes, max_block_size)
        pairs, skipped = candidate_pairs_on_spark(profile, passes, max_block_size)
        assert to_polars(pairs).sort("cluster_a", "cluster_b").equals(want)
        assert skipped == want_skipped
        assert want.height > 100
    assert want_skipped > 0  # the small block size skipped some combinations as too common


def test_pairs_compared_on_spark_get_the_duckdb_engines_levels(spark: Any) -> None:
    """Typo'd mobiles, a name in another order and script, an address alike, and kinds a side lacks."""
    keyed = pl.DataFrame(
        [
            (1, "mobile", "13912345678"),
            (2, "mobile", "13912345687"),  # two digits swapped
            (3, "mobile", "13700001111"),
            (1, "person_name", "wei zhang"),
            (2, "person_name", "wei zhang"),
            (3, "person_name", "wei zhan"),
            (4, "person_name", "na li"),
            (1, "address", "shanghai xuhui tianyaoqiao road 100"),
            (3, "address", "shanghai xuhui tianyaoqiao rd 100"),
            (4, "address", "beijing chaoyang"),
            (2, "birth_date", "1990-01-02"),
            (4, "birth_date", "1990-01-02"),
        ],
        schema=["cluster", "attribute_kind", "key"],
        orient="row",
    )
    config = load_identity_config(SHIPPED)
    kinds = ["mobile", "person_name", "address", "birth_date"]
    pairs = pl.DataFrame({"cluster_a": [1, 1, 1, 2, 2, 3], "cluster_b": [2, 3, 4, 3, 4, 4]})
    expected = compare_profiles(profiles(keyed, kinds), pairs, config, kinds)

    profile = profiles_on_spark(spark.createDataFrame(keyed.to_arrow()), kinds)
    got = to_polars(compare_on_spark(profile, spark.createDataFrame(pairs.to_arrow()), config, kinds))
    got = got.sort("cluster_a", "cluster_b")
    assert got.select("cluster_a", "cluster_b").equals(pairs)
    for kind in kinds:
        assert np.array_equal(got.get_column(kind).to_numpy(), expected[kind].to_numpy(), equal_nan=True), (
            kind
        )
    assert len(set(expected["mobile"].dropna())) > 1 and expected["birth_date"].isna().any()


def people_records(rng: np.random.Generator, people: int) -> pl.DataFrame:
    """(node, cluster, attribute_kind, key): each person's receipts and sign-ups as clusters of
    their own or in pairs, sharing a name drawn from a small pool (so strangers share names too),
    the person's city and store, and now and then a birth date or a mobile with one digit wrong."""
    rows, node = [], 0
    names = [f"{s} {g}" for s in ("wang", "li", "zhang", "liu") for g in ("wei", "na", "fang", "jie", "min")]
    for person in range(people):
        name, city, store = names[rng.integers(len(names))], f"c{person % 5}", f"s{person % 12}"
        mobile, born = f"139{person:08d}", f"19{70 + person % 30}-0{1 + person % 9}-1{person % 10}"
        cluster = None
        for _ in range(int(rng.integers(1, 5))):
            cluster = node if cluster is None or rng.random() < 0.6 else cluster
            keys = [("person_name", name), ("city", city), ("store", store)]
            if rng.random() < 0.4:
                keys.append(("birth_date", born))
            if rng.random() < 0.5:
                typo = rng.random() < 0.2
                keys.append(("mobile", mobile[:-1] + str((int(mobile[-1]) + 1) % 10) if typo else mobile))
            rows += [(node, cluster, kind, key) for kind, key in keys]
            node += 1
    return pl.DataFrame(rows, schema=["node", "cluster", "attribute_kind", "key"], orient="row")


def test_matching_on_spark_scores_the_duckdb_engines_pairs_with_its_model(spark: Any) -> None:
    """Profiles, blocking, comparisons and term-frequency adjustment on Spark, the model fitted on the
    driver from pairs sampled as the engine samples them: the same scored pairs and weights."""
    compared = people_records(np.random.default_rng(9), 150)
    config = scoring_config(load_identity_config(SHIPPED))
    expected = match(compared, config)

    got = match_on_spark(spark, spark.createDataFrame(compared.to_arrow()), config)
    assert (got.candidates, got.skipped_blocks, got.fit) == (
        expected.candidates,
        expected.skipped_blocks,
        expected.fit,
    )
    pairs, want = got.pairs.sort("cluster_a", "cluster_b"), expected.pairs.sort("cluster_a", "cluster_b")
    assert pairs.select("cluster_a", "cluster_b", "evidence").equals(
        want.select("cluster_a", "cluster_b", "evidence")
    )
    assert np.allclose(pairs.get_column("score").to_numpy(), want.get_column("score").to_numpy(), rtol=1e-12)
    assert expected.candidates > 50 and want.filter(pl.col("score") > 0.5).height > 5


def partition(frame: pl.DataFrame, label: str) -> list[tuple[int, int]]:
    """(node, smallest node of its group) per node; a null label is a group of its own."""
    labelled = frame.select(
        "node", group=pl.coalesce(pl.col(label).cast(pl.String), pl.col("node").cast(pl.String))
    )
    return rows_of(labelled.select("node", smallest=pl.col("node").min().over("group")))


def test_people_on_spark_are_the_duckdb_engines_people(spark: Any) -> None:
    """Stitched, matched and merged on Spark, from partners' raw values: the same partition of
    records into people as the DuckDB engine's full run."""
    config = load_identity_config(SHIPPED)
    nodes, attributes = number_nodes(*frames(partners_rows(np.random.default_rng(4), 120)))
    expected = resolve(nodes, attributes, config, salt=SALT)

    spark_nodes = spark.createDataFrame(nodes.to_arrow())
    graph = prepare_on_spark(spark, spark_nodes, spark.createDataFrame(attributes.to_arrow()), config, SALT)
    stitched = stitch_on_spark(graph, spark_nodes, config, buckets=3)
    people = people_on_spark(spark, graph, stitched, spark_nodes, config)
    got = to_polars(people.clusters)
    assert partition(got, "cluster") == partition(expected.resolved, "unified_id")
    assert people.merges == expected.stats["clusters_joined_by_matching"] > 0  # matching merged people
    assert got.get_column("det").n_unique() > got.get_column("cluster").n_unique()
