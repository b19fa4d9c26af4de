"""`social_interactions`: views, likes, comments, shares, follows and invites on four platforms.

Each person is known to a platform only by that platform's OpenID; the WeChat official account
adds the UnionID (when the account is bound), and shares or invites sometimes expose the
`wxid_`, which is what lets identity resolution tie social activity to shoppers.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from generator import lexicon
from generator.feeds.common import (
    DAY,
    World,
    activity_rows,
    campaign_ids,
    day_strings,
    keep_in_range,
    timestamps,
)
from generator.population import SOCIAL_PLATFORMS
from generator.primitives import DIGITS, choose, choose_per_row, random_strings, where
from generator.timeline import ONLINE_HOURS, sample_seconds

INTERACTIONS_PER_PERSON = 10.0  # per person active on at least one platform
ACTIONS = ("view", "like", "comment", "share", "follow", "invite")
# action weights per platform (douyin, xiaohongshu, weibo, wechat_oa)
ACTION_WEIGHTS = np.array(
    [[55, 22, 6, 8, 5, 4], [55, 25, 7, 8, 5, 0], [55, 22, 8, 10, 5, 0], [60, 15, 3, 12, 4, 6]], dtype=float
)
CONTENT_PER_PLATFORM = 400
CONTENT_POPULARITY = 1.0 / (1 + np.arange(CONTENT_PER_PLATFORM)) ** 0.9
CONTENT_PREFIX = ("DYV", "XHN", "WBP", "WXA")
CAMPAIGN_PLATFORMS = (0, 1)  # social campaigns run with douyin and xiaohongshu creators
CAMPAIGN_SHARE = 0.35


def _authors(rng: np.random.Generator, world: World) -> pl.Series:
    """The KOL behind each content item (platform-major, CONTENT_PER_PLATFORM each), null for the
    brand's own posts; KOLs with more followers publish more."""
    kols = world.reference.kols
    authors = []
    for platform in SOCIAL_PLATFORMS:
        own = kols.filter(pl.col("platform") == platform)
        if own.height == 0:  # e.g. the official account: brand content only
            authors.append(pl.Series([None] * CONTENT_PER_PLATFORM, dtype=pl.String))
            continue
        reach = np.sqrt(own.get_column("follower_count").to_numpy().astype(float))
        ids = own.get_column("kol_id").gather(choose(rng, reach, CONTENT_PER_PLATFORM))
        authors.append(where(rng.random(CONTENT_PER_PLATFORM) < 0.7, ids))
    return pl.concat(authors)


def _kol_items(
    rng: np.random.Generator, authors: pl.Series, platform: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A random KOL-authored item on each row's platform, and whether the platform has any."""
    items = np.flatnonzero(authors.is_not_null().to_numpy())  # sorted, so platform blocks are contiguous
    lo = np.searchsorted(items, platform * CONTENT_PER_PLATFORM)
    count = np.searchsorted(items, (platform + 1) * CONTENT_PER_PLATFORM) - lo
    if len(items) == 0:
        return np.zeros(len(platform), dtype=np.int64), count > 0
    at = np.minimum(lo + (rng.random(len(platform)) * count).astype(np.int64), len(items) - 1)
    return items[at], count > 0


def _nicknames(rng: np.random.Generator, world: World) -> pl.Series:
    """A nickname per person and platform (platform-major): the name, its pinyin, a cute phrase
    or the platform's default `用户` + digits."""
    pop = world.population
    n = pop.size
    cute = pl.concat_str(
        pl.Series(lexicon.NICK_HEADS).gather(rng.integers(0, len(lexicon.NICK_HEADS), size=n)),
        pl.Series(lexicon.NICK_TAILS).gather(rng.integers(0, len(lexicon.NICK_TAILS), size=n)),
    )
    options = pl.DataFrame(
        {
            "name": pop.frame.get_column("name"),
            "pinyin": pop.frame.get_column("pinyin"),
            "cute": pl.select(cute).to_series(),
            "default": random_strings(rng, n, 8, DIGITS, "用户"),
        }
    )
    per_platform = []
    for _ in SOCIAL_PLATFORMS:
        style = rng.integers(0, 4, size=n)
        per_platform.append(
            options.select(
                pl.when(pl.Series(style == 0))
                .then("name")
                .when(pl.Series(style == 1))
                .then("pinyin")
                .when(pl.Series(style == 2))
                .then("cute")
                .otherwise("default")
            ).to_series()
        )
    return pl.concat(per_platform)


def build(world: World) -> pl.DataFrame:
    rng = world.rng("social")
    pop, ref = world.population, world.reference
    active = pop.social.any(axis=1)
    person, day = activity_rows(
        rng, world, active, INTERACTIONS_PER_PERSON * active.sum(), world.timeline.online
    )
    second = day * DAY + sample_seconds(rng, len(person), ONLINE_HOURS)
    keep = keep_in_range(world, second)
    order = np.argsort(second[keep], kind="stable")
    person, second = person[keep][order], second[keep][order]
    n = len(person)
    platform = choose_per_row(rng, pop.social[person] * 1.0) if n else np.empty(0, dtype=np.int64)
    action = choose_per_row(rng, ACTION_WEIGHTS[platform]) if n else np.empty(0, dtype=np.int64)

    authors = _authors(rng, world)
    content = platform * CONTENT_PER_PLATFORM + choose(rng, CONTENT_POPULARITY, n)
    campaign = np.full(n, -1)
    day = second // DAY
    for index, c in enumerate(ref.campaigns):
        if c.spec.channel != "social":
            continue
        hit = (day >= c.first_day) & (day <= c.last_day) & np.isin(platform, CAMPAIGN_PLATFORMS)
        hit &= rng.random(n) < CAMPAIGN_SHARE
        campaign[hit] = index
    # campaign content is always by a creator
    kol_item, has_kols = _kol_items(rng, authors, platform)
    content = np.where((campaign >= 0) & has_kols, kol_item, content)

    wechat_oa = platform == SOCIAL_PLATFORMS.index("wechat_oa")
    unbound = rng.random(pop.size) < 0.2  # official accounts not bound to the open platform
    shows_unionid = wechat_oa & ~unbound[person] & (rng.random(n) < 0.95)
    shows_wxid = np.isin(action, [ACTIONS.index("share"), ACTIONS.index("invite")]) & (rng.random(n) < 0.4)
    content_ids = pl.select(
        pl.concat_str(
            pl.Series(CONTENT_PREFIX).gather(platform),
            pl.Series(content % CONTENT_PER_PLATFORM + 1).cast(pl.String).str.zfill(5),
        )
    ).to_series()
    return pl.DataFrame(
        {
            "interaction_id": world.serial_ids("SI", np.arange(1, n + 1), 12),
            "platform": pl.Series(SOCIAL_PLATFORMS).gather(platform),
            "openid": pop.account(SOCIAL_PLATFORMS, platform, person),
            "unionid": where(shows_unionid, pop.column("unionid", person)),
            "wxid": where(shows_wxid, pop.column("wxid", person)),
            "nickname": _nicknames(rng, world).gather(platform * pop.size + person),
            "action": pl.Series(ACTIONS).gather(action),
            "content_id": content_ids,
            "kol_id": authors.gather(content),
            "event_time": timestamps(world, second),
            "campaign_id": campaign_ids(world, campaign),
            "_dir": day_strings(world, second),
        }
    ).with_columns(_file=pl.concat_str(pl.lit("social_"), "_dir", pl.lit(".jsonl")))
