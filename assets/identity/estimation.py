"""Expectation–maximisation of the match model on a deployment's own candidate pairs.

The seed model (m from deterministic links, u from random pairs) suits data whose strong
identifiers and weak attributes are typo'd alike. Another deployment's sources may differ: its
name fields may be noisier, its phones more often typo'd than its member cards. EM lets the
candidate pairs speak: each pair is a mixture of "one person" (level distribution m) and "two
people" (level distribution v *within the candidates*, which agree on their blocking kinds by
construction); the E step scores the pairs, the M step re-estimates m, v and the share of matches,
all smoothed towards the seed so that a level the candidates rarely show keeps a sane value.

Only m leaves the estimation: v describes pairs chosen by blocking, whereas scoring needs u of
random pairs — the population the prior 1/N refers to — which the seed already holds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from assets.identity.scoring import FLOOR, FellegiSunter, KindWeights, level_shares

ITERATIONS = 25
TOLERANCE = 1e-4
SEED_PAIRS = 200.0  # weight of the seed's m in each M step, in pairs


def _log_ratios(features: pd.DataFrame, m: dict[str, np.ndarray], v: dict[str, np.ndarray]) -> np.ndarray:
    total = np.zeros(len(features))
    for kind in m:
        level = features[kind].to_numpy(dtype=float)
        present = ~np.isnan(level)
        ratio = np.log(np.maximum(m[kind], FLOOR) / np.maximum(v[kind], FLOOR))
        total[present] += ratio[level[present].astype(np.int64)]
    return total


def _smoothed(features: pd.DataFrame, kind: str, weight: np.ndarray, seed: np.ndarray) -> np.ndarray:
    column = features[kind].to_numpy(dtype=float)
    present = ~np.isnan(column)
    counts = np.bincount(column[present].astype(np.int64), weights=weight[present], minlength=len(seed))
    counts = counts[:len(seed)] + SEED_PAIRS * seed
    return np.maximum(counts / counts.sum(), FLOOR)


def estimate(seed: FellegiSunter, candidates: pd.DataFrame) -> tuple[FellegiSunter, dict[str, float]]:
    """The seed model with m re-estimated on ``candidates`` (feature frame of level indices);
    returns it and the fit's figures (iterations, share of candidate pairs that are matches)."""
    kinds = [k for k in seed.weights if k in candidates]
    if len(candidates) == 0 or not kinds:
        return seed, {"em_iterations": 0, "em_match_share": 0.0}
    m = {k: np.asarray(seed.weights[k].m, dtype=float) for k in kinds}
    seed_m = {k: v.copy() for k, v in m.items()}
    v = {k: np.asarray(level_shares(candidates, k, len(m[k])), dtype=float) for k in kinds}
    seed_v = {k: x.copy() for k, x in v.items()}
    share, iterations = 0.1, 0
    for iterations in range(1, ITERATIONS + 1):
        logit = np.log(share / (1 - share)) + _log_ratios(candidates, m, v)
        p = 1.0 / (1.0 + np.exp(-np.clip(logit, -50, 50)))
        new_share = float(np.clip(p.mean(), 1e-4, 1 - 1e-4))
        new_m = {k: _smoothed(candidates, k, p, seed_m[k]) for k in kinds}
        v = {k: _smoothed(candidates, k, 1 - p, seed_v[k]) for k in kinds}
        moved = max([abs(new_share - share)] + [float(np.abs(new_m[k] - m[k]).max()) for k in kinds])
        m, share = new_m, new_share
        if moved < TOLERANCE:
            break
    weights = {k: KindWeights(w.method, tuple(float(x) for x in m[k]), w.u) if k in m else w
               for k, w in seed.weights.items()}
    return FellegiSunter(weights, seed.prior), {"em_iterations": iterations, "em_match_share": round(share, 4)}
