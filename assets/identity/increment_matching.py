"""An incremental run's matching: the touched clusters against every stored person sharing a
blocking-key combination with them, scored by the last full run's model.

Stored people are pre-merged units of the union-find (:class:`Units`); what the matcher knows
about them — their size, exclusive values and compared keys, how common a name is over the whole
graph — comes from the store (:class:`~assets.identity.store.GraphLookups`)."""

from __future__ import annotations

from collections import Counter

import polars as pl

from assets.identity.clustering import Clusters, Link, constrained_merge
from assets.identity.matching import (
    PAIRS_SCHEMA,
    MatchResult,
    block_keys,
    candidate_pairs,
    name_kinds,
    profiles,
    score_pairs,
)
from assets.identity.scoring import FellegiSunter
from assets.identity.settings import IdentityConfig
from assets.identity.steps import Clock, Roles, best_matches, exclusive_sets, match_groups
from assets.identity.store import GraphLookups
from assets.identity.term_frequency import Frequencies


def unit_contexts(keys: pl.DataFrame) -> dict[int, Counter[str]]:
    """Per element, how many of the stored person's records hold each context value."""
    grouped = keys.group_by("element").agg(
        pl.concat_str("kind_ns", pl.lit(":"), "key").alias("value"), pl.col("n")
    )
    return {
        element: Counter(dict(zip(values, counts, strict=True)))
        for element, values, counts in grouped.iter_rows()
    }


