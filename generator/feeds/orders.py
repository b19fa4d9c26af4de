"""`ecommerce_orders`: one row per order on Tmall, JD, Douyin shop or the WeChat mini-program.

Orders are drawn first (organic ones by activity, campaign ones from converting clicks); most
of them then ask the browse feed for the session that led to them, so funnels close on the
same buyer account.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from generator import identity_noise, noise
from generator.feeds.ads import Responses
from generator.feeds.common import (
    DAY,
    World,
    activity_rows,
    campaign_ids,
    categories_for,
    coupons,
    day_strings,
    keep_in_range,
    money,
    product_columns,
    products_for,
    timestamps,
)
from generator.population import ECOM_PLATFORMS
from generator.primitives import choose, choose_per_row, format_ids, where
from generator.timeline import ONLINE_HOURS, sample_seconds

BUYER_SHARE = 0.9  # the rest only browse
ORDERS_PER_BUYER = 1.9  # campaign orders come on top
SESSION_SHARE = 0.65  # organic orders whose browse session is in the data
ID_PREFIX = ("TM", "JD", "DY", "WX")
EXTENSION = ("csv", "csv", "jsonl", "parquet")
STATUSES = ("paid", "shipped", "completed", "refunded", "cancelled")
# status weights by days before the end of the range: 0-1, 2-4, older
STATUS_WEIGHTS = np.array([[50, 45, 0, 0, 5], [5, 50, 38, 2, 5], [0, 2, 85, 8, 5]], dtype=float)
NAME_WEIGHTS = {
    "canonical": 82,
    "homophone": 4,
    "traditional": 3,
    "spaced": 2,
    "pinyin_title": 4,
    "pinyin_lower": 3,
    "pinyin_upper": 2,
    "pinyin_swapped": 2,
    "swapped": 0.5,
}
MOBILE_TYPO_RATE = 0.01  # receivers' numbers typed with one wrong or swapped digit


@dataclass(frozen=True)
class BuyingSessions:
    """Sessions the browse feed must draw: they end by adding `product` to the cart."""

    person: np.ndarray
    platform: np.ndarray
    end_second: np.ndarray
    product: np.ndarray
    campaign: np.ndarray  # -1 when organic


def build(world: World, responses: Responses) -> tuple[pl.DataFrame, BuyingSessions]:
    rng = world.rng("orders")
    pop, ref = world.population, world.reference
    buyers = pop.ecom.any(axis=1) & (rng.random(pop.size) < BUYER_SHARE)
    organic, day = activity_rows(
        rng, world, buyers, ORDERS_PER_BUYER * buyers.sum(), world.timeline.online, floor=1
    )
    converts = responses.session_converts
    person = np.concatenate([organic, responses.session_person[converts]])
    second = np.concatenate(
        [
            day * DAY + sample_seconds(rng, len(organic), ONLINE_HOURS),
            responses.session_second[converts] + rng.integers(120, 1800, size=converts.sum()),
        ]
    )
    campaign = np.concatenate([np.full(len(organic), -1), responses.session_campaign[converts]])
    keep = keep_in_range(world, second)
    order = np.argsort(second[keep], kind="stable")
    person, second, campaign = person[keep][order], second[keep][order], campaign[keep][order]
    m = len(person)

    platform = choose_per_row(rng, pop.ecom_preference[person]) if m else np.empty(0, dtype=np.int64)
    product = products_for(rng, ref, categories_for(rng, pop.favourite[person], 0.55))
    quantity = choose(rng, np.array([80.0, 15.0, 5.0]), m) + 1
    gross = ref.product_price[product] * quantity
    threshold = np.array([c.spec.coupon[0] for c in ref.campaigns] + [np.inf])[campaign]
    discount = np.array([c.spec.coupon[1] for c in ref.campaigns] + [0.0])[campaign]
    coupon = np.where((campaign >= 0) & (gross >= threshold), discount, coupons(rng, gross, 0.3))
    amount = money(gross - coupon)
    age = world.timeline.days - 1 - second // DAY
    status = (
        choose_per_row(rng, STATUS_WEIGHTS[np.digitize(age, [2, 5])]) if m else np.empty(0, dtype=np.int64)
    )
    refunded = status == STATUSES.index("refunded")
    partial = rng.random(m) < 0.3
    refund = money(np.where(refunded, np.where(partial, amount * rng.uniform(0.2, 0.8, size=m), amount), 0.0))

    mobiles = identity_noise.typo_mobiles(
        world.rng("orders-typos"), noise.true_mobiles(rng, pop, person, second // DAY), MOBILE_TYPO_RATE
    )
    email_shown = rng.random(m) < np.where(platform <= 1, 0.45, 0.2)
    digits = format_ids("", world.random_ids(rng, m, 10**13, 10**14), 14)
    frame = pl.DataFrame(
        {
            "order_id": pl.select(pl.concat_str(pl.Series(ID_PREFIX).gather(platform), digits)).to_series(),
            "platform": pl.Series(ECOM_PLATFORMS).gather(platform),
            "buyer_account": pop.account(ECOM_PLATFORMS, platform, person),
            "receiver_name": noise.noisy_names(rng, world.names, person, NAME_WEIGHTS, missing=0.10),
            "receiver_mobile": noise.blank(rng, noise.format_mobiles(rng, mobiles, 0.4), 0.03),
            "receiver_city": noise.city_names(rng, pop.city[person], (0.6, 0.4, 0.0)),
            "receiver_address": noise.blank(rng, pop.column("address", person), 0.03),
            "buyer_email": where(email_shown, pop.column("email", person)),
            "order_time": timestamps(world, second),
            **product_columns(ref, product),
            "quantity": quantity,
            "amount": amount,
            "coupon_amount": money(coupon),
            "status": pl.Series(STATUSES).gather(status),
            "refund_amount": refund,
            "campaign_id": campaign_ids(world, campaign),
            "_dir": day_strings(world, second),
            "_person": person,
        }
    ).with_columns(
        _file=pl.concat_str(
            "platform", pl.lit("_orders_"), "_dir", pl.lit("."), pl.Series(EXTENSION).gather(platform)
        )
    )

    with_session = (campaign >= 0) | (rng.random(m) < SESSION_SHARE)
    sessions = BuyingSessions(
        person=person[with_session],
        platform=platform[with_session],
        end_second=second[with_session] - rng.integers(30, 900, size=with_session.sum()),
        product=product[with_session],
        campaign=campaign[with_session],
    )
    return frame, sessions
