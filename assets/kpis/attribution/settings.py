"""The attribution engine's vocabulary: model names, reserved state names, frame schemas and the
settings (every knob as data, so config/kpis.yaml can declare them and tests can vary them)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import polars as pl

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

OUTPUT_SCHEMA = pl.Schema({"model": pl.String(), "channel": pl.String(), "campaign_id": pl.String(),
                 "attributed_conversions": pl.Float64(), "attributed_value": pl.Float64()})
TOUCHES_SCHEMA = pl.Schema({"path_id": pl.UInt32(), "position": pl.UInt32(), "occurred_at": pl.Datetime("us"),
                  "channel": pl.String(), "campaign_id": pl.String(), "days_before": pl.Float64()})
CONVERSIONS_SCHEMA = pl.Schema({"path_id": pl.UInt32(), "conversion_id": pl.String(), "unified_id": pl.String(),
                      "converted_at": pl.Datetime("us"), "value": pl.Float64(), "touches": pl.UInt32()})
NON_CONVERTING_SCHEMA = pl.Schema({"path_id": pl.UInt32(), "position": pl.UInt32(), "unified_id": pl.String(),
                         "occurred_at": pl.Datetime("us"), "channel": pl.String(), "campaign_id": pl.String()})
DIRECT_SCHEMA = pl.Schema({"conversion_id": pl.String(), "unified_id": pl.String(), "converted_at": pl.Datetime("us"),
                 "value": pl.Float64()})


def markov_model_name(order: int, level: str = "channel") -> str:
    """``markov`` for the first-order chain over channels, ``markov_<order>`` above it, and a
    ``_campaign`` suffix for the chains over campaigns (so each model name reconciles on its own)."""
    name = "markov" if order == 1 else f"markov_{order}"
    return name if level == "channel" else f"{name}_campaign"


@dataclass(frozen=True)
class AttributionSettings:
    """Every knob of the engine, as data (``as_dict`` / ``from_dict`` round-trip through YAML or JSON).

    ``markov_orders``: the Markov chain orders computed (each 1..MAX_MARKOV_ORDER);
    ``campaign_level``: Shapley and Markov also over campaigns, not only channels."""

    lookback_days: float = 30
    time_decay_half_life_days: float = 7.0
    position_first: float = 0.4
    position_last: float = 0.4
    shapley_exact_max_channels: int = 12
    shapley_samples: int = 2000
    seed: int = 0
    models: tuple[str, ...] = MODELS
    markov_orders: tuple[int, ...] = (1,)
    campaign_level: bool = True

    def __post_init__(self) -> None:
        for name in ("models", "markov_orders"):
            value = getattr(self, name)
            if isinstance(value, (str, int)) or not isinstance(value, tuple):
                object.__setattr__(self, name, (value,) if isinstance(value, (str, int)) else tuple(value))
        problems = self._problems()
        if problems:
            raise ValueError("invalid AttributionSettings: " + "; ".join(problems))

    def _problems(self) -> list[str]:
        problems = []
        if not (math.isfinite(self.lookback_days) and self.lookback_days > 0):
            problems.append("lookback_days must be positive")
        if not (math.isfinite(self.time_decay_half_life_days) and self.time_decay_half_life_days > 0):
            problems.append("time_decay_half_life_days must be positive")
        if not (0 <= self.position_first <= 1 and 0 <= self.position_last <= 1
                and self.position_first + self.position_last <= 1 + 1e-12):
            problems.append("position_first and position_last must be in [0, 1] and sum to at most 1")
        if not 0 <= self.shapley_exact_max_channels <= SHAPLEY_EXACT_LIMIT:
            problems.append(f"shapley_exact_max_channels must be in [0, {SHAPLEY_EXACT_LIMIT}]")
        if self.shapley_samples < 1:
            problems.append("shapley_samples must be at least 1")
        unknown = [m for m in self.models if m not in MODELS]
        if unknown or not self.models or len(set(self.models)) != len(self.models):
            problems.append(f"models must be distinct names among {MODELS}, got {self.models}")
        orders = self.markov_orders
        if (not orders or len(set(orders)) != len(orders)
                or not all(isinstance(k, int) and not isinstance(k, bool) and 1 <= k <= MAX_MARKOV_ORDER
                           for k in orders)):
            problems.append(f"markov_orders must be distinct whole numbers in [1, {MAX_MARKOV_ORDER}], got {orders}")
        if not isinstance(self.campaign_level, bool):
            problems.append(f"campaign_level must be true or false, got {self.campaign_level!r}")
        return problems

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
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown attribution settings: {sorted(unknown)}")
        return cls(**{k: tuple(v) if k in ("models", "markov_orders") and isinstance(v, list) else v
                      for k, v in values.items()})
