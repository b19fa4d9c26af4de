"""The report's analytics sections: CLV (which model, how it did on the holdout) and attribution
(models and Markov orders side by side, campaigns, the journeys). Kept apart from ``report.py`` so
each stays readable; they use the helpers of ``report_base``."""

from __future__ import annotations

import html

import matplotlib.pyplot as plt
import polars as pl

from assets.exports import report_base as base


def _chosen_model(fits: pl.DataFrame | None) -> str | None:
    """The frequency model the predictions used (the prediction fit that is not the spend model)."""
    if fits is None or fits.is_empty():
        return None
    picked = fits.filter((pl.col("fit") == "prediction") & (pl.col("model") != "gamma_gamma"))
    return picked["model"][0] if picked.height else None


def _tracking_chart(tracking: pl.DataFrame, chosen: str | None) -> str:
    """Cumulative and weekly holdout purchases, actual against each model's expectation; the chosen
    model drawn solid."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 3.4))
    actual = tracking.filter(pl.col("model") == tracking["model"][0])
    ax.plot(
        actual["week"].to_list(), actual["actual_cumulative"].to_list(), color="#222", lw=2, label="actual"
    )
    ax2.plot(actual["week"].to_list(), actual["actual"].to_list(), color="#222", lw=2, label="actual")
    for i, (model,) in enumerate(tracking.select("model").unique(maintain_order=True).rows()):
        part = tracking.filter(pl.col("model") == model)
        style = {"color": base.PALETTE[i % len(base.PALETTE)], "ls": "-" if model == chosen else "--"}
        ax.plot(part["week"].to_list(), part["expected_cumulative"].to_list(), label=model, **style)
        ax2.plot(part["week"].to_list(), part["expected"].to_list(), label=model, **style)
    ax.set_title("Holdout: cumulative purchases, actual vs expected")
    ax2.set_title("Holdout: purchases per week")
    for a in (ax, ax2):
        a.set_xlabel("holdout week")
        a.legend(frameon=False, fontsize=8)
    return base.svg(fig)


def _holdout_tables(m: base.Marts, fits: pl.DataFrame | None, chosen: str | None) -> str:
    """The models' holdout errors, and the chosen model's purchases per calibration frequency."""
    body = ""
    if fits is not None and not fits.is_empty():
        body += "<h3>Models on the holdout</h3>" + base.html_table(
            fits.filter(pl.col("fit") == "calibration")
            .group_by("model", maintain_order=True)
            .agg(
                pl.col("chosen").first(),
                pl.col("log_likelihood").first(),
                pl.col("holdout_mae").first(),
                pl.col("holdout_rmse").first(),
                pl.col("holdout_total_error").first(),
            )
        )
    if m.has("clv_holdout_frequency", "model", "calibration_frequency"):
        frequency = m.sql(
            "SELECT * FROM clv_holdout_frequency ORDER BY model, bucket", "clv_holdout_frequency"
        )
        shown = (
            frequency.filter(pl.col("model") == (chosen or frequency["model"][0]))
            if frequency.height
            else frequency
        )
        body += "<h3>Holdout purchases per calibration frequency</h3>" + base.html_table(
            shown.select("model", "calibration_frequency", "customers", "actual_mean", "expected_mean")
        )
    return body


def clv(m: base.Marts) -> base.Section | None:
    """Holdout tracking (cumulative, per model), the per-frequency check of the chosen model, and the
    models' holdout errors with the chosen one marked."""
    if not m.has("clv_holdout_tracking", "model", "week", "actual_cumulative", "expected_cumulative"):
        return None
    tracking = m.sql("SELECT * FROM clv_holdout_tracking ORDER BY model, week", "clv_holdout_tracking")
    if tracking.is_empty():
        return None
    fits = (
        m.sql(
            """SELECT * FROM clv_model_fits WHERE as_of = (SELECT max(as_of) FROM clv_model_fits)""",
            "clv_model_fits",
        )
        if m.has("clv_model_fits", "as_of", "fit", "model")
        else None
    )
    chosen = _chosen_model(fits)
    body = f"<p>Model used for the predictions: <b>{html.escape(chosen or 'not fitted')}</b>.</p>"
    body += _tracking_chart(tracking, chosen) + _holdout_tables(m, fits, chosen)
    return base.Section("clv", "Customer lifetime value: model and holdout check", body)


def _bars(ax, credits: pl.DataFrame, models: list[str], labels: list[str], title: str) -> None:
    width = 0.8 / max(len(models), 1)
    for i, model in enumerate(models):
        part = dict(credits.filter(pl.col("model") == model).select("label", "value").rows())
        ax.bar(
            [x + i * width for x in range(len(labels))],
            [part.get(c, 0) for c in labels],
            width,
            label=model,
            color=base.PALETTE[i % len(base.PALETTE)],
        )
    ax.set_xticks(
        [x + width * (len(models) - 1) / 2 for x in range(len(labels))], labels, rotation=20, ha="right"
    )
    ax.set_title(title)
    ax.legend(frameon=False, ncol=4, fontsize=8)


def attribution(m: base.Marts) -> base.Section | None:
    """Channel credits per model, the Markov orders side by side, campaign credits (Shapley and Markov)
    and the most frequent journeys."""
    if not m.has("kpi_attribution", "model", "channel", "attributed_value"):
        return None
    credits = m.sql(
        """SELECT model, coalesce(channel, campaign_id, '(no campaign)') AS label,
                              channel IS NULL AS campaign_level, sum(attributed_value)::double AS value
                       FROM kpi_attribution WHERE coalesce(channel, '') <> '(direct)' GROUP BY ALL""",
        "kpi_attribution",
    )
    if credits.is_empty():
        return None
    channels = credits.filter(~pl.col("campaign_level"))
    models = sorted(channels["model"].unique().to_list())
    top = (
        channels.group_by("label").agg(pl.col("value").sum()).sort("value", descending=True).head(10)["label"]
    )
    markov = [name for name in models if name.startswith("markov")]
    fig, axes = plt.subplots(
        2 if len(markov) > 1 else 1, 1, figsize=(12, 7.2 if len(markov) > 1 else 3.6), squeeze=False
    )
    _bars(axes[0][0], channels, models, top.to_list(), "Attributed revenue (¥) by channel, one bar per model")
    if len(markov) > 1:
        _bars(
            axes[1][0],
            channels,
            markov,
            top.to_list(),
            "Markov chains of each order (value-weighted removal effects)",
        )
    body = base.svg(fig)
    campaigns = credits.filter(pl.col("campaign_level"))
    if not campaigns.is_empty():
        body += "<h3>Revenue credited per campaign</h3>" + base.html_table(
            campaigns.pivot("model", index="label", values="value")
            .rename({"label": "campaign"})
            .sort(pl.nth(1), descending=True, nulls_last=True)
        )
    if m.has("attribution_paths", "level", "path", "conversions", "nulls", "open"):
        paths = m.sql(
            """SELECT path, touches, conversions, value, nulls, open FROM attribution_paths
                         WHERE level = 'channel' ORDER BY conversions DESC, nulls DESC LIMIT 15""",
            "attribution_paths",
        )
        body += "<h3>Most frequent journeys (channel level)</h3>" + base.html_table(paths)
    return base.Section("attribution", "Attribution by model", body)
