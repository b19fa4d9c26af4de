"""A Fellegi–Sunter match model fitted without hand labels.

For each compared kind the model needs two probabilities: *m*, that a true match agrees, and *u*,
that two different people agree by chance. Both are estimated from the data itself:

* *m* from the deterministic links — pairs of records already joined by a strong identifier are
  (nearly always) the same person, so their agreement rate on, say, the address is m;
* *u* from random record pairs, which are (nearly always) different people; for names *u* is the
  frequency of the very name (term-frequency adjustment), so 张伟 agreeing says much less than
  a rare name agreeing.

A pair's match weight is the sum of log2(m/u) over agreeing kinds and log2((1-m)/(1-u)) over
disagreeing ones; missing values weigh nothing. The weights include the kinds a pair was blocked
on, so the prior is per random pair: matching assumes a fragment's person is one of the N known
clusters (prior 1/N), and a pair merges when its posterior reaches ``matching.min_probability``
— with the default 0.5, when the evidence is worth more than log2(N) bits.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

FLOOR = 1e-6


@dataclass(frozen=True)
class KindWeights:
    m: float
    u: float

    @property
    def agree(self) -> float:
        return math.log2(max(self.m, FLOOR) / max(self.u, FLOOR))

    @property
    def disagree(self) -> float:
        return math.log2(max(1 - self.m, FLOOR) / max(1 - self.u, FLOOR))


def agreement_rate(features: pd.DataFrame, kind: str, default: float) -> float:
    """Share of pairs agreeing on ``kind`` among pairs where both sides have a value."""
    column = features[kind].dropna() if kind in features else pd.Series(dtype=float)
    return float(column.mean()) if len(column) else default


@dataclass(frozen=True)
class FellegiSunter:
    weights: dict[str, KindWeights]
    prior: float

    @classmethod
    def fit(
        cls,
        linked: pd.DataFrame,
        random: pd.DataFrame,
        prior: float,
        kinds: list[str],
        default_m: float = 0.9,
    ) -> "FellegiSunter":
        """``linked`` (pairs inside deterministic clusters) and ``random`` pairs are feature frames
        (1 agree, 0 disagree, NaN missing); ``prior`` is P(two random records are one person)."""
        weights = {
            kind: KindWeights(
                min(agreement_rate(linked, kind, default_m), 1 - FLOOR),
                max(agreement_rate(random, kind, FLOOR), FLOOR),
            )
            for kind in kinds
        }
        return cls(weights, min(max(prior, FLOOR), 1 - FLOOR))

    def contributions(self, features: pd.DataFrame, tf_u: pd.DataFrame | None = None) -> pd.DataFrame:
        """Per pair and kind, the log2 Bayes factor it contributes (0 when missing); ``tf_u`` holds
        per-pair u values for term-frequency-adjusted kinds (NaN where not applicable)."""
        out = {}
        for kind, w in self.weights.items():
            f = features[kind].to_numpy(dtype=float)
            agree = np.full(len(f), w.agree)
            if tf_u is not None and kind in tf_u:
                u = tf_u[kind].to_numpy(dtype=float)
                agree = np.where(np.isnan(u), agree, np.log2(max(w.m, FLOOR) / np.maximum(u, FLOOR)))
            out[kind] = np.where(np.isnan(f), 0.0, np.where(f >= 1, agree, w.disagree))
        return pd.DataFrame(out, index=features.index)

    def log2_bayes_factors(self, features: pd.DataFrame, tf_u: pd.DataFrame | None = None) -> np.ndarray:
        return self.contributions(features, tf_u).sum(axis=1).to_numpy()

    def probabilities(self, features: pd.DataFrame, tf_u: pd.DataFrame | None = None) -> np.ndarray:
        return _posterior(self.log2_bayes_factors(features, tf_u), self.prior)

    def to_json(self) -> str:
        return json.dumps({"prior": self.prior, "weights": {k: [w.m, w.u] for k, w in self.weights.items()}})

    @classmethod
    def from_json(cls, text: str) -> "FellegiSunter":
        data = json.loads(text)
        return cls({k: KindWeights(m, u) for k, (m, u) in data["weights"].items()}, data["prior"])

    def describe(self) -> dict[str, dict[str, float]]:
        return {
            kind: {
                "m": round(w.m, 5),
                "u": round(w.u, 7),
                "agree_weight": round(w.agree, 3),
                "disagree_weight": round(w.disagree, 3),
            }
            for kind, w in self.weights.items()
        }


def _posterior(log2_bf: np.ndarray, prior: float) -> np.ndarray:
    logit = log2_bf + math.log2(prior / (1 - prior))
    return 1.0 / (1.0 + np.exp2(-np.clip(logit, -60, 60)))
