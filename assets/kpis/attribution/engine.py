"""``attribute``: every declared model's credits per channel and campaign, one frame."""

from __future__ import annotations

import polars as pl

from assets.kpis.attribution.markov import markov_credits
from assets.kpis.attribution.paths import Paths
from assets.kpis.attribution.rules import rule_based_credits
from assets.kpis.attribution.settings import DIRECT, OUTPUT_SCHEMA, RULE_MODELS, AttributionSettings
from assets.kpis.attribution.shapley import shapley_credits


def attribute(
    paths: Paths, settings: AttributionSettings = AttributionSettings(), *, include_direct: bool = False
) -> pl.DataFrame:
    """Credit per (model, channel, campaign_id) for the models in ``settings.output_models()``
    (``OUTPUT_SCHEMA``).

    Per model, attributed_conversions sums to the number of converting paths and attributed_value to
    their total value. Rule-based rows are per (channel, campaign); ``shapley`` and ``markov*`` rows per
    channel (campaign_id null), ``*_campaign`` rows per campaign (channel null). With
    ``include_direct``, each model also gets a ``(direct)`` row with the direct conversions, so the
    model's rows add up to all conversions."""
    parts = []
    levels = ("channel", "campaign") if settings.campaign_level else ("channel",)
    if paths.conversions.height:
        rules = [m for m in settings.models if m in RULE_MODELS]
        if rules:
            parts.append(rule_based_credits(paths, rules, settings))
        if "shapley" in settings.models:
            parts += [shapley_credits(paths, settings, level) for level in levels]
        if "markov" in settings.models:
            parts += [
                markov_credits(paths, order, level) for order in settings.markov_orders for level in levels
            ]
    models = settings.output_models()
    if include_direct:
        parts.append(
            pl.DataFrame(
                {
                    "model": list(models),
                    "channel": DIRECT,
                    "campaign_id": None,
                    "attributed_conversions": float(paths.direct.height),
                    "attributed_value": float(paths.direct["value"].sum()),
                },
                schema=OUTPUT_SCHEMA,
            )
        )
    result = pl.concat(parts) if parts else pl.DataFrame(schema=OUTPUT_SCHEMA)
    rank = {m: i for i, m in enumerate(models)}
    return (
        result.with_columns(_rank=pl.col("model").replace_strict(rank, return_dtype=pl.Int32))
        .sort("_rank", "channel", "campaign_id", nulls_last=True)
        .drop("_rank")
    )
