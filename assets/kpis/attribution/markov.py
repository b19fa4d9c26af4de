"""Markov-chain attribution of order 1 to MAX_MARKOV_ORDER, over channels or campaigns.

The chain (start) → states → (conversion) | (null) is estimated from the converting paths and the
closed non-converting ones (open paths are left out: they have not failed yet). In an order-k chain a
state is the last k touches' labels (fewer at the start of a path), so the chain remembers where a
journey came from; repeated labels are kept (as self-transitions at order 1, which change no
absorption probability).

Removing a label sends every transition into a state containing it to (null). With absorption solved
exactly (sparse LU of I − Q):
- removal effect RE_c = 1 − P(conversion | c removed) / P(conversion); the conversions are credited in
  proportion to RE_c;
- value removal effect RE^v_c = 1 − V(c removed) / V, with V the expected value absorbed from (start)
  on the same chain when each state's transition to (conversion) is worth the mean value of the
  conversions that left from it (the value-weighted chain). The value is credited in proportion to
  RE^v_c, so a label that leads to the valuable conversions gets more of the value than of the count.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from numpy.typing import NDArray
from scipy import sparse
from scipy.sparse.linalg import splu

from assets.kpis.attribution.frames import level_frame
from assets.kpis.attribution.paths import Paths, touch_label
from assets.kpis.attribution.settings import CONVERSION, NULL, START, markov_model_name

FloatArray = NDArray[np.float64]


class Chain:
    """An order-k chain's states and transition counts. States are integers: 0 (start), 1..S (the
    observed histories, ``codes`` in base n + 1 with digit j the label j touches back, 0 = none),
    S + 1 (conversion), S + 2 (null). ``conversion_value[s]`` sums the values converting from s."""

    def __init__(self, paths: Paths, order: int, level: str) -> None:
        self.order, self.labels = order, _labels(paths, level)
        coded = [self._coded(frame, level) for frame in (paths.touches, paths.non_converting)]
        self.codes = np.unique(np.concatenate([c for c, _, _ in coded]))
        size = len(self.codes) + 3
        rows: list[NDArray[np.int64]] = []
        cols: list[NDArray[np.int64]] = []
        for absorbing, (codes, first, last) in zip((size - 2, size - 1), coded, strict=True):
            state = np.searchsorted(self.codes, codes) + 1
            following = np.where(last, absorbing, np.r_[state[1:], 0])
            rows += [state, np.zeros(int(first.sum()), np.int64)]
            cols += [following, state[first]]
        self.counts = sparse.coo_matrix(
            (np.ones(sum(len(r) for r in rows)), (np.concatenate(rows), np.concatenate(cols))),
            shape=(size, size),
        ).tocsr()
        self.conversion_value = np.zeros(size)
        codes, _, last = coded[0]
        values = paths.conversions.sort("path_id")["value"].to_numpy()
        np.add.at(self.conversion_value, np.searchsorted(self.codes, codes[last]) + 1, values)

    def _coded(
        self, frame: pl.DataFrame, level: str
    ) -> tuple[NDArray[np.int64], NDArray[np.bool_], NDArray[np.bool_]]:
        """Per touch (in path order): its state code, whether it opens and whether it closes its path."""
        ordered = frame.sort("path_id", "position")
        label = ordered.select(touch_label(level).cast(pl.Enum(self.labels)).to_physical())
        digit = label.to_series().to_numpy().astype(np.int64) + 1
        position = ordered["position"].to_numpy().astype(np.int64)
        path = ordered["path_id"].to_numpy()
        base, code = len(self.labels) + 1, digit.copy()
        for back in range(1, self.order):
            earlier = np.r_[np.zeros(back, np.int64), digit][: len(digit)]
            code += np.where(position >= back, earlier, 0) * base**back
        last = np.r_[path[1:] != path[:-1], True] if len(path) else np.zeros(0, bool)
        return code, position == 0, last

    def contains(self, label: int) -> NDArray[np.bool_]:
        """Which observed states (1..S) have ``label`` (0-based) among their last k touches."""
        base = len(self.labels) + 1
        digits = [(self.codes // base**j) % base for j in range(self.order)]
        return np.any(np.stack(digits) == label + 1, axis=0)

    def state_names(self) -> list[str]:
        base, names = len(self.labels) + 1, []
        for code in self.codes:
            digits = [(code // base**j) % base for j in range(self.order)]
            names.append(" > ".join(self.labels[d - 1] for d in reversed(digits) if d))
        return [START, *names, CONVERSION, NULL]


def _labels(paths: Paths, level: str) -> list[str]:
    """The distinct labels of every touch, sorted; found by polars, since the touches are millions
    and their labels a few hundred (as Python lists, half of a Markov model's time at 200 k people)."""
    frames = [frame.select(touch_label(level)) for frame in (paths.touches, paths.non_converting)]
    return sorted(pl.concat(frames).to_series().unique().to_list())


def absorption(chain: Chain, removed: int | None = None) -> tuple[float, float]:
    """(P(conversion), expected value absorbed) from (start), with the states holding label
    ``removed`` (0-based) sending their inflow to (null)."""
    out = np.asarray(chain.counts.sum(axis=1)).ravel()
    scale = sparse.diags(np.divide(1.0, out, out=np.zeros_like(out), where=out > 0))
    probability = (scale @ chain.counts).tocsc()
    size = probability.shape[0]
    keep = np.ones(size - 3, bool) if removed is None else ~chain.contains(removed)
    transient = np.r_[0, np.nonzero(keep)[0] + 1]
    q = probability[transient][:, transient]
    conversion = probability[transient, size - 2].toarray().ravel()
    value_rate = np.divide(
        chain.conversion_value[transient],
        out[transient],
        out=np.zeros(len(transient)),
        where=out[transient] > 0,
    )
    system = (sparse.identity(len(transient), format="csc") - q).tocsc()
    solved = splu(system).solve(np.column_stack([conversion, value_rate]))
    return float(solved[0, 0]), float(solved[0, 1])


def markov_removal_effects(paths: Paths, order: int = 1, level: str = "channel") -> pl.DataFrame:
    """Per label: removal_effect and share (of the conversion probability), value_removal_effect and
    value_share (of the expected value); shares sum to 1 (all 0 if nothing converts)."""
    schema = {
        "channel": pl.String,
        "removal_effect": pl.Float64,
        "share": pl.Float64,
        "value_removal_effect": pl.Float64,
        "value_share": pl.Float64,
    }
    if not _labels(paths, level):
        return pl.DataFrame(schema=schema)
    chain = Chain(paths, order, level)
    n = len(chain.labels)
    base = np.array(absorption(chain))
    effects = np.zeros((n, 2))
    for c in range(n):
        if base.max() > 0:
            removed = np.array(absorption(chain, c))
            effects[c] = np.maximum(0.0, 1.0 - np.divide(removed, base, out=np.ones(2), where=base > 0))
    total = effects.sum(axis=0)
    share = np.divide(effects, total, out=np.zeros_like(effects), where=total > 0)
    return pl.DataFrame(
        {
            "channel": chain.labels,
            "removal_effect": effects[:, 0],
            "share": share[:, 0],
            "value_removal_effect": effects[:, 1],
            "value_share": share[:, 1],
        },
        schema=schema,
    )


def markov_transition_matrix(paths: Paths, order: int = 1, level: str = "channel") -> pl.DataFrame:
    """Observed transitions: from_state, to_state, transitions (count), probability (share of
    from_state's outgoing transitions). States are (start), histories "a > b > c", (conversion), (null)."""
    schema = {
        "from_state": pl.String,
        "to_state": pl.String,
        "transitions": pl.Int64,
        "probability": pl.Float64,
    }
    if not _labels(paths, level):
        return pl.DataFrame(schema=schema)
    chain = Chain(paths, order, level)
    counts = chain.counts.tocoo()
    out = np.asarray(chain.counts.sum(axis=1)).ravel()
    names = np.array(chain.state_names(), dtype=object)
    return pl.DataFrame(
        {
            "from_state": names[counts.row].tolist(),
            "to_state": names[counts.col].tolist(),
            "transitions": counts.data.astype(np.int64),
            "probability": counts.data / out[counts.row],
        },
        schema=schema,
    ).sort("from_state", "to_state")


def markov_credits(paths: Paths, order: int, level: str) -> pl.DataFrame:
    """Conversions credited by removal-effect share, value by value-removal-effect share."""
    effects = markov_removal_effects(paths, order, level)
    return level_frame(
        markov_model_name(order, level),
        level,
        effects["channel"].to_list(),
        effects["share"].to_numpy() * paths.conversions.height,
        effects["value_share"].to_numpy() * float(paths.conversions["value"].sum()),
    )
