"""The deployment's attribution declaration (``kpis.yaml`` → ``attribution``): which events are
touchpoints and how their channel is named, and the engine's settings, checked when loaded so a
wrong setting is reported with its file and line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assets.common.configuration import ConfigError, read_yaml
from assets.common.paths import CONFIG_DIR
from assets.kpis.attribution.settings import AttributionSettings


@dataclass(frozen=True)
class TouchpointRule:
    source: str
    event_types: tuple[str, ...]  # empty: every event of the source
    channel: str  # template over fct_events columns, e.g. "ad:{ad_channel}"


@dataclass(frozen=True)
class AttributionConfig:
    settings: dict[str, Any]
    touchpoints: tuple[TouchpointRule, ...]

    @property
    def engine_settings(self) -> AttributionSettings:
        return AttributionSettings.from_dict(self.settings)


def load_attribution_config(path: Path | None = None) -> AttributionConfig:
    path = path or CONFIG_DIR / "kpis.yaml"
    raw = (read_yaml(path).get("attribution") or {})
    rules = []
    for i, rule in enumerate(raw.get("touchpoints") or []):
        if not isinstance(rule, dict) or "source" not in rule or "channel" not in rule:
            raise ConfigError(path, f"attribution.touchpoints[{i}]", "needs `source` and `channel`")
        rules.append(TouchpointRule(str(rule["source"]), tuple(str(t) for t in rule.get("event_types") or ()),
                                    str(rule["channel"])))
    if not rules:
        raise ConfigError(path, "attribution.touchpoints", "declare at least one touchpoint rule")
    config = AttributionConfig(dict(raw.get("settings") or {}), tuple(rules))
    try:
        _ = config.engine_settings  # built now, so a wrong setting is reported with the file and line
    except (TypeError, ValueError) as exc:
        raise ConfigError(path, "attribution.settings", str(exc)) from exc
    return config

