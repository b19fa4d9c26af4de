"""The deployment's CLV settings (``clv.yaml``): time unit, calibration and holdout windows, which
frequency model (or the one with the lowest holdout error), horizons and discounting."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from assets.common.configuration import ConfigError, choice, read_yaml, whole_number
from assets.common.paths import CONFIG_DIR

CLV_MODELS = {"bgnbd", "pareto_nbd", "mbgnbd", "auto"}
CLV_SELECTION_METRICS = {"mae", "rmse", "total_error"}


@dataclass(frozen=True)
class ClvConfig:
    time_unit_days: float
    calibration_days: int
    prediction_horizons_days: tuple[int, ...]
    clv_horizon_days: int
    annual_discount_rate: float
    penalizer: float
    model: str = "auto"  # bgnbd | pareto_nbd | mbgnbd | auto (the lowest holdout error)
    calibration_end: date | None = None  # None: holdout_days before the profile date
    holdout_days: int = 182
    selection_metric: str = "mae"
    frequency_buckets: int = 7


def load_clv_config(path: Path | None = None) -> ClvConfig:
    path = path or CONFIG_DIR / "clv.yaml"
    raw = read_yaml(path)
    try:
        config = ClvConfig(float(raw.get("time_unit_days", 7)), int(raw.get("calibration_days", 730)),
                           tuple(int(h) for h in raw.get("prediction_horizons_days", [90, 365])),
                           int(raw.get("clv_horizon_days", 365)), float(raw.get("annual_discount_rate", 0.0)),
                           float(raw.get("penalizer", 0.0)))
    except (TypeError, ValueError) as exc:
        raise ConfigError(path, "values", f"numbers expected ({exc})") from exc
    if config.time_unit_days <= 0 or config.calibration_days <= 0:
        raise ConfigError(path, "time_unit_days / calibration_days", "must be positive")
    end = raw.get("calibration_end")
    if end is not None and not isinstance(end, date):
        raise ConfigError(path, "calibration_end", f"must be a date (YYYY-MM-DD) or null, got {end!r}")
    return replace(config, model=choice(path, "model", raw.get("model", "auto"), CLV_MODELS), calibration_end=end,
                   holdout_days=whole_number(path, "holdout_days", raw.get("holdout_days", 182)),
                   selection_metric=choice(path, "selection_metric", raw.get("selection_metric", "mae"),
                                           CLV_SELECTION_METRICS),
                   frequency_buckets=whole_number(path, "frequency_buckets", raw.get("frequency_buckets", 7), 2))

