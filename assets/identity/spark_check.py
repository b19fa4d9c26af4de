"""How identity on Spark is held to the DuckDB engine: two outputs row for row, floats within a
relative tolerance (``frame_differences``), and two partitions of nodes whatever their labels
(``same_groups``, ``partition_agreement``: the benchmark's step-by-step figures)."""

from __future__ import annotations

import numpy as np
import polars as pl

from assets.identity.evaluation import truth_scores


def partition_agreement(left: pl.DataFrame, right: pl.DataFrame) -> float:
    """Pairwise F1 of ``right``'s clusters against ``left``'s, both (node, det)."""
    as_resolved = right.select(source=pl.lit(""), record_id="node", unified_id="det")
    as_truth = left.select(source=pl.lit(""), record_id="node", person_id="det")
    return float(truth_scores(as_resolved, as_truth).get("pairwise_f1", 1.0))


def same_groups(left: pl.DataFrame, right: pl.DataFrame) -> bool:
    """The same nodes in the same groups, both (node, det), whatever the labels (the pairwise
    agreement is rounded to five decimals: it cannot tell one node in a million)."""
    canonical = [
        f.select("node", smallest=pl.col("node").min().over("det")).sort("node") for f in (left, right)
    ]
    return canonical[0].equals(canonical[1])


def frame_differences(expected: pl.DataFrame, got: pl.DataFrame, rtol: float = 1e-9) -> list[str]:
    """What differs between two frames of the same rows in any order: exact, but for floats within
    ``rtol`` (a sum in another order differs in its last bits)."""
    missing = sorted(set(expected.columns) - set(got.columns))
    if missing or expected.height != got.height:
        return [f"missing columns {missing}"] if missing else [f"{expected.height} rows against {got.height}"]
    got = got.select(expected.columns).cast(expected.schema)
    floats = [c for c, t in expected.schema.items() if t == pl.Float64]
    order = [c for c, t in expected.schema.items() if c not in floats and not isinstance(t, pl.List)]
    left, right = expected.sort(order, nulls_last=True), got.sort(order, nulls_last=True)
    differences = [] if left.drop(floats).equals(right.drop(floats)) else ["rows differ"]
    for column in floats:
        a, b = (side.get_column(column).to_numpy() for side in (left, right))
        if not np.allclose(a, b, rtol=rtol, atol=0.0, equal_nan=True):
            differences.append(f"{column}: values differ beyond {rtol} relative")
    return differences
