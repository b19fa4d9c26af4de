"""A Fellegi–Sunter match model over agreement levels, learnt from each deployment's own data.

For each compared kind and each agreement level (:mod:`assets.identity.comparison`: exact, one
typo, different…) the model holds *m*, the probability that one person's two records compare at
that level, and *u*, the probability for two different people. Nothing is hand-labelled:

* *m* is seeded by the deterministic links (pairs joined by a strong identifier are one person)
  and then re-estimated by expectation–maximisation on the deployment's own candidate pairs
  (:mod:`assets.identity.estimation`), so other sources or other noise get their own weights;
* *u* comes from random record pairs, which are (nearly always) different people — the population
  the prior below refers to; for names *u* is the frequency of the very name within its city or
  store (:mod:`assets.identity.term_frequency`), so 张秀英 in 上海 says little.

A pair's match weight is the sum over kinds of log2(m/u) at its level; missing values weigh
nothing. The weights include the kinds a pair was blocked on, so the prior is per random pair:
matching assumes a fragment's person is one of the N known clusters (prior 1/N), and a pair merges
when its posterior reaches ``matching.min_probability`` — with the default 0.5, when the evidence
is worth more than log2(N) bits.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from assets.identity.comparison import DEFAULT_M, LEVELS

FLOOR = 1e-6
MODEL_VERSION = 4  # stored models of another version are not reused (an incremental run rebuilds in full)
PRIOR_PAIRS = 20.0  # pseudo-pairs of the method's default level shares, so an unseen level is not impossible


@dataclass(frozen=True)
class KindWeights:
    method: str
    m: tuple[float, ...]
    u: tuple[float, ...]

    @property
    def weights(self) -> np.ndarray:
        """log2(m/u) per level."""
        return np.log2(np.maximum(self.m, FLOOR) / np.maximum(self.u, FLOOR))


def level_shares(
    features: pd.DataFrame,
    kind: str,
    levels: int,
    prior: tuple[float, ...] | None = None,
    weight: np.ndarray | None = None,
) -> tuple[float, ...]:
    """Share of pairs at each level among pairs where both sides have a value (optionally weighted,
    and smoothed towards ``prior`` with PRIOR_PAIRS pseudo-pairs)."""
    column = features[kind].to_numpy(dtype=float) if kind in features else np.empty(0)
    present = ~np.isnan(column)
    w: np.ndarray = np.ones(len(column)) if weight is None else weight
    counts: np.ndarray = np.bincount(column[present].astype(np.int64), weights=w[present], minlength=levels)[
        :levels
    ]
    if prior is not None:
        counts = counts + PRIOR_PAIRS * np.asarray(prior)
    total = counts.sum()
    shares = counts / total if total > 0 else np.full(levels, 1.0 / levels)
    return tuple(float(max(s, FLOOR)) for s in shares)


@dataclass(frozen=True)
class FellegiSunter:
    weights: dict[str, KindWeights]
    prior: float
    # per context kind (term_frequency_context), each value's share of clusters: what an incremental
    # run weighs names within, without counting the people of every store and city again
    context_shares: dict[str, dict[str, float]] = field(default_factory=dict)
    # per context kind, how many distinct values the full run's graph held (the owner rule's chance
    # of a value a person was never seen with, :mod:`assets.identity.clustering`)
    context_values: dict[str, int] = field(default_factory=dict)

    @classmethod
    def fit(
        cls, linked: pd.DataFrame, random: pd.DataFrame, prior: float, methods: dict[str, str]
    ) -> FellegiSunter:
        """The seed model: ``linked`` (pairs inside deterministic clusters) give m, ``random`` pairs u;
        both are feature frames of level indices (NaN missing); ``prior``: P(two random records are
        one person); ``methods``: each compared kind's compare method."""
        weights = {}
        for kind, method in methods.items():
            levels = len(LEVELS[method])
            weights[kind] = KindWeights(
                method,
                level_shares(linked, kind, levels, DEFAULT_M[method]),
                level_shares(random, kind, levels),
            )
        return cls(weights, min(max(prior, FLOOR), 1 - FLOOR))

    def contributions(
        self, features: pd.DataFrame, tf_u: pd.DataFrame | None = None, folded: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Per pair and kind, the log2 Bayes factor it contributes (0 when missing). ``tf_u``: per-pair
        u of the exact level for term-frequency-adjusted kinds (NaN where not applicable); ``folded``:
        per pair, the context kinds whose agreement is already inside that u (they then add nothing
        of their own, their m joins the name's)."""
        out = {}
        contexts = pd.DataFrame(index=features.index) if folded is None else folded
        for kind, w in self.weights.items():
            level = features[kind].to_numpy(dtype=float)
            present = ~np.isnan(level)
            value = np.zeros(len(level))
            value[present] = w.weights[level[present].astype(np.int64)]
            if tf_u is not None and kind in tf_u:
                u = tf_u[kind].to_numpy(dtype=float)
                m = np.full(len(u), max(w.m[0], FLOOR))
                for context in contexts.columns:
                    use = contexts[context].to_numpy(dtype=bool)
                    m = np.where(use, m * max(self.weights[context].m[0], FLOOR), m)
                exact = present & (level == 0) & ~np.isnan(u)
                value = np.where(exact, np.log2(m / np.maximum(np.nan_to_num(u, nan=1.0), FLOOR)), value)
            out[kind] = value
        frame = pd.DataFrame(out, index=features.index)
        for context in contexts.columns:
            if context in frame:
                frame[context] = np.where(contexts[context].to_numpy(dtype=bool), 0.0, frame[context])
        return frame

    def log2_bayes_factors(
        self, features: pd.DataFrame, tf_u: pd.DataFrame | None = None, folded: pd.DataFrame | None = None
    ) -> np.ndarray:
        return self.contributions(features, tf_u, folded).sum(axis=1).to_numpy()

    def probabilities(
        self, features: pd.DataFrame, tf_u: pd.DataFrame | None = None, folded: pd.DataFrame | None = None
    ) -> np.ndarray:
        return posterior(self.log2_bayes_factors(features, tf_u, folded), self.prior)

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": MODEL_VERSION,
                "prior": self.prior,
                "context_shares": self.context_shares,
                "context_values": self.context_values,
                "weights": {k: {"method": w.method, "m": w.m, "u": w.u} for k, w in self.weights.items()},
            }
        )

    @classmethod
    def from_json(cls, text: str) -> FellegiSunter | None:
        """The stored model, or None when it was stored by another model version."""
        data = json.loads(text)
        if data.get("version") != MODEL_VERSION:
            return None
        return cls(
            {k: KindWeights(w["method"], tuple(w["m"]), tuple(w["u"])) for k, w in data["weights"].items()},
            data["prior"],
            data.get("context_shares", {}),
            data.get("context_values", {}),
        )

    def describe(self) -> dict[str, dict]:
        """Per kind: m, u and weight of each level, and the weights of full agreement and difference."""
        out = {}
        for kind, w in self.weights.items():
            weights = w.weights
            out[kind] = {
                "levels": [
                    {"level": name, "m": round(m, 5), "u": round(u, 7), "weight": round(float(x), 3)}
                    for name, m, u, x in zip(LEVELS[w.method], w.m, w.u, weights, strict=False)
                ],
                "agree_weight": round(float(weights[0]), 3),
                "disagree_weight": round(float(weights[-1]), 3),
            }
        return out

    def changes(self, previous: FellegiSunter | None) -> dict[str, float]:
        """Per kind both models compare alike, the largest change (in bits, signed) of a level's weight."""
        if previous is None:
            return {}
        out = {}
        for kind, w in self.weights.items():
            old = previous.weights.get(kind)
            if old is not None and old.method == w.method:
                delta = w.weights - old.weights
                out[kind] = round(float(delta[np.argmax(np.abs(delta))]), 3)
        return out


def posterior(log2_bf: np.ndarray, prior: float) -> np.ndarray:
    logit = log2_bf + math.log2(prior / (1 - prior))
    return 1.0 / (1.0 + np.exp2(-np.clip(logit, -60, 60)))
