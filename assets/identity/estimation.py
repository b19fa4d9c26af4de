"""Expectation–maximisation of the match model on a deployment's own candidate pairs.

The seed model (m from deterministic links, u from random pairs) suits data whose strong
identifiers and weak attributes are typo'd alike. Another deployment's sources may differ: its
name fields may be noisier, its phones more often typo'd than its member cards. EM lets the
candidate pairs speak, as Splink trains m: the E step scores every candidate pair with the current
model (the very posterior matching uses: u from random pairs, names weighted within their city or
store, prior 1/N); the M step re-estimates each kind's m from the pairs weighted by their match
probability, smoothed towards the seed so that a level the candidates rarely show keeps a sane
value.

A kind's m is learnt only from pairs that some blocking pass *without* that kind found: the pairs
blocked on a name agree on it by construction and would say nothing about how often one person's
names differ. u stays with the random pairs — the population the prior 1/N refers to.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from assets.identity.scoring import FellegiSunter, KindWeights

ITERATIONS = 20
TOLERANCE = 1e-4
SEED_PAIRS = 50.0  # weight of the seed's m in each M step, in pairs


def informative(candidates: pd.DataFrame, passes: tuple[tuple[str, ...], ...], kind: str) -> np.ndarray:
    """Pairs found by some blocking pass that does not contain ``kind`` (agreeing exactly on all of it)."""
    found = np.zeros(len(candidates), dtype=bool)
    for kinds in passes:
        if kind in kinds or not all(k in candidates for k in kinds):
            continue
        found |= np.all([candidates[k].to_numpy(dtype=float) == 0 for k in kinds], axis=0)
    return found


def _m_step(candidates: pd.DataFrame, kind: str, p: np.ndarray, use: np.ndarray, seed: np.ndarray) -> tuple:
    column = candidates[kind].to_numpy(dtype=float)
    keep = use & ~np.isnan(column)
    counts: np.ndarray = np.bincount(column[keep].astype(np.int64), weights=p[keep], minlength=len(seed))[
        : len(seed)
    ]
    counts = counts + SEED_PAIRS * seed
    return tuple(float(x) for x in counts / counts.sum())


def estimate(
    seed: FellegiSunter,
    candidates: pd.DataFrame,
    tf_u: pd.DataFrame,
    folded: pd.DataFrame,
    passes: tuple[tuple[str, ...], ...],
) -> tuple[FellegiSunter, dict[str, float]]:
    """The seed model with m re-estimated on ``candidates`` (feature frame of level indices, with
    their term-frequency adjustment ``tf_u`` / ``folded``); returns it and the fit's figures
    (iterations, share of candidate pairs that are matches)."""
    kinds = [k for k in seed.weights if k in candidates]
    if len(candidates) == 0 or not kinds:
        return seed, {"em_iterations": 0, "em_match_share": 0.0}
    use = {k: informative(candidates, passes, k) for k in kinds}
    model, p, iterations = seed, np.zeros(len(candidates)), 0
    for iterations in range(1, ITERATIONS + 1):  # noqa: B007  (the count is read after the loop)
        p = model.probabilities(candidates[kinds], tf_u, folded)
        weights = dict(model.weights)
        for k in kinds:
            weights[k] = KindWeights(
                model.weights[k].method,
                _m_step(candidates, k, p, use[k], np.asarray(seed.weights[k].m)),
                model.weights[k].u,
            )
        moved = max(float(np.abs(np.subtract(weights[k].m, model.weights[k].m)).max()) for k in kinds)
        model = FellegiSunter(weights, seed.prior)
        if moved < TOLERANCE:
            break
    return model, {"em_iterations": iterations, "em_match_share": round(float(p.mean()), 4)}
