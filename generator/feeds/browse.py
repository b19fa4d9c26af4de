"""`ecommerce_browse`: page views, searches, favourites and cart adds, grouped in sessions.

Three kinds of session: those that end in an order (their last event is the cart add of the
ordered product, minutes before `order_time`), those opened by an ad click (carrying its
campaign id), and ordinary browsing. Together they give the exposure → click → visit → cart →
purchase funnel on one buyer account.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from generator import lexicon
from generator.feeds.ads import Responses
from generator.feeds.common import (
    DAY,
    World,
    activity_rows,
    campaign_ids,
    categories_for,
    day_strings,
    keep_in_range,
    product_columns,
    products_for,
    timestamps,
)
from generator.feeds.orders import BuyingSessions
from generator.population import ECOM_PLATFORMS
from generator.primitives import choose, choose_per_row, segment_positions, where
from generator.timeline import ONLINE_HOURS, sample_seconds

SESSIONS_PER_SHOPPER = 4.5
EVENT_TYPES = ("page_view", "search", "add_to_cart", "favourite")
EVENT_WEIGHTS = np.array([0.88, 0.02, 0.05, 0.05])
PAGE_VIEW, SEARCH, ADD_TO_CART = 0, 1, 2


def _search_terms(rng: np.random.Generator, category: np.ndarray) -> pl.Series:
    terms = [t for v in lexicon.CATEGORIES.values() for t in v[3]]
    sizes = np.array([len(v[3]) for v in lexicon.CATEGORIES.values()])
    offsets = np.cumsum(sizes) - sizes
    return pl.Series(terms).gather(
        offsets[category] + (rng.random(len(category)) * sizes[category]).astype(np.int64)
    )


def build(world: World, buying: BuyingSessions, responses: Responses) -> pl.DataFrame:
    rng = world.rng("browse")
    pop, ref = world.population, world.reference
    shoppers = pop.ecom.any(axis=1)
    organic, day = activity_rows(
        rng, world, shoppers, SESSIONS_PER_SHOPPER * shoppers.sum(), world.timeline.online
    )
    clicks = ~responses.session_converts
    browsing = np.concatenate([organic, responses.session_person[clicks]])
    n_browse = len(browsing)

    person = np.concatenate([buying.person, browsing])
    platform = np.concatenate(
        [
            buying.platform,
            choose_per_row(rng, pop.ecom_preference[browsing]) if n_browse else np.empty(0, dtype=np.int64),
        ]
    )
    anchor = np.concatenate(
        [
            buying.end_second,
            day * DAY + sample_seconds(rng, len(organic), ONLINE_HOURS),
            responses.session_second[clicks],
        ]
    )
    campaign = np.concatenate(
        [buying.campaign, np.full(len(organic), -1), responses.session_campaign[clicks]]
    )
    final = np.concatenate([buying.product, np.full(n_browse, -1)])
    category = np.where(
        final >= 0,
        ref.product_category[np.maximum(final, 0)],
        categories_for(rng, pop.favourite[person], 0.6),
    )
    converting = final >= 0

    # events per session, converting ones have at least a product view and the cart add
    length = np.where(
        converting,
        np.maximum(rng.geometric(1 / 6.5, size=len(person)), 2),
        rng.geometric(1 / 5.5, size=len(person)),
    )
    length = np.minimum(length, 40)
    session = np.repeat(np.arange(len(person)), length)
    pos = segment_positions(length)
    from_end = length[session] - 1 - pos
    n = len(session)

    kind = choose(rng, EVENT_WEIGHTS, n)
    kind = np.where(pos == 0, np.where(rng.random(n) < 0.3, SEARCH, PAGE_VIEW), kind)
    is_conv = converting[session]
    kind = np.where(
        is_conv & (from_end == 0), ADD_TO_CART, np.where(is_conv & (from_end == 1), PAGE_VIEW, kind)
    )
    drift = rng.random(n) < 0.15
    ev_category = np.where(drift, categories_for(rng, pop.favourite[person[session]], 0.0), category[session])
    product = products_for(rng, ref, ev_category)
    product = np.where(is_conv & (from_end <= 1), final[session], product)
    ev_category = ref.product_category[product]

    dwell = np.clip(rng.lognormal(3.4, 0.9, size=n), 2, 1800).astype(np.int64)
    step = np.where(kind == PAGE_VIEW, dwell, rng.integers(3, 20, size=n)) + rng.integers(1, 15, size=n)
    before = np.cumsum(step) - step
    offset = before - before[np.cumsum(length) - length][session]
    last_offset = offset[np.cumsum(length) - 1]
    start = np.where(converting, anchor - last_offset, anchor)
    second = start[session] + offset

    keep = keep_in_range(world, second)
    order = np.lexsort((pos, session, second))
    order = order[keep[order]]
    session, kind, product, second, dwell = (
        session[order],
        kind[order],
        product[order],
        second[order],
        dwell[order],
    )
    ev_category = ev_category[order]
    # sessions numbered by first appearance, events by time
    first_seen = np.full(len(person), -1)
    uniq, first_idx = np.unique(session, return_index=True)
    first_seen[uniq[np.argsort(first_idx)]] = np.arange(len(uniq))
    is_search = kind == SEARCH
    m = len(session)
    columns = product_columns(ref, product)
    return pl.DataFrame(
        {
            "event_id": world.serial_ids("BR", np.arange(1, m + 1), 12),
            "platform": pl.Series(ECOM_PLATFORMS).gather(platform[session]),
            "buyer_account": pop.account(ECOM_PLATFORMS, platform[session], person[session]),
            "event_type": pl.Series(EVENT_TYPES).gather(kind),
            "event_time": timestamps(world, second),
            "product_id": where(~is_search, columns["product_id"]),
            "category": columns["category"],
            "dwell_seconds": where(kind == PAGE_VIEW, pl.Series(dwell)),
            "search_term": where(is_search, _search_terms(rng, ev_category)),
            "session_id": world.serial_ids("SN", first_seen[session] + 1, 12),
            "campaign_id": campaign_ids(world, campaign[session]),
            **_session_locations(world, person[session], platform[session]),
            "_dir": day_strings(world, second),
        }
    ).with_columns(_file=pl.concat_str(pl.lit("browse_"), "_dir", pl.lit(".parquet")))


SHARES_LOCATION = 0.7  # mini-program users who allow wx.getLocation (the "nearest store" page)


def _session_locations(world: World, person: np.ndarray, platform: np.ndarray) -> dict[str, pl.Series]:
    """Where the phone was during WeChat mini-program sessions: near home (within ~200 m), for
    people who share their location. Home is near the person's store (about 2 km) for store
    shoppers, else somewhere in their city (about 6 km from the centre)."""
    rng = world.rng("locations")
    pop = world.population
    stores = world.reference.stores
    centre = np.array([(c[3], c[4]) for c in lexicon.CITIES])[pop.city]
    store = np.column_stack(
        [stores.get_column("latitude").to_numpy(), stores.get_column("longitude").to_numpy()]
    )
    near_store = pop.home_store >= 0
    home = np.where(near_store[:, None], store[np.maximum(pop.home_store, 0)], centre)
    home = home + rng.normal(0, 1, size=home.shape) * np.where(near_store, 0.02, 0.06)[:, None]
    shares = rng.random(pop.size) < SHARES_LOCATION
    located = (platform == ECOM_PLATFORMS.index("wechat_mp")) & shares[person]
    point = np.round(home[person] + rng.normal(0, 0.002, size=(len(person), 2)), 6)
    return {
        "latitude": where(located, pl.Series(point[:, 0])),
        "longitude": where(located, pl.Series(point[:, 1])),
    }
