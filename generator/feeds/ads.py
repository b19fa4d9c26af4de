"""`ad_events`: impressions and clicks of the paid campaigns, and who responded.

Targeting, holdouts and A/B arms are decided here, per person, so that the downstream feeds can
make responders buy more: a click may open a shop session (and sometimes an order, with the
campaign's id and coupon) or, for offline shoppers, bring them into a store within a week; some
people buy after merely seeing the ads, uncredited, which only the holdouts reveal.

Tested campaigns also export their audience split, as ad platforms do: one `assignment` row per
member (control and holdout members included, who see no ads) with the experiment and the arm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from generator import noise
from generator.feeds.common import DAY, World, day_strings, keep_in_range, money, timestamps
from generator.population import ZERO_DEVICE
from generator.primitives import choose, lognormal_weights
from generator.reference import AB_TEST, Campaign
from generator.timeline import ONLINE_HOURS, STORE_HOURS, sample_days, sample_seconds

CPM = {"search": 25.0, "feed": 35.0, "social": 45.0}
CPC = {"search": 2.5, "feed": 1.2, "social": 1.5}
VIEW_THROUGH = 0.5  # chance to buy after merely seeing a campaign, relative to its click conversion


@dataclass(frozen=True)
class Responses:
    """Clicks and views that led somewhere: campaign indices refer to `reference.campaigns`,
    -1 where the response is not credited to any campaign (bought after a view)."""

    session_person: np.ndarray  # shop sessions opened by a click
    session_second: np.ndarray
    session_campaign: np.ndarray
    session_converts: np.ndarray
    visit_person: np.ndarray  # store visits prompted by a click
    visit_second: np.ndarray
    visit_campaign: np.ndarray


def _arms(rng: np.random.Generator, world: World) -> np.ndarray:
    """A/B arm per person: an index into AB_TEST, or -1 outside the test audience."""
    pop = world.population
    test = world.reference.campaign(AB_TEST[1])
    lo, hi = max(test.first_day, 0), min(test.last_day + 1, world.timeline.days)
    active = (np.minimum(pop.leave, hi) > np.maximum(pop.arrive, lo)) & (hi > lo)
    audience = active & (rng.random(pop.size) < test.spec.reach)
    share = test.spec.control_share
    arm = choose(rng, np.array([share, (1 - share) / 2, (1 - share) / 2]), pop.size)
    return np.where(audience, arm, -1)


def _audience(
    rng: np.random.Generator, world: World, campaign: Campaign, active: np.ndarray, arms: np.ndarray
) -> tuple[np.ndarray, pl.DataFrame | None]:
    """Who sees the campaign, and the treatment/control list of tested campaigns."""
    spec = campaign.spec
    if spec.code in AB_TEST:
        members = arms == AB_TEST.index(spec.code)
        control = spec.variant == "control"
        group = pl.Series(np.full(members.sum(), "control" if control else "treatment"))
        treated = members & active & (not control)
    else:
        members = active & (rng.random(len(active)) < spec.reach)
        held = members & (rng.random(len(active)) < spec.control_share)
        group = pl.Series(np.where(held[members], "control", "treatment"))
        treated = members & ~held
        if spec.control_share == 0:
            return treated, None
    person_ids = world.population.frame.get_column("person_id").filter(members)
    return treated, pl.DataFrame(
        {"campaign_id": campaign.campaign_id, "person_id": person_ids, "group": group}
    )


def build(world: World) -> tuple[pl.DataFrame, Responses, pl.DataFrame]:
    """The ad events, the responses they cause, and the treatment/control lists of tested campaigns."""
    rng = world.rng("ads")
    pop, ref = world.population, world.reference
    n, days = pop.size, world.timeline.days
    intensity = lognormal_weights(rng, n, 0.9)
    propensity = lognormal_weights(rng, n, 0.8)
    arms = _arms(rng, world)

    people, seconds, clicks, campaigns, persuaded, persuaded_at = [], [], [], [], [], []
    groups = [pl.DataFrame(schema={"campaign_id": pl.String, "person_id": pl.String, "group": pl.String})]
    for index, campaign in enumerate(ref.campaigns):
        spec = campaign.spec
        lo, hi = max(campaign.first_day, 0), min(campaign.last_day + 1, days)
        if hi <= lo or spec.channel == "offline":
            continue
        plo, phi = np.maximum(pop.arrive, lo), np.minimum(pop.leave, hi)
        treated, group = _audience(rng, world, campaign, phi > plo, arms)
        if group is not None:
            groups.append(group)
        counts = rng.poisson(spec.impressions * intensity * treated * np.maximum(phi - plo, 0) / (hi - lo))
        seen = np.repeat(np.arange(n), counts)
        second = sample_days(rng, world.timeline.online, plo[seen], phi[seen]) * DAY + sample_seconds(
            rng, len(seen), ONLINE_HOURS
        )
        clicked = rng.random(len(seen)) < np.minimum(spec.ctr * propensity[seen], 0.5)
        won = (counts > 0) & (rng.random(n) < spec.conversion * VIEW_THROUGH)
        persuaded.append(np.flatnonzero(won))
        persuaded_at.append(
            second[(np.cumsum(counts) - counts)[won]] + rng.integers(600, 3 * DAY, size=won.sum())
        )
        people += [seen, seen[clicked]]
        seconds += [second, second[clicked] + rng.integers(2, 40, size=clicked.sum())]
        clicks += [np.zeros(len(seen), bool), np.ones(clicked.sum(), bool)]
        campaigns.append(np.full(len(seen) + clicked.sum(), index))
    person, second, click, campaign = (
        np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
        for parts in (people, seconds, clicks, campaigns)
    )
    click = click.astype(bool)
    order = np.lexsort((click, second))
    order = order[keep_in_range(world, second)[order]]
    person, second, click, campaign = person[order], second[order], click[order], campaign[order]
    frame = _frame(rng, world, person, second, click, campaign)
    responses = _responses(
        rng,
        world,
        person[click],
        second[click],
        campaign[click],
        np.concatenate(persuaded or [np.empty(0, dtype=np.int64)]),
        np.concatenate(persuaded_at or [np.empty(0, dtype=np.int64)]),
    )
    groups = pl.concat(groups)
    frame = pl.concat([frame, _assignments(rng, world, groups)], how="diagonal_relaxed")
    # typed even when no tested campaign runs in the date range (every file must have one schema)
    return frame.with_columns(pl.col("experiment_id", "experiment_arm").cast(pl.String)), responses, groups


def _experiment(campaign: Campaign, world: World) -> tuple[str, str]:
    """The experiment a tested campaign belongs to (A/B arms share the control campaign's id) and
    its arm label: the variant (A, B, control) or treatment / control for a holdout."""
    if campaign.spec.code in AB_TEST:
        return world.reference.campaign(AB_TEST[0]).campaign_id, campaign.spec.variant or "treatment"
    return campaign.campaign_id, "treatment"


def _assignments(rng: np.random.Generator, world: World, groups: pl.DataFrame) -> pl.DataFrame:
    """One `assignment` row per member of a tested campaign, on the day they joined its audience."""
    pop, ref = world.population, world.reference
    by_id = {c.campaign_id: c for c in ref.campaigns}
    index = pop.frame.select("person_id").with_row_index("person")
    members = groups.join(index, on="person_id")
    person = members.get_column("person").to_numpy().astype(np.int64)
    first = np.array([max(by_id[c].first_day, 0) for c in members.get_column("campaign_id")], dtype=np.int64)
    labels = [_experiment(by_id[c], world) for c in members.get_column("campaign_id")]
    arm = np.where(members.get_column("group").to_numpy() == "control", "control", [a for _, a in labels])
    second = np.maximum(first, pop.arrive[person]) * DAY + sample_seconds(rng, len(person), ONLINE_HOURS)
    keep = keep_in_range(world, second)
    channel = np.array([by_id[c].spec.channel for c in members.get_column("campaign_id")])
    frame = pl.DataFrame(
        {
            "event_id": world.serial_ids("AS", np.arange(1, len(person) + 1), 12),
            "campaign_id": members.get_column("campaign_id"),
            "channel": channel,
            "event_type": "assignment",
            "event_time": timestamps(world, second),
            "device_id": noise.mixed_case(rng, pop.column("device1", person), 0.15),
            "cost": 0.0,
            "experiment_id": pl.Series([e for e, _ in labels], dtype=pl.String),
            "experiment_arm": pl.Series(arm, dtype=pl.String),
            "_dir": day_strings(world, np.where(keep, second, 0)),
        }
    ).filter(pl.Series(keep, dtype=pl.Boolean))
    return frame.with_columns(_file=pl.concat_str(pl.lit("ads_"), "_dir", pl.lit(".parquet")))


def _frame(
    rng: np.random.Generator,
    world: World,
    person: np.ndarray,
    second: np.ndarray,
    click: np.ndarray,
    campaign: np.ndarray,
) -> pl.DataFrame:
    pop, ref = world.population, world.reference
    m = len(person)
    channels = np.array([c.spec.channel for c in ref.campaigns])
    channel = channels[campaign]
    phone = pop.phones(rng, person)
    hidden = pop.hides_idfa[person] & (phone == pop.column("device1", person)).to_numpy()
    device = pl.select(pl.when(pl.Series(hidden)).then(pl.lit(ZERO_DEVICE)).otherwise(phone)).to_series()
    device = noise.mixed_case(rng, device, 0.15)
    prefer_douyin = (channel == "social") | ((channel == "feed") & (rng.random(m) < 0.5))
    douyin, wechat = pop.column("douyin", person), pop.column("wechat_mp", person)
    show = click & (channel != "search") & (rng.random(m) < 0.6)
    openid = pl.select(
        pl.when(~pl.Series(show))
        .then(None)
        .when(pl.Series(prefer_douyin))
        .then(pl.coalesce(douyin, wechat))
        .otherwise(pl.coalesce(wechat, douyin))
    ).to_series()
    cpm = np.array([CPM.get(c.spec.channel, 0.0) for c in ref.campaigns])[campaign]
    cpc = np.array([CPC.get(c.spec.channel, 0.0) for c in ref.campaigns])[campaign]
    cost = money(np.where(click, cpc, cpm / 1000) * rng.uniform(0.6, 1.4, size=m))
    campaign_ids = pl.Series([c.campaign_id for c in ref.campaigns])
    creative = pl.concat_str(
        campaign_ids.gather(campaign), pl.lit("-C"), pl.Series(rng.integers(1, 4, size=m)).cast(pl.String)
    )
    dirs = day_strings(world, second)
    return pl.DataFrame(
        {
            "event_id": world.serial_ids("AD", np.arange(1, m + 1), 12),
            "campaign_id": campaign_ids.gather(campaign),
            "channel": channel,
            "creative_id": pl.select(creative).to_series(),
            "event_type": np.where(click, "click", "impression"),
            "event_time": timestamps(world, second),
            "device_id": device,
            "openid": openid,
            "cost": cost,
            "_dir": dirs,
        }
    ).with_columns(_file=pl.concat_str(pl.lit("ads_"), "_dir", pl.lit(".parquet")))


def _responses(
    rng: np.random.Generator,
    world: World,
    person: np.ndarray,
    second: np.ndarray,
    campaign: np.ndarray,
    persuaded: np.ndarray,
    persuaded_at: np.ndarray,
) -> Responses:
    """What clicks and views lead to.

    A click opens a shop session that may convert (carrying the campaign id) or, for offline-only
    shoppers, prompts a store visit. Persuaded viewers buy without clicking, so nothing in the data
    credits the campaign for them: only a holdout comparison reveals that lift.
    """
    pop, ref = world.population, world.reference
    conversion = np.array([c.spec.conversion for c in ref.campaigns])[campaign]
    shopper = pop.ecom[person].any(axis=1)
    opens = shopper & (rng.random(len(person)) < 0.6)
    visits = ~shopper & pop.offline[person] & (rng.random(len(person)) < conversion * 0.6)
    viewer_shops = pop.ecom[persuaded].any(axis=1)
    viewer_visits = ~viewer_shops & pop.offline[persuaded]
    visit_from = np.concatenate([second[visits], persuaded_at[viewer_visits]])
    visit_day = visit_from // DAY + rng.integers(1, 8, size=len(visit_from))
    return Responses(
        session_person=np.concatenate([person[opens], persuaded[viewer_shops]]),
        session_second=np.concatenate(
            [second[opens] + rng.integers(3, 60, size=opens.sum()), persuaded_at[viewer_shops]]
        ),
        session_campaign=np.concatenate([campaign[opens], np.full(viewer_shops.sum(), -1)]),
        session_converts=np.concatenate(
            [rng.random(opens.sum()) < conversion[opens] / 0.6, np.ones(viewer_shops.sum(), bool)]
        ),
        visit_person=np.concatenate([person[visits], persuaded[viewer_visits]]),
        visit_second=visit_day * DAY + sample_seconds(rng, len(visit_day), STORE_HOURS),
        visit_campaign=np.concatenate([campaign[visits], np.full(viewer_visits.sum(), -1)]),
    )
