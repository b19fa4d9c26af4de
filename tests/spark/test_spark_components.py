"""Connected components on Spark (large-star / small-star) give scipy's partition: on the shapes
that are hard for label propagation (a long chain, a long chain numbered against its order), on
random sparse graphs with many components, and from the bipartite record-identifier graph."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from assets.common.pipeline_config import Spark
from assets.common.spark import spark_session, to_polars
from assets.identity.clustering import components
from assets.identity.spark_components import connected_components, shared_identifier_edges

pytestmark = [
    pytest.mark.skipif(
        shutil.which("java") is None, reason="the Spark engine needs Java 17 (.ci/run installs it)"
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("pyspark") is None, reason='pyspark is missing: pip install -e ".[spark]"'
    ),
]


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    session = spark_session(Spark(), Path(tmp_path_factory.mktemp("spark")))
    yield session
    session.stop()


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
