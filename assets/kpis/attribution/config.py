"""The deployment's attribution declaration (``kpis.yaml`` → ``attribution``): which events are
touchpoints and how their channel is named, and the engine's settings, typed so that a wrong
setting is reported with its file, line and key when the code location loads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic.dataclasses import dataclass

from assets.common.configuration import SETTINGS, read_yaml, required, texts, validated
from assets.common.paths import CONFIG_DIR
from assets.kpis.attribution.settings import AttributionSettings


@dataclass(frozen=True, config=SETTINGS)
class TouchpointRule:
    """``event_types`` empty: every event of the source; ``channel``: a template over fct_events
    columns, e.g. "ad:{ad_channel}"."""

    source: Annotated[str, Field(min_length=1)]
    event_types: Annotated[tuple[str, ...], texts(allow_empty=True)] = ()
    channel: Annotated[str, Field(min_length=1)] = Field()  # type: ignore[misc]  # required; pydantic keeps the field order


@dataclass(frozen=True, config=SETTINGS)
class AttributionConfig:
    settings: AttributionSettings = AttributionSettings()
    touchpoints: Annotated[tuple[TouchpointRule, ...], required("declare at least one touchpoint rule")] = (
        Field(default=(), validate_default=True)
    )


def load_attribution_config(path: Path | None = None) -> AttributionConfig:
    path = path or CONFIG_DIR / "kpis.yaml"
    raw = read_yaml(path).get("attribution") or {}
    if isinstance(raw, dict):  # `settings:` left empty means the engine's defaults
        raw = {key: value for key, value in raw.items() if value is not None}
    return validated(path, AttributionConfig, raw, "attribution")
