"""The deployment's CLV settings (``clv.yaml``): time unit, calibration and holdout windows, which
frequency model (or the one with the lowest holdout error), horizons and discounting.

Each field's type says what it takes, so a ``holdout_days: 8 weeks`` or a ``penalizer: -1`` is
reported as ``file:line: key: problem`` when the code location loads, not mid-fit."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

from pydantic.dataclasses import dataclass

from assets.common.configuration import SETTINGS, a_date, number, one_of, read_yaml, validated, whole
from assets.common.paths import CONFIG_DIR

CLV_MODELS = {"bgnbd", "pareto_nbd", "mbgnbd", "auto"}
CLV_SELECTION_METRICS = {"mae", "rmse", "total_error"}


@dataclass(frozen=True, config=SETTINGS)
class ClvConfig:
    """``model``: bgnbd | pareto_nbd | mbgnbd | auto (the lowest holdout error);
    ``calibration_end``: None means holdout_days before the profile date."""

    time_unit_days: Annotated[float, number(0, low_open=True)] = 7
    calibration_days: Annotated[int, whole(1)] = 730
    prediction_horizons_days: tuple[Annotated[int, whole(1)], ...] = (90, 365)
    clv_horizon_days: Annotated[int, whole(1)] = 365
    annual_discount_rate: Annotated[float, number(0)] = 0.0
    penalizer: Annotated[float, number(0)] = 0.0
    model: Annotated[str, one_of(CLV_MODELS)] = "auto"
    calibration_end: Annotated[date, a_date(" or null")] | None = None
    holdout_days: Annotated[int, whole(0)] = 182
    selection_metric: Annotated[str, one_of(CLV_SELECTION_METRICS)] = "mae"
    frequency_buckets: Annotated[int, whole(2)] = 7


def load_clv_config(path: Path | None = None) -> ClvConfig:
    path = path or CONFIG_DIR / "clv.yaml"
    return validated(path, ClvConfig, read_yaml(path))
