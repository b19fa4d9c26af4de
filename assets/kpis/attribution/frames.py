"""The engine's output rows for models that credit one label per row (Shapley, Markov)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from numpy.typing import ArrayLike

from assets.kpis.attribution.settings import NO_CAMPAIGN, OUTPUT_SCHEMA


def level_frame(
    model: str, level: str, labels: Sequence[str], conversions: ArrayLike, value: ArrayLike
) -> pl.DataFrame:
    """Rows of ``OUTPUT_SCHEMA``: a channel-level model fills ``channel`` (campaign_id null), a
    campaign-level one fills ``campaign_id`` (channel null; null too for touches without a campaign)."""
    names: list[str | None] = list(labels)
    nulls: list[str | None] = [None] * len(names)
    campaigns = [None if label == NO_CAMPAIGN else label for label in names]
    return pl.DataFrame(
        {
            "model": [model] * len(names),
            "channel": names if level == "channel" else nulls,
            "campaign_id": nulls if level == "channel" else campaigns,
            "attributed_conversions": np.asarray(conversions, np.float64),
            "attributed_value": np.asarray(value, np.float64),
        },
        schema=OUTPUT_SCHEMA,
    )
