"""The report's match-threshold section: what ``matching.min_probability`` does, read from
``kpi_identity`` — the expected precision of the accepted matches and the pairs just around the
threshold always, the precision / recall / F1 curve over it when the deployment has ground truth.
Kept apart from ``report.py``; it uses its helpers through the module (``report`` imports this one)."""

from __future__ import annotations

import html

import matplotlib.pyplot as plt
import polars as pl

from assets.exports import report_base as base

FIGURES = {
    "match_threshold": "Match threshold (matching.min_probability)",
    "expected_precision_accepted": "Expected precision of the accepted matches (mean match probability)",
    "pairs_just_above_threshold": "Candidate pairs just above the threshold",
    "pairs_just_below_threshold": "Candidate pairs just below the threshold",
}
CURVE = {"threshold_precision": "precision", "threshold_recall": "recall", "threshold_f1": "f1"}


def match_threshold(m: base.Marts) -> base.Section | None:
    if not m.has("kpi_identity", "metric", "dimension", "value"):
        return None
    rows = m.sql(
        "SELECT metric, dimension, value FROM kpi_identity WHERE metric IN "
        f"({', '.join(repr(k) for k in [*FIGURES, *CURVE])})",
        "kpi_identity",
    )
    figures = {metric: value for metric, dimension, value in rows.rows() if metric in FIGURES}
    if "match_threshold" not in figures:
        return None
    table = pl.DataFrame(
        {
            "figure": [label for key, label in FIGURES.items() if key in figures],
            "value": [float(figures[key]) for key in FIGURES if key in figures],
        }
    )
    body = html_note(
        "Label-free: a reviewer samples the pairs just around the threshold (marts.identity_review "
        "lists the closest, masked) and pins decisions in config/identity.yaml."
    ) + base.html_table(table)
    curve = (
        rows.filter(pl.col("metric").is_in(list(CURVE)))
        .with_columns(pl.col("metric").replace_strict(CURVE), threshold=pl.col("dimension").cast(pl.Float64))
        .pivot("metric", index="threshold", values="value")
        .sort("threshold")
    )
    curve = curve.select("threshold", *(c for c in CURVE.values() if c in curve.columns))
    if not curve.is_empty():
        fig, ax = plt.subplots(figsize=(8, 3.2))
        for i, name in enumerate(curve.columns[1:]):
            ax.plot(
                curve["threshold"].to_list(),
                curve[name].to_list(),
                marker="o",
                color=base.PALETTE[i],
                label=name,
            )
        ax.axvline(figures["match_threshold"], color=base.PALETTE[7], linestyle="--", label="threshold")
        ax.set_xlabel("match probability threshold")
        ax.set_title(
            "Against ground truth: precision / recall / F1 of the candidate pairs over the threshold"
        )
        ax.legend(loc="lower left")
        body += base.svg(fig) + base.html_table(curve, 30)
    return base.Section("match-threshold", "Match threshold", body)


def html_note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'
