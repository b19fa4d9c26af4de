"""The named steps a full run and an incremental run are both made of.

A full run applies each step to the whole graph, an incremental run to the changed nodes plus
what the store says about the people around them; writing a step once is what keeps the two
agreeing (``benchmarks/bench_identity.py`` measures how far they do)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import polars as pl

from assets.identity.clustering import Clusters
from assets.identity.comparison import compatible
from assets.identity.normalize import hash_key, normaliser_for
from assets.identity.pins import PIN_CANNOT, PIN_MUST, PIN_RULE
from assets.identity.settings import IdentityConfig


@dataclass(frozen=True)
class Roles:
    """What each declared kind does in resolution, read once from the config."""

    rank: dict[str, int]  # strong kind -> priority of its rule (0 strongest)
    rule_names: list[str]
    exclusive: list[str]
    matching_exclusive: list[str]
    context: list[str]
    fuzzy: dict[str, Callable[[str, str], bool]]  # kinds whose typo'd values are no conflict (names, numbers)

    @classmethod
    def of(cls, config: IdentityConfig) -> Roles:
        kinds = config.attribute_kinds.values()
        # pinned decisions: must_link is the strongest rule, cannot_link an exclusive context kind
        return cls(
            {PIN_MUST: 0} | {kind: i + 1 for i, rule in enumerate(config.rules) for kind in rule.kinds},
            [PIN_RULE] + [rule.name for rule in config.rules],
            [k.name for k in kinds if k.exclusive] + [PIN_CANNOT],
            [k.name for k in kinds if k.exclusive_in_matching] + [PIN_CANNOT],
            [k.name for k in kinds if k.context] + [PIN_CANNOT],
            {
                k.name: similar
                for k in kinds
                if (similar := compatible(k.compare or "exact", config.matching.string_threshold))
            },
        )


def node_kinds(roles: Roles) -> list[str]:
    """The kinds the union-find weighs per record: identifiers and exclusive values. A stored actor
    seen again brings back its old values of these; its other old values (visits, stores: many,
    and evidence only as a person's whole) stay with its person (GraphStore.load_changed)."""
    return sorted(set(roles.rank) | set(roles.exclusive) | set(roles.matching_exclusive))


class Clock:
    """Seconds per phase, reported in the asset metadata."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.laps[phase] = round(now - self._last, 2)
        self._last = now

    def stats(self) -> dict[str, float]:
        return {f"seconds_{phase}": secs for phase, secs in self.laps.items()}


def _normalise_kind(values: pl.Series, normalise: Callable[[str], str | None]) -> pl.Series:
    """Normalise each distinct value once and spread the keys back by dense rank."""
    codes = values.rank("dense").cast(pl.Int64) - 1
    distinct = values.drop_nulls().unique().sort()
    keys = pl.Series([normalise(v) for v in distinct.to_list()], dtype=pl.String)
    return keys.gather(codes)


def normalise_attributes(
    attributes: pl.DataFrame | Iterable[pl.DataFrame], config: IdentityConfig, salt: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Comparable keys for every declared kind (undeclared kinds are ignored), split into
    (kept, blocked): placeholders are matched on their normalised form.

    ``attributes``: one frame, or frames of one kind each read one at a time (a full run at 2 M
    people reads tens of millions of raw values: holding them all beside their keys is what first
    broke one machine's memory)."""
    parts, blocked = [], []
    namespaced = {k.name for k in config.attribute_kinds.values() if k.namespaced}
    by_kind = (
        attributes.partition_by("attribute_kind") if isinstance(attributes, pl.DataFrame) else attributes
    )
    for raw in by_kind:
        part = raw.filter(pl.col("value").is_not_null())
        del raw
        kind = config.attribute_kinds.get(part.item(0, "attribute_kind")) if part.height else None
        if kind is None:
            continue
        kind_name = kind.name
        normalise = normaliser_for(kind.normalise, config.surname_readings)
        part = part.with_columns(key=_normalise_kind(part.get_column("value"), normalise)).drop_nulls("key")
        stop = sorted({normalise(v) or v for v in config.blocked_values.get(kind_name, ())})
        if stop:
            blocked.append(
                part.filter(pl.col("key").is_in(stop)).select("attribute_kind", "namespace", "key").unique()
            )
            part = part.filter(~pl.col("key").is_in(stop))
        if kind.hashed:
            part = part.with_columns(key=_normalise_kind(part.get_column("key"), lambda v: hash_key(v, salt)))
        kind_ns = (
            pl.concat_str([pl.col("attribute_kind"), pl.col("namespace").fill_null("")], separator=":")
            if kind_name in namespaced
            else pl.col("attribute_kind")
        )
        parts.append(
            part.select(
                "node", "attribute_kind", pl.col("namespace").fill_null(""), "key", kind_ns.alias("kind_ns")
            )
        )
    key_columns = dict.fromkeys(["attribute_kind", "namespace", "key", "kind_ns"], pl.String)
    empty = pl.DataFrame(schema={"node": pl.Int64, **key_columns})
    guarded = pl.DataFrame(schema={"attribute_kind": pl.String, "namespace": pl.String, "key": pl.String})
    return (pl.concat(parts) if parts else empty), (pl.concat(blocked) if blocked else guarded)


def strong_identifiers(keyed: pl.DataFrame, roles: Roles) -> pl.DataFrame:
    """The keys of kinds some stitching rule links on, as ``identifier`` (kind:namespace:key) with
    the ``priority`` of their rule."""
    return keyed.filter(pl.col("attribute_kind").is_in(list(roles.rank))).with_columns(
        identifier=pl.concat_str(["kind_ns", "key"], separator=":"),
        priority=pl.col("attribute_kind").replace_strict(roles.rank, return_dtype=pl.Int64),
    )


def exclusive_keys(keyed: pl.DataFrame, kinds: list[str]) -> pl.DataFrame:
    """(node, kind_ns, key) of the given exclusive kinds: the values two people never share."""
    return keyed.filter(pl.col("attribute_kind").is_in(kinds)).select("node", "kind_ns", "key")


def partner_values(strong: pl.DataFrame, exclusive: pl.DataFrame) -> pl.DataFrame:
    """(identifier, partner_kind, key): the exclusive values of other kinds seen on the nodes
    holding each identifier — what the shared-identifier guard counts."""
    return (
        strong.select("identifier", pl.col("kind_ns").alias("own"), "node")
        .join(exclusive.rename({"kind_ns": "partner_kind"}), on="node")
        .filter(pl.col("own") != pl.col("partner_kind"))
        .select("identifier", "partner_kind", "key")
    )


def shared_identifiers(partners: pl.DataFrame, max_partner_values: int) -> pl.DataFrame:
    """Identifiers seen with more than ``max_partner_values`` distinct values of one exclusive
    kind (per namespace) other than their own: a front-desk phone, a store's demo tablet.

    ``partners``: :func:`partner_values`, of every node holding the identifiers. Pins are not
    counted: a must_link pin is never shared (the reviewer meant every record it names), and the
    two sides of a cannot_link are not two values of someone's card."""
    return (
        partners.filter(
            ~pl.col("identifier").str.starts_with(f"{PIN_MUST}:")
            & ~pl.col("partner_kind").cast(pl.String).str.starts_with(PIN_CANNOT)
        )
        .group_by("identifier", "partner_kind")
        .agg(pl.col("key").n_unique().alias("n"))
        .filter(pl.col("n") > max_partner_values)
        .select("identifier")
        .unique()
    )


def without_shared(frame: pl.DataFrame, shared: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (with kind_ns and key) without the values of shared identifiers: a value the guards
    refused as a merge key is neutral evidence — it neither links records nor counts as a
    conflicting exclusive value or as agreement in matching (a store tablet's WeChat id, a
    cashier's number)."""
    return split_shared(frame, shared)[0]


def split_shared(frame: pl.DataFrame, shared: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(:func:`without_shared`, the rows it leaves out): a full run keeps the few refused rows
    beside the usable ones instead of a second copy of every key."""
    refused = _shared_rows(frame, shared)
    if refused is None:
        return frame, frame.clear()
    keep = np.ones(frame.height, dtype=bool)
    keep[refused] = False
    return frame.filter(pl.Series(keep)), frame[refused]


def _shared_rows(frame: pl.DataFrame, shared: pl.DataFrame) -> np.ndarray | None:
    """The row numbers of ``frame`` holding a shared identifier, or None when there are none."""
    if shared.is_empty():
        return None
    # a mask over the frame (a join or an identifier string per row would copy millions of rows to
    # drop a few hundred): rows whose key ends one of the shared identifiers, then those it names
    identifiers = shared.get_column("identifier")
    keys = (  # a key may hold ":" itself: cut each identifier after a kind_ns the frame holds
        shared.select("identifier")
        .join(frame.select(pl.col("kind_ns").unique().cast(pl.String)), how="cross")
        .filter(pl.col("identifier").str.starts_with(pl.col("kind_ns") + ":"))
        .select(pl.col("identifier").str.slice(pl.col("kind_ns").str.len_chars() + 1))
        .to_series()
    )
    maybe = frame.get_column("key").is_in(keys.implode()).to_numpy()
    if not maybe.any():
        return None
    rows = np.flatnonzero(maybe)
    named = (
        frame[rows]
        .select(pl.concat_str(["kind_ns", "key"], separator=":").is_in(identifiers.implode()))
        .to_series()
        .to_numpy()
    )
    return rows[named] if named.any() else None


def guarded_values(blocked: pl.DataFrame, identifiers: pl.DataFrame, shared: pl.DataFrame) -> pl.DataFrame:
    """(attribute_kind, namespace, value, guard): the values never used as merge keys — configured
    placeholders and the shared identifiers among ``identifiers`` (:func:`strong_identifiers`)."""
    return (
        pl.concat(
            [
                blocked.with_columns(guard=pl.lit("blocked_value")),
                identifiers.join(shared, on="identifier", how="semi")
                .select(pl.col("attribute_kind", "namespace").cast(pl.String), "key")
                .unique()
                .with_columns(guard=pl.lit("shared_identifier")),
            ]
        )
        .sort("attribute_kind", "namespace", "key")
        .rename({"key": "value"})
    )


def exclusive_sets(exclusive: pl.DataFrame, by: str) -> dict[int, dict[str, set[str]]]:
    """Per ``by`` (a node or a cluster), its values of each exclusive kind, as union-find takes them."""
    out: dict[int, dict[str, set[str]]] = {}
    grouped = exclusive.group_by(by, "kind_ns").agg(pl.col("key").unique())
    for owner, kind_ns, keys in grouped.iter_rows():
        out.setdefault(owner, {})[kind_ns] = set(keys)
    return out


def context_counts(context: pl.DataFrame | None, nodes: pl.Series) -> dict[int, Counter[str]]:
    """Per node among ``nodes``, its context values ("store:S12") from ``context`` (node, kind_ns, key)."""
    if context is None or context.is_empty():
        return {}
    grouped = (
        context.filter(pl.col("node").is_in(nodes.implode()))
        .select("node", value=pl.concat_str(["kind_ns", "key"], separator=":"))
        .group_by("node")
        .agg(pl.col("value").unique())
    )
    return {node: Counter(values) for node, values in grouped.iter_rows()}


def context_value_counts(context: pl.DataFrame) -> dict[str, int]:
    """Per context kind, how many distinct values ``context`` (node, kind_ns, key) holds."""
    kind = pl.col("kind_ns").cast(pl.String).str.split(":").list.first()
    counts = context.group_by(kind=kind).agg(pl.col("key").n_unique())
    return dict(counts.iter_rows())


def unambiguous(pairs: pl.DataFrame, clusters: Clusters, min_probability: float) -> pl.DataFrame:
    """Settle every cluster whose matches are different people from each other: a receipt naming
    王伟 at a store where two different 王伟 shop. Its partners compete — the chance that it is its
    best partner's, against its other partners that are not that person and against all the rest
    (the prior), is odds* / (1 + odds* + Σ rivals' odds), each pair's odds from its score. From
    ``min_probability`` it keeps that one match (and those with its best partner's compatibles);
    below, it belongs to none of them for sure and loses them all."""
    sides = pl.concat(
        [
            pairs.select(pl.col("cluster_a").alias("c"), pl.col("cluster_b").alias("p"), "score"),
            pairs.select(pl.col("cluster_b").alias("c"), pl.col("cluster_a").alias("p"), "score"),
        ]
    )
    multi = (
        sides.sort("c", "score", "p", descending=[False, True, False])
        .group_by("c", maintain_order=True)
        .agg("p", "score")
        .filter(pl.col("p").list.len() > 1)
    )
    dropped: list[tuple[int, int]] = []
    for c, partners, scores in multi.iter_rows():
        best = partners[0]
        rivals = [
            (p, s) for p, s in zip(partners[1:], scores[1:], strict=False) if not clusters.compatible(best, p)
        ]
        if not rivals:
            continue
        odds = [s / max(1 - s, 1e-12) for s in scores]
        rival_odds = sum(s / max(1 - s, 1e-12) for _, s in rivals)
        settled = odds[0] / (1 + odds[0] + rival_odds) >= min_probability
        dropped += [(c, p) for p, _ in rivals] if settled else [(c, p) for p in partners]
    if not dropped:
        return pairs
    drop = pl.DataFrame(dropped, schema={"c": pl.Int64, "p": pl.Int64}, orient="row")
    drop = pl.concat([drop, drop.select(pl.col("p").alias("c"), pl.col("c").alias("p"))]).rename(
        {"c": "cluster_a", "p": "cluster_b"}
    )
    return pairs.join(drop, on=["cluster_a", "cluster_b"], how="anti")


def best_matches(pairs: pl.DataFrame, merged: Clusters, min_probability: float) -> pl.DataFrame:
    """The unambiguous pairs, strongest first (ties in cluster order, so runs agree)."""
    return unambiguous(pairs, merged, min_probability).sort(
        "score", "cluster_a", "cluster_b", descending=[True, False, False]
    )


def match_groups(best: pl.DataFrame):
    """:func:`best_matches` as the groups :func:`~assets.identity.clustering.constrained_merge` takes."""
    return (
        ("match", (a, b), score) for a, b, score in best.select("cluster_a", "cluster_b", "score").iter_rows()
    )