class Units:
    """Stored people as elements of the union-find: person i is element -(i + 1)."""

    def __init__(self) -> None:
        self.element: dict[str, int] = {}
        self.summary = pl.DataFrame()

    def add(self, summary: pl.DataFrame, keys: pl.DataFrame, clusters: Clusters, roles: Roles) -> None:
        # numbered in id order: element numbers break ties in matching, so runs must agree on them
        summary = summary.filter(~pl.col("unified_id").is_in(list(self.element))).sort("unified_id")
        start = len(self.element)
        for i, uid in enumerate(summary.get_column("unified_id").to_list()):
            self.element[uid] = -(start + i + 1)
        summary = self.of(summary)
        values = exclusive_sets(
            self.of(keys.filter(pl.col("attribute_kind").is_in(roles.exclusive))).select(
                "element", "kind_ns", "key"
            ),
            "element",
        )
        contexts = unit_contexts(self.of(keys.filter(pl.col("attribute_kind").is_in(roles.context))))
        for element, size in summary.select("element", "size").iter_rows():
            clusters.add(element, values.get(element, {}), size, contexts.get(element))
        self.summary = pl.concat([self.summary, summary]) if not self.summary.is_empty() else summary

    def of(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` with an ``element`` column for its ``unified_id``."""
        return (
            frame.join(self.frame(), on="unified_id")
            if self.element
            else frame.clear().with_columns(element=pl.lit(None, dtype=pl.Int64))
        )

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            {"unified_id": list(self.element), "element": list(self.element.values())},
            schema={"unified_id": pl.String, "element": pl.Int64},
        )


class IncrementMatcher:
    """Matches the clusters an increment touched (``dirty``) against the stored people around them."""

    def __init__(
        self,
        graph: GraphLookups,
        keyed: pl.DataFrame,
        unit_keys: pl.DataFrame,
        units: Units,
        clusters: Clusters,
        roles: Roles,
        config: IdentityConfig,
        model: FellegiSunter,
        users: int,
    ) -> None:
        self.graph, self.keyed, self.unit_keys, self.units, self.clusters = (
            graph,
            keyed,
            unit_keys,
            units,
            clusters,
        )
        self.roles, self.config, self.model = roles, config, model
        self.users = max(users, 1)
        self.kinds = [k for k in config.compared_kinds if k in model.weights]
        self.profile = pl.DataFrame()  # per cluster its keys (matching.profiles), grown as people are found

    def run(self, dirty: set[int], clock: Clock) -> tuple[MatchResult | None, list[Link], Clusters | None]:
        """(scored pairs, accepted matches, the union-find of det roots they were merged in)."""
        compared = self._compared()
        self.profile = profiles(compared, self.kinds)
        too_common = self._pull_block_partners(self._new_combinations(compared, dirty))
        clock.lap("match_lookup")
        profile = self.profile
        blocking, max_block = self.config.matching.blocking, self.config.matching.max_block_size
        pairs, _ = candidate_pairs(profile, blocking, max_block, too_common)
        pairs = pairs.filter(pl.col("cluster_a").is_in(list(dirty)) | pl.col("cluster_b").is_in(list(dirty)))
        if pairs.is_empty():
            return None, [], None
        matched = score_pairs(profile, pairs, self.model, self._frequencies(profile, pairs), self.config)
        # A stored fragment matching a touched cluster may also match a stored person the touched
        # cluster conflicts with: score the fragment's own candidates too, so that an ambiguous
        # fragment is left alone as a full run would.
        fragments = (
            set(matched.pairs.get_column("cluster_a").to_list())
            | set(matched.pairs.get_column("cluster_b").to_list())
        ) - dirty
        context = (
            self._context(profile, fragments, dirty, too_common)
            if fragments
            else pl.DataFrame(schema=PAIRS_SCHEMA)
        )
        merged, links = self._merge(matched.pairs, context)
        return matched, links, merged

    def _compared(self) -> pl.DataFrame:
        """(element, cluster, attribute_kind, key, n) of the compared kinds, for changed nodes and
        stored people."""
        rows = pl.concat(
            [
                self.keyed.filter(pl.col("attribute_kind").is_in(self.kinds)).select(
                    pl.col("node").alias("element"),
                    "attribute_kind",
                    "key",
                    pl.lit(1, dtype=pl.Int64).alias("n"),
                ),
                self._unit_rows(self.unit_keys),
            ]
        )
        roots = {e: self.clusters.find(e) for e in rows.get_column("element").unique().to_list()}
        return rows.with_columns(cluster=pl.col("element").replace_strict(roots, return_dtype=pl.Int64))

    def _unit_rows(self, keys: pl.DataFrame) -> pl.DataFrame:
        """(element, attribute_kind, key, n) of stored people's keys of the compared kinds."""
        return self.units.of(keys.filter(pl.col("attribute_kind").is_in(self.kinds))).select(
            "element", "attribute_kind", "key", pl.col("n").cast(pl.Int64)
        )

    def _combinations(self, profile: pl.DataFrame) -> dict[tuple[str, ...], pl.DataFrame]:
        """Per blocking pass, (cluster, <kind>...) of every key combination ``profile``'s clusters hold."""
        return {
            passes: block_keys(profile, passes)
            for passes in self.config.matching.blocking
            if not profile.is_empty() and all(f"{k}__set" in profile.columns for k in passes)
        }

    def _new_combinations(
        self, compared: pl.DataFrame, dirty: set[int]
    ) -> dict[tuple[str, ...], pl.DataFrame]:
        """The touched clusters' combinations that no stored person held alone before this run:
        those holding a key new to its person, or keys of two people this run joined. A combination
        a stored person already held was looked up when it first appeared, and its pairs were
        weighed then; weighing them again with today's evidence is the next full rebuild's work (as
        splits are). Built as the new keys times the cluster's keys of the pass's other kinds, so
        that a store beacon's hundred visits times its person's names are never even listed."""
        touched = compared.filter(pl.col("cluster").is_in(list(dirty)))
        keys = touched.select("cluster", "attribute_kind", "key").unique()
        held = self._held_before(touched, dirty)
        # a cluster joining stored people: its combinations across them are new, so all its keys count
        joined = held.group_by("cluster").agg(pl.col("element").n_unique().alias("people"))
        new = pl.concat(
            [
                keys.join(held, on=["cluster", "attribute_kind", "key"], how="anti"),
                keys.join(joined.filter(pl.col("people") > 1), on="cluster", how="semi"),
            ]
        ).unique()
        return {
            passes: self._with_new_key(new, keys, passes)
            for passes in self.config.matching.blocking
            if all(k in self.kinds for k in passes)
        }

    def _held_before(self, touched: pl.DataFrame, dirty: set[int]) -> pl.DataFrame:
        """(cluster, element, attribute_kind, key) the touched clusters' stored people held: their
        other records' keys, and the changed nodes' keys as stored."""
        stored_keys = self.units.of(self.graph.previous().select("node", "unified_id")).join(
            self.graph.stored_keys(self.kinds), on="node"
        )
        held = pl.concat(
            [
                touched.filter(pl.col("element") < 0).select("element", "attribute_kind", "key"),
                stored_keys.select("element", "attribute_kind", "key"),
            ]
        )
        roots = {e: self.clusters.find(e) for e in held.get_column("element").unique().to_list()}
        return (
            held.with_columns(cluster=pl.col("element").replace_strict(roots, return_dtype=pl.Int64))
            .filter(pl.col("cluster").is_in(list(dirty)))
            .unique()
        )

    @staticmethod
    def _with_new_key(new: pl.DataFrame, keys: pl.DataFrame, passes: tuple[str, ...]) -> pl.DataFrame:
        """(cluster, <kind>...): each new key of one of the pass's kinds with every key of the others."""

        def of(frame: pl.DataFrame, kind: str) -> pl.DataFrame:
            return frame.filter(pl.col("attribute_kind") == kind).select("cluster", pl.col("key").alias(kind))

        parts = []
        for kind in passes:
            combos = of(new, kind)
            for other in (k for k in passes if k != kind):
                combos = combos.join(of(keys, other), on="cluster")
            parts.append(combos.select("cluster", *passes))
        return pl.concat(parts).unique()

    def _pull_block_partners(
        self, combos: dict[tuple[str, ...], pl.DataFrame]
    ) -> dict[tuple[str, ...], pl.DataFrame]:
        """Add the stored people sharing one of ``combos`` (per pass, (cluster, <kind>...)) as
        units; returns the combinations too common in the whole graph (per pass)."""
        wanted = {passes: c.drop("cluster") for passes, c in combos.items() if not c.is_empty()}
        too_common, found = {}, []
        for passes, holding in (self.graph.block_partners(wanted) if wanted else {}).items():
            sizes = holding.group_by(list(passes)).agg(pl.col("unified_id").n_unique().alias("n"))
            too_common[passes] = sizes.filter(pl.col("n") > self.config.matching.max_block_size).drop("n")
            found.append(
                holding.join(too_common[passes], on=list(passes), how="anti").get_column("unified_id")
            )
        more = pl.concat(found).unique() if found else pl.Series(dtype=pl.String)
        more = more.filter(~more.is_in(list(self.units.element)))
        if more.len():
            summary, keys = self.graph.units(more)
            self.units.add(summary, keys, self.clusters, self.roles)
            if not keys.is_empty():
                self.unit_keys = pl.concat([self.unit_keys, keys])
                # people found now are clusters of their own: their profiles are added to the others
                fresh = self._unit_rows(keys).rename({"element": "cluster"})
                self.profile = pl.concat([self.profile, profiles(fresh, self.kinds)], how="diagonal_relaxed")
        return too_common

    def _frequencies(self, profile: pl.DataFrame, pairs: pl.DataFrame) -> Frequencies:
        """Whole-graph counts (people) of the name keys both sides of some pair hold — the only ones
        scoring reads — and the context values' shares the last full run kept with the model."""
        names = name_kinds(self.config, self.kinds)
        counts = {
            kind: self.graph.people_per_key(kind, self._shared_keys(profile, pairs, kind)).select(
                "key", pl.col("people").cast(pl.Float64).alias("n")
            )
            for kind in names
        }
        contexts = {
            kind: pl.DataFrame(
                {"key": list(shares), "n": [s * self.users for s in shares.values()]},
                schema={"key": pl.String, "n": pl.Float64},
            )
            for kind, shares in self.model.context_shares.items()
            if kind in self.kinds
        }
        return Frequencies(counts, contexts, self.users)

    @staticmethod
    def _shared_keys(profile: pl.DataFrame, pairs: pl.DataFrame, kind: str) -> pl.Series:
        sets = profile.select("cluster", pl.col(f"{kind}__set").alias("keys"))
        return (
            pairs.join(sets, left_on="cluster_a", right_on="cluster")
            .join(sets, left_on="cluster_b", right_on="cluster", suffix="_b")
            .select(pl.col("keys").list.set_intersection(pl.col("keys_b")).alias("key"))
            .explode("key")
            .drop_nulls()
            .get_column("key")
        )

    def _context(
        self,
        profile: pl.DataFrame,
        fragments: set[int],
        dirty: set[int],
        too_common: dict[tuple[str, ...], pl.DataFrame],
    ) -> pl.DataFrame:
        """The scored pairs of ``fragments`` with clusters the increment did not touch."""
        more_common = self._pull_block_partners(
            self._combinations(profile.filter(pl.col("cluster").is_in(list(fragments))))
        )
        profile = self.profile
        for passes, combos in more_common.items():
            too_common[passes] = pl.concat([too_common[passes], combos]) if passes in too_common else combos
        around, _ = candidate_pairs(
            profile, self.config.matching.blocking, self.config.matching.max_block_size, too_common
        )
        touched = pl.col("cluster_a").is_in(list(dirty)) | pl.col("cluster_b").is_in(list(dirty))
        around = around.filter(
            (pl.col("cluster_a").is_in(list(fragments)) | pl.col("cluster_b").is_in(list(fragments)))
            & ~touched
        )
        if around.is_empty():
            return pl.DataFrame(schema=PAIRS_SCHEMA)
        return score_pairs(profile, around, self.model, self._frequencies(profile, around), self.config).pairs

    def _merge(self, pairs: pl.DataFrame, context: pl.DataFrame) -> tuple[Clusters, list[Link]]:
        """Merge matched clusters strongest first, refusing conflicts and ambiguous fragments;
        ``context``: other scored pairs of the same clusters, which can make a match ambiguous but
        are not merged themselves (the stored graph already settled them)."""
        every = pl.concat([pairs, context])
        involved = set(every.get_column("cluster_a").to_list()) | set(every.get_column("cluster_b").to_list())
        values_of = pl.concat(
            [
                self.keyed.filter(pl.col("attribute_kind").is_in(self.roles.matching_exclusive)).select(
                    pl.col("node").alias("element"), "kind_ns", "key"
                ),
                self.units.of(
                    self.unit_keys.filter(pl.col("attribute_kind").is_in(self.roles.matching_exclusive))
                ).select("element", "kind_ns", "key"),
            ]
        )
        roots = {e: self.clusters.find(e) for e in values_of.get_column("element").unique().to_list()}
        owned = values_of.with_columns(
            det=pl.col("element").replace_strict(roots, return_dtype=pl.Int64)
        ).filter(pl.col("det").is_in(list(involved)))
        values = exclusive_sets(owned.select("det", "kind_ns", "key"), "det")
        merged = Clusters(
            max_size=self.config.max_cluster_records,
            fuzzy=self.roles.fuzzy,
            owner_share=self.config.owner_share,
        )
        for root in involved:
            merged.add(root, values.get(root, {}), self.clusters.size[root])
        best = best_matches(every, merged, self.config.matching.min_probability).join(
            pairs.select("cluster_a", "cluster_b"), on=["cluster_a", "cluster_b"], how="semi"
        )
        return merged, constrained_merge(merged, match_groups(best))
