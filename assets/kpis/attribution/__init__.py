"""Multi-touch attribution: which channels and campaigns get the credit for each conversion.

- ``paths``: journeys from touchpoints and conversions (converting, non-converting, open, direct);
- ``rules``: first / last touch, linear, time decay, position based;
- ``shapley``: Shapley value per channel and per campaign;
- ``markov``: Markov chains of order 1-3, removal effects on conversions and on value;
- ``journeys``: the journeys as a table any tool can recompute the credits from;
- ``engine.attribute``: every declared model, one long frame (model, channel, campaign_id,
  attributed_conversions, attributed_value); each model reconciles to the converting paths.
"""

from assets.kpis.attribution.engine import attribute
from assets.kpis.attribution.journeys import JOURNEYS_SCHEMA, journeys_table
from assets.kpis.attribution.markov import Chain, absorption, markov_removal_effects, markov_transition_matrix
from assets.kpis.attribution.paths import Paths, build_non_converting_paths, build_paths, touch_label
from assets.kpis.attribution.settings import (
    CONVERSION,
    DIRECT,
    MAX_MARKOV_ORDER,
    MODELS,
    NO_CAMPAIGN,
    NULL,
    OUTPUT_SCHEMA,
    RULE_MODELS,
    SHAPLEY_EXACT_LIMIT,
    START,
    AttributionSettings,
    markov_model_name,
)
from assets.kpis.attribution.shapley import channel_sets, shapley_exact, shapley_sampled

__all__ = [
    "CONVERSION",
    "DIRECT",
    "JOURNEYS_SCHEMA",
    "MAX_MARKOV_ORDER",
    "MODELS",
    "NO_CAMPAIGN",
    "NULL",
    "OUTPUT_SCHEMA",
    "RULE_MODELS",
    "SHAPLEY_EXACT_LIMIT",
    "START",
    "AttributionSettings",
    "Chain",
    "Paths",
    "absorption",
    "attribute",
    "build_non_converting_paths",
    "build_paths",
    "channel_sets",
    "journeys_table",
    "markov_model_name",
    "markov_removal_effects",
    "markov_transition_matrix",
    "shapley_exact",
    "shapley_sampled",
    "touch_label",
]
