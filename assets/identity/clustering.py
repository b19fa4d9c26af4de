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

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

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
    # share of an identifier's records one person must hold to be its owner (guards.owner_share)
    owner_share: float = 1.0
    # kinds whose different values may still be one person when similar enough (typo'd names and
    # numbers): kind -> whether two values are
    fuzzy: dict[str, Callable[[str, str], bool]] = field(default_factory=dict)
    # per root, how many of its records hold each context value ("store:S12"): where and what, which
    # tells two holders of one family phone apart when a record carries only the phone and a store
    context: dict[int, Counter[str]] = field(default_factory=dict)
    # per context kind (its kind_ns), how many distinct values the graph holds: the chance of one
    # value a person was never seen with
    context_values: dict[str, int] = field(default_factory=dict)

    def add(
        self, node: int, values: dict[str, set[str]], size: int = 1, context: Counter[str] | None = None
    ) -> None:
        self.parent[node] = node
        self.size[node] = size
        self.values[node] = values
        if context:
            self.context[node] = Counter(context)

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
        similar = self.fuzzy.get(kind.split(":", 1)[0])
        return similar is not None and any(similar(x, y) for x in left for y in right)

    def union(self, keep: int, other: int) -> None:
        self.parent[other] = keep
        self.size[keep] += self.size.pop(other)
        mine, theirs = self.values[keep], self.values.pop(other)
        for kind, vals in theirs.items():
            mine.setdefault(kind, set()).update(vals)
        moved = self.context.pop(other, None)
        if moved:
            self.context.setdefault(keep, Counter()).update(moved)


@dataclass(frozen=True)
class Link:
    """An accepted merge: ``a`` and ``b`` (nodes) joined by ``rule`` (or a match score); the
    cluster rooted at ``absorbed`` was folded into the other."""

    a: int
    b: int
    rule: str
    score: float | None
    absorbed: int


MAX_AMBIGUITY_CHECK = 64  # clusters in one group beyond which ambiguity is not looked for (quadratic)


def _people(clusters: Clusters, order: list[int]) -> list[list[int]]:
    """The group's clusters partitioned greedily into mutually compatible people, largest first."""
    people: list[list[int]] = []
    for root in order:
        home = next((part for part in people if all(clusters.compatible(x, root) for x in part)), None)
        if home is None:
            people.append([root])
        else:
            home.append(root)
    return people


def ambiguous_roots(clusters: Clusters, order: list[int], usage: dict[int, int]) -> dict[int, int | None]:
    """In a group whose clusters are not all compatible — an identifier two different people hold,
    a family phone — the clusters compatible with more than one of its people. Each goes to the
    person holding at least ``clusters.owner_share`` of the weight, else to nobody: a receipt
    carrying only a family phone that two people use alike belongs to neither for sure. A person's
    weight is how many of the group's unambiguous records they hold (``usage``: the group's records
    per cluster) — the value's owner, as the head of a household is for their own number — times how
    well the cluster's context (the receipt's store) fits the places their records show: the phone
    given at the child's store is the child's. Returns {cluster: a cluster of the person it joins,
    or None}."""
    if len(order) > MAX_AMBIGUITY_CHECK:
        return {}
    people = _people(clusters, order)
    if len(people) < 2:
        return {}
    fits = {
        root: [
            i for i, part in enumerate(people) if all(clusters.compatible(x, root) for x in part if x != root)
        ]
        for root in order
    }
    ambiguous = {root for root, parts in fits.items() if len(parts) > 1}
    used = [sum(usage[x] for x in part if x not in ambiguous) for part in people]
    contexts = [_context_of(clusters, [x for x in part if x not in ambiguous]) for part in people]
    decided: dict[int, int | None] = {}
    for root in (r for r in order if r in ambiguous):
        shown = clusters.context.get(root)
        weight = {i: used[i] * _context_fit(clusters, shown, contexts[i]) for i in fits[root]}
        best = max(fits[root], key=lambda i: weight[i])
        owner = [x for x in people[best] if x not in ambiguous]
        total = sum(weight.values())
        decided[root] = owner[0] if owner and total and weight[best] >= clusters.owner_share * total else None
    return decided


def _context_of(clusters: Clusters, roots: list[int]) -> Counter[str]:
    out: Counter[str] = Counter()
    for root in roots:
        out.update(clusters.context.get(root, ()))
    return out


def _context_fit(clusters: Clusters, record: Counter[str] | None, person: Counter[str]) -> float:
    """How likely a person's next record shows the record's context values (the receipt's store,
    its visit), by Witten–Bell smoothing of what their records show: a value seen n times, n / (seen
    + distinct); an unseen one, distinct / (seen + distinct) — the chance of something new — times
    its share among the kind's values (``clusters.context_values``). A person seen at many stores
    may well turn up at another; one who always shops at one store less so. 1 when the record says
    nothing of context."""
    if not record:
        return 1.0
    fit = 1.0
    for value in record:
        kind = value.split(":", 1)[0]
        shown = [n for v, n in person.items() if v.split(":", 1)[0] == kind]
        novel = 1.0 / max(clusters.context_values.get(kind, 1), 1)
        seen, distinct = sum(shown), len(shown)
        if person.get(value):
            fit *= person[value] / (seen + distinct)
        else:
            fit *= (distinct / (seen + distinct) if seen else 1.0) * novel
    return fit


def constrained_merge(
    clusters: Clusters, groups: Iterable[tuple[str, Sequence[int], float | None]]
) -> list[Link]:
    """Merge the nodes of each group — (rule, nodes, match score or None), strongest first — into
    as few clusters as their exclusive values allow. Inside a group the largest cluster absorbs every
    compatible one; an incompatible cluster starts its own part; a cluster compatible with several of
    the parts is ambiguous and joins only the part of the value's owner, if any (:func:`ambiguous_roots`).
    Returns the links that merged something."""
    links: list[Link] = []
    for rule, nodes, score in groups:
        first_node: dict[int, int] = {}
        usage: dict[int, int] = {}
        for node in nodes:
            root = clusters.find(node)
            first_node.setdefault(root, node)
            usage[root] = usage.get(root, 0) + 1
        if len(first_node) < 2:
            continue
        # largest first, so a part (which only grows) is never smaller than the root joining it
        order = sorted(first_node, key=lambda r: (-clusters.size[r], first_node[r]))
        ambiguous = ambiguous_roots(clusters, order, usage) if len(order) > 2 else {}
        parts: list[tuple[int, int]] = []  # (root, the group's node inside it)
        for root in (r for r in order if r not in ambiguous):
            for part, anchor in parts:
                if clusters.compatible(part, root, pinned=rule == PIN_RULE):
                    clusters.union(part, root)
                    links.append(Link(anchor, first_node[root], rule, score, root))
                    break
            else:
                parts.append((root, first_node[root]))
        for root, owner in ambiguous.items():
            target = clusters.find(owner) if owner is not None else None
            if owner is not None and target is not None and clusters.compatible(target, root):
                links.append(Link(first_node[owner], first_node[root], rule, score, root))
                clusters.union(target, root)
    return links
