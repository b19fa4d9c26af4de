"""A deployment's profile rules and KPI parameters, read from its config folder and handed to dbt.

The SQL marts are shaped by values a deployment decides (the profile date, lifecycle thresholds,
RFM segments, tiers, tags, funnel steps…). They live in ``$CDP_CONFIG_DIR/profiles.yaml`` and
``kpis.yaml`` rather than in ``dbt_project.yml`` so that a deployment is one folder; the pipeline
passes them to every dbt invocation as ``--vars``. Each file is checked against the shape below
when the code location loads, so a typo is reported as ``file:line: key: problem``, not as a dbt
compilation error in the middle of a run."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, PlainValidator, model_validator
from pydantic.dataclasses import dataclass

from assets.activation.settings import load_purposes
from assets.common.configuration import (
    SETTINGS,
    a_date,
    fail_unless,
    number,
    problem,
    read_yaml,
    validated,
    whole,
)
from assets.common.paths import CONFIG_DIR

Int = Annotated[int, whole(0)]
Num = Annotated[float, number(exact=True)]
Text = Annotated[
    str,
    PlainValidator(
        lambda v: fail_unless(isinstance(v, str) and bool(v.strip()), v, "must be a non-empty text")
    ),
]
Score = Annotated[
    int,
    PlainValidator(
        lambda v: fail_unless(
            isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 5, v, "must be a score from 1 to 5"
        )
    ),
]
Texts = Annotated[list[Text], Field(min_length=1)]
Scores = Annotated[list[Score], Field(min_length=1)]
Model = dataclass(frozen=True, config=SETTINGS)
"""Every mapping below takes exactly its keys: all required, none unknown (dbt would fail on a
missing var mid-run, and a misspelt one would silently keep the SQL's default)."""


@Model
class Lifecycle:
    new_max_days: Int
    growing_max_days: Int
    dormant_after_days: Int


@Model
class Layers:
    active_min_visit_days_30d: Num
    active_min_orders_30d: Num
    loyal_min_repurchase_rate: Num


@Model
class Segment:
    segment: Text
    r: Scores
    fm: Scores


@Model
class Rfm:
    segments: Annotated[list[Segment], Field(min_length=1)]
    value_classes: dict[str, Texts]

    @model_validator(mode="after")
    def _known_segments(self) -> Rfm:
        """A value class naming no segment would silently leave its customers unclassified."""
        segments = {s.segment for s in self.segments}
        for name, members in self.value_classes.items():
            for segment in [m for m in members if m not in segments][:1]:
                raise problem(f"'{segment}' is not a segment of rfm.segments", at=f"value_classes.{name}")
        return self


@Model
class Tier:
    tier: Text
    min_score: Int


@Model
class Tag:
    group: Text
    tag: Text
    description: Text
    rule: Text


@Model
class Profiles:
    """``profiles.yaml``; ``as_of`` null: the last day with activity."""

    lifecycle: Lifecycle
    layers: Layers
    rfm: Rfm
    member_tiers: Annotated[list[Tier], Field(min_length=1)]
    tags: Annotated[list[Tag], Field(min_length=1)]
    as_of: Annotated[dt.date, a_date(" or null")] | None = None

    @model_validator(mode="after")
    def _tags_once(self) -> Profiles:
        """Tags become columns of the tag mart: a tag declared twice would be two columns of one name."""
        names = [t.tag for t in self.tags]
        for i, tag in enumerate(names):
            if tag in names[:i]:
                raise problem(f"'{tag}' is declared twice", at=f"tags[{i}].tag")
        return self


@Model
class FunnelStep:
    step: Text
    rule: Text


@Model
class Funnel:
    window_days: Int
    steps: Annotated[list[FunnelStep], Field(min_length=1)]


@Model
class KpiDaily:
    exposure_event_types: Texts
    interaction_event_types: Texts


@Model
class Experiments:
    window_days: Int
    control_arm: Text
    z: Num
    min_users_per_arm: Int
    min_conversions_per_cell: Int


@Model
class O2o:
    window_days: Int
    platform_commission_rate: Num
    store_commission_rate: Num
    non_touch_event_types: Texts


class Weighted:
    """A scorecard whose component weights must add up to 1 (each score is a weighted mean)."""

    @model_validator(mode="after")
    def _weights_add_up(self) -> Any:
        if abs(sum(asdict(getattr(self, "weights")).values()) - 1) > 1e-9:
            raise problem("must add up to 1", at="weights")
        return self


@Model
class ChannelWeights:
    quality: Num
    match: Num
    cost: Num
    potential: Num


@Model
class ChannelCard(Weighted):
    weights: ChannelWeights
    window_days: Int
    flag_below: Num
    flag_months: Int


@Model
class KolWeights:
    plays: Num
    interaction: Num
    conversion: Num


@Model
class KolCard(Weighted):
    weights: KolWeights
    play_event_types: Texts
    conversion_days: Int


@Model
class Scorecards:
    channels: ChannelCard
    kols: KolCard


@Model
class Anomaly:
    kpis: Texts
    history_days: Int
    min_history_days: Int
    z_threshold: Num


@Model
class Kpis:
    """``kpis.yaml`` (its ``attribution`` section is the attribution stage's, read by that stage)."""

    funnel: Funnel
    non_activity_event_types: Texts
    kpi_daily: KpiDaily
    experiments: Experiments
    o2o: O2o
    scorecards: Scorecards
    anomaly: Anomaly
    attribution: Any = None


PROFILE_SECTIONS = ("lifecycle", "layers", "rfm", "member_tiers")


def profile_vars(path: Path) -> dict[str, Any]:
    profiles = validated(path, Profiles, read_yaml(path))
    return {
        "as_of": profiles.as_of and profiles.as_of.isoformat(),
        "user_tags": [asdict(t) for t in profiles.tags],
        "profiles": {k: _plain(getattr(profiles, k)) for k in PROFILE_SECTIONS},
    }


def kpi_vars(path: Path) -> dict[str, Any]:
    kpis = validated(path, Kpis, read_yaml(path))
    return {
        "kpi_funnel": asdict(kpis.funnel),
        "non_activity_event_types": kpis.non_activity_event_types,
        "kpi_daily": asdict(kpis.kpi_daily),
        "kpi_experiments": asdict(kpis.experiments),
        "kpi_o2o": asdict(kpis.o2o),
        "scorecards": asdict(kpis.scorecards),
        "kpi_anomaly": asdict(kpis.anomaly),
    }


def _plain(value: Any) -> Any:
    """A typed section as the plain mappings and lists dbt's ``--vars`` JSON takes."""
    return [_plain(v) for v in value] if isinstance(value, list) else asdict(value)


def consent_vars(path: Path) -> dict[str, Any]:
    """The declared consent purposes (``consent.yaml`` is optional: without it, none)."""
    purposes = load_purposes(path).values() if path.exists() else ()
    return {"consent_purposes": [{"purpose": p.name, "basis": p.basis} for p in purposes]}


def load_dbt_vars(config_dir: Path = CONFIG_DIR) -> dict[str, Any]:
    """Every dbt var a deployment sets, from ``profiles.yaml``, ``kpis.yaml`` and ``consent.yaml``."""
    return (
        profile_vars(config_dir / "profiles.yaml")
        | kpi_vars(config_dir / "kpis.yaml")
        | consent_vars(config_dir / "consent.yaml")
    )


@cache
def dbt_vars() -> dict[str, Any]:
    return load_dbt_vars()
