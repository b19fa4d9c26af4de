"""Agreement levels: how two keys of one kind compare, finer than equal / different.

A match model that only knows "equal" or "different" must choose between counting a one-digit
typo in a mobile as a conflict (splitting a person) or any two numbers as agreeing. Levels let it
learn, per deployment, how much each kind of difference says (:mod:`assets.identity.scoring`):

* identifiers (``compare: digits``): exact / one substitution / one adjacent transposition /
  different — what a cashier's or a form's typo does to a number;
* names (``compare: name``): keys are order-free token sets (``normalize_person_name``), so
  ``Zhang Wei`` / ``张伟`` are equal; the rest is exact / similar (a letter typo in a romanised
  token) / partial (tokens shared but others differ: 刘洋 / 刘燕, 陈桂兰 / 陈兰 — relatives, not one
  person) / different;
* ``exact`` and ``string`` kinds: agree / different.

Level 0 is always the strongest agreement and the last level "different"; a level index is what
feature frames hold (NaN: a side has no value). :func:`compatible` says which levels are no
conflict between exclusive values (a typo'd number, a typo'd name).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler, Levenshtein

from assets.identity.normalize import is_pinyin_syllable

LEVELS: dict[str, tuple[str, ...]] = {
    "exact": ("agree", "different"),
    "string": ("agree", "different"),
    "digits": ("exact", "substitution", "transposition", "different"),
    "name": ("exact", "similar", "partial", "different"),
}
# Levels that are no conflict between two values of an exclusive kind.
COMPATIBLE = {"exact": 0, "string": 0, "digits": 2, "name": 1}
# Before any data: what share of one person's pairs falls in each level (the seed of m's prior).
DEFAULT_M = {
    "exact": (0.9, 0.1),
    "string": (0.9, 0.1),
    "digits": (0.93, 0.02, 0.005, 0.045),
    "name": (0.93, 0.03, 0.01, 0.03),
}
MAX_SET = 4  # keys per side compared pairwise; beyond, only the first ones (sets are sorted by frequency)


def digits_level(a: str, b: str) -> int:
    """0 equal, 1 one substituted character, 2 two adjacent characters swapped, 3 otherwise."""
    if a == b:
        return 0
    if len(a) == len(b):
        if Levenshtein.distance(a, b, weights=(1, 1, 1), score_cutoff=1) == 1:
            return 1
        if DamerauLevenshtein.distance(a, b, score_cutoff=1) == 1:
            return 2
    return 3


@cache
def _typo(a: str, b: str, threshold: float) -> bool:
    """Two differing name tokens are one typo'd token when one of them is no pinyin syllable (two
    syllables are two different characters: 洋 / 燕) and they are similar."""
    if is_pinyin_syllable(a) and is_pinyin_syllable(b):
        return False
    return JaroWinkler.similarity(a, b) >= threshold


def name_level(a: str, b: str, threshold: float) -> int:
    """0 same tokens, 1 the differing tokens pair up as typos, 2 some tokens shared and the others
    not (a relative: same surname, another given name), 3 nothing in common."""
    if a == b:
        return 0
    left, right = a.split(), b.split()
    rest_b = list(right)
    rest_a = []
    for token in left:
        if token in rest_b:
            rest_b.remove(token)
        else:
            rest_a.append(token)
    shared = len(left) - len(rest_a)
    if len(rest_a) == len(rest_b) and rest_a:
        unpaired = list(rest_b)
        for token in rest_a:
            partner = next((t for t in unpaired if _typo(token, t, threshold)), None)
            if partner is None:
                break
            unpaired.remove(partner)
        else:
            return 1
    if (
        not shared
        and JaroWinkler.similarity(a.replace(" ", ""), b.replace(" ", "")) >= threshold
        and not (all(map(is_pinyin_syllable, left)) and all(map(is_pinyin_syllable, right)))
    ):
        return 1
    return 2 if shared else 3


def string_level(a: str, b: str, threshold: float) -> int:
    return 0 if a == b or JaroWinkler.similarity(a, b) >= threshold else 1


def exact_level(a: str, b: str, threshold: float) -> int:
    return 0 if a == b else 1


def level_function(method: str, threshold: float) -> Callable[[str, str], int]:
    """The level of two single keys for a compare method."""
    if method == "digits":
        return digits_level
    chosen = {"name": name_level, "string": string_level}.get(method, exact_level)
    return lambda a, b: chosen(a, b, threshold)


def set_level(
    left: list[str] | None, right: list[str] | None, level: Callable[[str, str], int], worst: int
) -> float:
    """The best level over the keys two clusters hold (NaN when a side has none)."""
    if left is None or right is None or not len(left) or not len(right):
        return float("nan")
    best = worst
    for x in left[:MAX_SET]:
        for y in right[:MAX_SET]:
            best = min(best, level(x, y))
            if best == 0:
                return 0.0
    return float(best)


def compatible(method: str, threshold: float) -> Callable[[str, str], bool] | None:
    """Whether two different values of an exclusive kind compared this way may be one person's
    (None: never — any difference is a conflict)."""
    if method not in COMPATIBLE or method == "exact":
        return None
    limit = COMPATIBLE[method]
    level = level_function(method, threshold)
    return lambda a, b: level(a, b) <= limit
