"""Clustering with over-merge protection.

Strong identifiers link records into connected components of the record–identifier graph. Most
components are one person and are accepted as they are. A component that holds two different
values of an *exclusive* kind (two member cards, two national ids, two names) or grows past the
size limit has been glued by a shared identifier; it is rebuilt by :func:`constrained_merge`,
which replays its links from the strongest rule to the weakest and refuses every merge that would
join conflicting values — so the component is split at its weakest links, and the order of rules
in ``config/identity.yaml`` decides which link gives way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import jellyfish
import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from assets.identity.pins import PIN_CANNOT, PIN_RULE


def components(n_nodes: int, edges: pl.DataFrame) -> np.ndarray:
    """Component label per node of the bipartite graph given by ``edges`` (node, ident)."""
    if edges.is_empty():
        return np.arange(n_nodes)
    rows = edges.get_column("node").to_numpy().astype(np.int64)
    cols = edges.get_column("ident").to_numpy().astype(np.int64) + n_nodes
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(int(cols.max()) + 1,) * 2)
    _, labels = connected_components(graph, directed=False)
    return labels[:n_nodes]


def conflicted_components(labels: pl.DataFrame, exclusive: pl.DataFrame, max_size: int) -> pl.Series:
    """Components holding two values of one exclusive kind, or more than ``max_size`` nodes.

    ``labels``: (node, component); ``exclusive``: (node, kind_ns, key)."""
    conflicts = (
        exclusive.join(labels, on="node")
        .group_by("component", "kind_ns")
        .agg(pl.col("key").n_unique().alias("n"))
        .filter(pl.col("n") > 1)
        .get_column("component")
    )
    large = labels.group_by("component").len().filter(pl.col("len") > max_size).get_column("component")
    return pl.concat([conflicts, large]).unique()


@dataclass
class Clusters:
    """Union-find over nodes, each root carrying its exclusive values and size. Two clusters are
    compatible unless they hold different values of an exclusive kind — for fuzzy kinds (names),
    values that are not even similar."""

    parent: dict[int, int] = field(default_factory=dict)
    size: dict[int, int] = field(default_factory=dict)
    values: dict[int, dict[str, set[str]]] = field(default_factory=dict)
    max_size: int = 2000
    # kinds whose different values may still be one person when similar enough (typo'd names)
    fuzzy: dict[str, float] = field(default_factory=dict)

    def add(self, node: int, values: dict[str, set[str]], size: int = 1) -> None:
        self.parent[node] = node
        self.size[node] = size
        self.values[node] = values

    def find(self, node: int) -> int:
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:
            self.parent[node], node = root, self.parent[node]
        return root

    def compatible(self, a: int, b: int, pinned: bool = False) -> bool:
        """``pinned``: a must_link pin joins them — only a cannot_link pin stands in its way."""
        if self.size[a] + self.size[b] > self.max_size and not pinned:
            return False
        va, vb = self.values[a], self.values[b]
        for kind in va.keys() & vb.keys():
            if pinned and not kind.startswith(PIN_CANNOT):
                continue
            if va[kind].isdisjoint(vb[kind]) and not self._similar(kind, va[kind], vb[kind]):
                return False
        return True

    def _similar(self, kind: str, left: set[str], right: set[str]) -> bool:
        threshold = self.fuzzy.get(kind.split(":", 1)[0])
        return threshold is not None and any(
            jellyfish.jaro_winkler_similarity(x, y) >= threshold for x in left for y in right
        )

    def union(self, keep: int, other: int) -> None:
        self.parent[other] = keep
        self.size[keep] += self.size.pop(other)
        mine, theirs = self.values[keep], self.values.pop(other)
        for kind, vals in theirs.items():
            mine.setdefault(kind, set()).update(vals)


@dataclass(frozen=True)
class Link:
    """An accepted merge: ``a`` and ``b`` (nodes) joined by ``rule`` (or a match score); the
    cluster rooted at ``absorbed`` was folded into the other."""

    a: int
    b: int
    rule: str
    score: float | None
    absorbed: int


def constrained_merge(
    clusters: Clusters, groups: Iterable[tuple[str, Sequence[int], float | None]]
) -> list[Link]:
    """Merge the nodes of each group — (rule, nodes, match score or None), strongest first — into
    as few clusters as their exclusive values allow. Inside a group the largest cluster absorbs every compatible
    one; an incompatible cluster starts its own part. Returns the links that merged something."""
    links: list[Link] = []
    for rule, nodes, score in groups:
        first_node: dict[int, int] = {}
        for node in nodes:
            first_node.setdefault(clusters.find(node), node)
        if len(first_node) < 2:
            continue
        # largest first, so a part (which only grows) is never smaller than the root joining it
        order = sorted(first_node, key=lambda r: (-clusters.size[r], first_node[r]))
        parts: list[tuple[int, int]] = []  # (root, the group's node inside it)
        for root in order:
            for part, anchor in parts:
                if clusters.compatible(part, root, pinned=rule == PIN_RULE):
                    clusters.union(part, root)
                    links.append(Link(anchor, first_node[root], rule, score, root))
                    break
            else:
                parts.append((root, first_node[root]))
    return links
