"""The attribution engine's vocabulary: model names, reserved state names, frame schemas and the
settings (every knob as data, so config/kpis.yaml can declare them and tests can vary them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import Annotated, Any

import polars as pl
from pydantic import PlainValidator, model_validator
from pydantic.dataclasses import dataclass

from assets.common.configuration import SETTINGS, Flag, number, problem, whole

MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based", "shapley", "markov")
RULE_MODELS = MODELS[:5]
START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"
DIRECT = "(direct)"
# The campaign-level models' label for touches that carry no campaign (their rows have campaign_id null).
NO_CAMPAIGN = "(no campaign)"
RESERVED_CHANNELS = frozenset({START, CONVERSION, NULL, DIRECT, NO_CAMPAIGN})
# Largest exact Shapley allowed: 2^20 coalitions × (count, value) is 16 MB and 20 cheap passes.
SHAPLEY_EXACT_LIMIT = 20
# Highest Markov order: order k has up to n^k states; beyond 3 the chains of a real deployment are
# mostly states seen once, whose transition estimates are noise.
MAX_MARKOV_ORDER = 3
US_PER_DAY = 86_400_000_000

OUTPUT_SCHEMA = pl.Schema(
    {
        "model": pl.String(),
        "channel": pl.String(),
        "campaign_id": pl.String(),
        "attributed_conversions": pl.Float64(),
        "attributed_value": pl.Float64(),
    }
)
TOUCHES_SCHEMA = pl.Schema(
    {
        "path_id": pl.UInt32(),
        "position": pl.UInt32(),
        "occurred_at": pl.Datetime("us"),
        "channel": pl.String(),
        "campaign_id": pl.String(),
        "days_before": pl.Float64(),
    }
)
CONVERSIONS_SCHEMA = pl.Schema(
    {
        "path_id": pl.UInt32(),
        "conversion_id": pl.String(),
        "unified_id": pl.String(),
        "converted_at": pl.Datetime("us"),
        "value": pl.Float64(),
        "touches": pl.UInt32(),
    }
)
NON_CONVERTING_SCHEMA = pl.Schema(
    {
        "path_id": pl.UInt32(),
        "position": pl.UInt32(),
        "unified_id": pl.String(),
        "occurred_at": pl.Datetime("us"),
        "channel": pl.String(),
        "campaign_id": pl.String(),
    }
)
DIRECT_SCHEMA = pl.Schema(
    {
        "conversion_id": pl.String(),
        "unified_id": pl.String(),
        "converted_at": pl.Datetime("us"),
        "value": pl.Float64(),
    }
)


def markov_model_name(order: int, level: str = "channel") -> str:
    """``markov`` for the first-order chain over channels, ``markov_<order>`` above it, and a
    ``_campaign`` suffix for the chains over campaigns (so each model name reconciles on its own)."""
    name = "markov" if order == 1 else f"markov_{order}"
    return name if level == "channel" else f"{name}_campaign"


def _names(value: Any) -> tuple[str, ...]:
    """One model name or a list of distinct names among MODELS."""
    names = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, (list, tuple)) else ()
    if not names or any(n not in MODELS for n in names) or len(set(names)) != len(names):
        raise problem(f"must be distinct names among {MODELS}, got {value!r}")
    return names


def _orders(value: Any) -> tuple[int, ...]:
    """One Markov order or a list of distinct orders in 1..MAX_MARKOV_ORDER."""
    orders = (value,) if isinstance(value, int) else tuple(value) if isinstance(value, (list, tuple)) else ()
    valid = all(isinstance(k, int) and not isinstance(k, bool) and 1 <= k <= MAX_MARKOV_ORDER for k in orders)
    if not orders or not valid or len(set(orders)) != len(orders):
        raise problem(f"must be distinct whole numbers in [1, {MAX_MARKOV_ORDER}], got {value!r}")
    return orders


@dataclass(frozen=True, config=SETTINGS)
class AttributionSettings:
    """Every knob of the engine, as data (``as_dict`` / ``from_dict`` round-trip through YAML or JSON);
    a wrong value is refused when the settings are built (a ``ValueError`` naming the field).

    ``markov_orders``: the Markov chain orders computed (each 1..MAX_MARKOV_ORDER);
    ``campaign_level``: Shapley and Markov also over campaigns, not only channels."""

    lookback_days: Annotated[float, number(0, low_open=True, exact=True)] = 30
    time_decay_half_life_days: Annotated[float, number(0, low_open=True, exact=True)] = 7.0
    position_first: Annotated[float, number(0, 1, exact=True)] = 0.4
    position_last: Annotated[float, number(0, 1, exact=True)] = 0.4
    shapley_exact_max_channels: Annotated[int, whole(0, SHAPLEY_EXACT_LIMIT)] = 12
    shapley_samples: Annotated[int, whole(1)] = 2000
    seed: Annotated[int, whole(0)] = 0
    models: Annotated[tuple[str, ...], PlainValidator(_names)] = MODELS
    markov_orders: Annotated[tuple[int, ...], PlainValidator(_orders)] = (1,)
    campaign_level: Flag = True

    @model_validator(mode="after")
    def _positions_fit(self) -> AttributionSettings:
        """Position-based credit leaves the rest to the middle touches, which cannot get less than none."""
        first, last = self.position_first, self.position_last
        if first + last > 1 + 1e-12:
            raise problem(
                f"position_first ({first:g}) and position_last ({last:g}) must sum to at most 1",
                at="position_last",
            )
        return self

    def output_models(self) -> tuple[str, ...]:
        """The model names ``attribute`` writes, in order (Shapley and Markov expand per level / order)."""
        levels = ("channel", "campaign") if self.campaign_level else ("channel",)
        names: list[str] = []
        for model in self.models:
            if model == "shapley":
                names += ["shapley", *(["shapley_campaign"] if self.campaign_level else [])]
            elif model == "markov":
                names += [markov_model_name(k, level) for k in self.markov_orders for level in levels]
            else:
                names.append(model)
        return tuple(names)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "models": list(self.models), "markov_orders": list(self.markov_orders)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> AttributionSettings:
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown attribution settings: {sorted(unknown)}")
        return cls(**values)
