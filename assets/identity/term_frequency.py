"""Term-frequency adjustment of names within their city or store.

Two records agreeing on 张伟 say less than two agreeing on 欧阳娜娜, and two agreeing on a name *in
上海* say less than in a small town: the chance that two different people share the name there is
about the share of clusters holding that name in that city. For a pair sharing a name and a value of
a context kind (``matching.term_frequency_context``: city, store), u of the name is

    max(share of the name × share of the context value,
        (clusters holding both − 2) / clusters)

— the first term is what independence predicts (a rare name in a big city still weighs less than in
a small one), the second what the data shows beyond the pair itself (six 张秀英 in 上海 are six
people, not one). The context's own agreement is then inside that u: its weight is folded into the
name's (its m joins, its u does not count twice). Pairs sharing a name but no context value get
the name's overall share, as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import polars as pl


@dataclass(frozen=True)
class Frequencies:
    """How many clusters hold each name key and each context value."""

    names: dict[str, pl.DataFrame]  # name kind -> (key, n)
    contexts: dict[str, pl.DataFrame]  # context kind -> (key, n)
    total: int

    @classmethod
    def of_profile(
        cls, profile: pl.DataFrame, name_kinds: list[str], context_kinds: list[str]
    ) -> Frequencies:
        """Counted on the profiles of every cluster (a full run)."""
        contexts = [c for c in context_kinds if f"{c}__set" in profile.columns]
        return cls(
            {k: key_counts(profile, k) for k in name_kinds},
            {c: key_counts(profile, c) for c in contexts},
            profile.height,
        )

    def shares(self) -> dict[str, dict[str, float]]:
        """Each context value's share of clusters (kept with the match model for incremental runs)."""
        total = max(self.total, 1)
        return {
            kind: {key: n / total for key, n in counts.iter_rows()} for kind, counts in self.contexts.items()
        }


def key_counts(profile: pl.DataFrame, kind: str) -> pl.DataFrame:
    return (
        profile.select(pl.col(f"{kind}__set").alias("key"))
        .drop_nulls()
        .explode("key")
        .group_by("key")
        .len("n")
    )


def _shared(profile: pl.DataFrame, pairs: pl.DataFrame, kind: str, alias: str) -> pl.DataFrame:
    """(i, <alias>): the values of ``kind`` both clusters of pair i hold."""
    column = f"{kind}__set"
    return (
        pairs.with_row_index("i")
        .join(profile.select("cluster", pl.col(column).alias("x")), left_on="cluster_a", right_on="cluster")
        .join(profile.select("cluster", pl.col(column).alias("y")), left_on="cluster_b", right_on="cluster")
        .select(pl.col("i").cast(pl.Int64), pl.col("x").list.set_intersection(pl.col("y")).alias(alias))
        .explode(alias)
        .drop_nulls()
    )


def adjust(
    profile: pl.DataFrame, pairs: pl.DataFrame, freq: Frequencies
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per pair: u of each name kind's exact agreement (NaN where no name is shared), and per
    context kind whether its agreement was folded into that u."""
    total = max(freq.total, 1)
    tf_u, folded = {}, {c: np.zeros(pairs.height, dtype=bool) for c in freq.contexts}
    for kind, name_counts in freq.names.items():
        if f"{kind}__set" not in profile.columns:
            continue
        names = (
            _shared(profile, pairs, kind, "key")
            .join(name_counts, on="key")
            .with_columns(u=pl.col("n") / total)
        )
        best = names.group_by("i").agg(pl.col("u").min(), pl.lit(None, dtype=pl.String).alias("context"))
        for context, value_counts in freq.contexts.items():
            if f"{context}__set" not in profile.columns:
                continue
            both = (
                names.select("i", "key", pl.col("n").alias("n_name"))
                .join(_shared(profile, pairs, context, "value"), on="i")
                .join(value_counts.rename({"key": "value", "n": "n_value"}), on="value")
                .select(
                    "i", u=pl.col("n_name") * pl.col("n_value") / (total * total), context=pl.lit(context)
                )
            )
            best = (
                pl.concat([best, both.group_by("i").agg(pl.col("u").min(), pl.col("context").first())])
                .sort("i", "u", pl.col("context").is_null())
                .group_by("i", maintain_order=True)
                .first()
            )
        u = np.full(pairs.height, np.nan)
        u[best.get_column("i").to_numpy()] = best.get_column("u").to_numpy()
        tf_u[kind] = u
        for context, flags in folded.items():
            chosen = best.filter(pl.col("context") == context).get_column("i").to_numpy()
            flags[chosen] = True
    index = pd.RangeIndex(pairs.height)
    return pd.DataFrame(tf_u, index=index), pd.DataFrame(folded, index=index)
