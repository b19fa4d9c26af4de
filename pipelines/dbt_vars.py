"""A deployment's profile rules and KPI parameters, read from its config folder and handed to dbt.

The SQL marts are shaped by values a deployment decides (the profile date, lifecycle thresholds,
RFM segments, tiers, tags, funnel steps…). They live in ``$CDP_CONFIG_DIR/profiles.yaml`` and
``kpis.yaml`` rather than in ``dbt_project.yml`` so that a deployment is one folder; the pipeline
passes them to every dbt invocation as ``--vars``. Each file is checked against the shape below
when the code location loads, so a typo is reported as ``file:line: key: problem``, not as a dbt
compilation error in the middle of a run."""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from typing import Any

from assets.activation.settings import load_purposes
from assets.common.configuration import ConfigError, read_yaml
from assets.common.paths import CONFIG_DIR

INT, NUM, TEXT, SCORE = "a whole number", "a number", "a non-empty text", "a score from 1 to 5"
TEXTS = [TEXT]

PROFILES = {
    "lifecycle": {"new_max_days": INT, "growing_max_days": INT, "dormant_after_days": INT},
    "layers": {"active_min_visit_days_30d": NUM, "active_min_orders_30d": NUM, "loyal_min_repurchase_rate": NUM},
    "rfm": {"segments": [{"segment": TEXT, "r": [SCORE], "fm": [SCORE]}], "value_classes": {"*": TEXTS}},
    "member_tiers": [{"tier": TEXT, "min_score": INT}],
    "tags": [{"group": TEXT, "tag": TEXT, "description": TEXT, "rule": TEXT}],
}

KPIS = {
    "funnel": {"window_days": INT, "steps": [{"step": TEXT, "rule": TEXT}]},
    "non_activity_event_types": TEXTS,
    "kpi_daily": {"exposure_event_types": TEXTS, "interaction_event_types": TEXTS},
    "experiments": {"window_days": INT, "control_arm": TEXT, "z": NUM, "min_users_per_arm": INT,
                    "min_conversions_per_cell": INT},
    "o2o": {"window_days": INT, "platform_commission_rate": NUM, "store_commission_rate": NUM,
            "non_touch_event_types": TEXTS},
    "scorecards": {
        "channels": {"weights": {"quality": NUM, "match": NUM, "cost": NUM, "potential": NUM}, "window_days": INT,
                     "flag_below": NUM, "flag_months": INT},
        "kols": {"weights": {"plays": NUM, "interaction": NUM, "conversion": NUM}, "play_event_types": TEXTS,
                 "conversion_days": INT},
    },
    "anomaly": {"kpis": TEXTS, "history_days": INT, "min_history_days": INT, "z_threshold": NUM},
}

SCALARS = {
    INT: lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
    NUM: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    TEXT: lambda v: isinstance(v, str) and bool(v.strip()),
    SCORE: lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 5,
}


def check_shape(path: Path, where: str, value: Any, shape: Any) -> None:
    """``value`` has ``shape``: a mapping of required keys (``"*"``: any key), a one-item list (a
    list of such items) or one of the scalar kinds."""
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            raise ConfigError(path, where, f"expected a mapping with {', '.join(shape)}")
        for key in value.keys() - shape.keys() if "*" not in shape else ():
            raise ConfigError(path, f"{where}.{key}", f"unknown key; expected one of {sorted(shape)}")
        for key in shape.keys() - value.keys() - {"*"}:
            raise ConfigError(path, where, f"missing required key '{key}'")
        for key, item in value.items():
            check_shape(path, f"{where}.{key}", item, shape.get(key, shape.get("*")))
    elif isinstance(shape, list):
        if not isinstance(value, list) or not value:
            raise ConfigError(path, where, "expected a non-empty list")
        for i, item in enumerate(value):
            check_shape(path, f"{where}[{i}]", item, shape[0])
    elif not SCALARS[shape](value):
        raise ConfigError(path, where, f"must be {shape}, got {value!r}")


def _checked(path: Path, shape: dict[str, Any], extra: frozenset[str] = frozenset()) -> dict[str, Any]:
    raw = read_yaml(path)
    for key in shape:
        if key not in raw:
            raise ConfigError(path, key, "missing; copy it from the repository's config/ folder")
        check_shape(path, key, raw[key], shape[key])
    for key in raw.keys() - shape.keys() - extra:
        raise ConfigError(path, key, f"unknown key; expected one of {sorted(shape | dict.fromkeys(extra))}")
    return raw


def _as_of(path: Path, value: Any) -> str | None:
    """The profile date: a YAML date or a YYYY-MM-DD text; null means the last day with activity."""
    if value is None or isinstance(value, dt.date):
        return value and value.isoformat()
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise ConfigError(path, "as_of", f"must be a date (YYYY-MM-DD) or null, got {value!r}") from None


def profile_vars(path: Path) -> dict[str, Any]:
    raw = _checked(path, PROFILES, frozenset({"as_of"}))
    segments = {s["segment"] for s in raw["rfm"]["segments"]}
    for name, members in raw["rfm"]["value_classes"].items():
        for segment in set(members) - segments:
            raise ConfigError(path, f"rfm.value_classes.{name}", f"'{segment}' is not a segment of rfm.segments")
    tags = [t["tag"] for t in raw["tags"]]
    for i, tag in enumerate(tags):
        if tag in tags[:i]:
            raise ConfigError(path, f"tags[{i}].tag", f"'{tag}' is declared twice")
    return {"as_of": _as_of(path, raw.get("as_of")), "user_tags": raw["tags"],
            "profiles": {k: raw[k] for k in ("lifecycle", "layers", "rfm", "member_tiers")}}


def kpi_vars(path: Path) -> dict[str, Any]:
    raw = _checked(path, KPIS, frozenset({"attribution"}))
    for group, card in raw["scorecards"].items():
        if abs(sum(card["weights"].values()) - 1) > 1e-9:
            raise ConfigError(path, f"scorecards.{group}.weights", "must add up to 1")
    return {"kpi_funnel": raw["funnel"], "non_activity_event_types": raw["non_activity_event_types"],
            "kpi_daily": raw["kpi_daily"], "kpi_experiments": raw["experiments"], "kpi_o2o": raw["o2o"],
            "scorecards": raw["scorecards"], "kpi_anomaly": raw["anomaly"]}


def consent_vars(path: Path) -> dict[str, Any]:
    """The declared consent purposes (``consent.yaml`` is optional: without it, none)."""
    purposes = load_purposes(path).values() if path.exists() else ()
    return {"consent_purposes": [{"purpose": p.name, "basis": p.basis} for p in purposes]}


def load_dbt_vars(config_dir: Path = CONFIG_DIR) -> dict[str, Any]:
    """Every dbt var a deployment sets, from ``profiles.yaml``, ``kpis.yaml`` and ``consent.yaml``."""
    return (profile_vars(config_dir / "profiles.yaml") | kpi_vars(config_dir / "kpis.yaml")
            | consent_vars(config_dir / "consent.yaml"))


@cache
def dbt_vars() -> dict[str, Any]:
    return load_dbt_vars()
