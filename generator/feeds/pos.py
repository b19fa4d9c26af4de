"""`pos_transactions`: store sales and refunds of offline and omnichannel shoppers.

The identity in a POS row is whatever the cashier captured: a member card, a mobile typed in
any notation, sometimes a name, and in ~8 % of rows a stock placeholder number typed because
the buyer declined. The truth keeps the real person for every row regardless.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from generator import identity_noise, lexicon, noise
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
from generator.primitives import choose, format_ids, where
from generator.timeline import STORE_HOURS, sample_days, sample_seconds

SHOPPER_SHARE = 0.92  # the rest only look around
TXNS_PER_SHOPPER = 5.2
PLACEHOLDER_RATE = 0.08
REFUND_RATE = 0.03
PAYMENTS = ("wechat_pay", "alipay", "card", "cash")
MOBILE_TYPO_RATE = 0.03  # numbers a cashier typed (with the name) one digit wrong or two swapped
CASHIER_NUMBER_RATE = 0.02  # rows without a number where the cashier typed their own
NAME_WEIGHTS = {
    "canonical": 70,
    "homophone": 12,
    "traditional": 3,
    "spaced": 5,
    "pinyin_swapped": 1,
    "swapped": 1,
    "pinyin_title": 4,
    "pinyin_lower": 4,
    "pinyin_upper": 2,
}


def _cashier_typed(
    world: World, mobiles: pl.Series, name_shown: np.ndarray, store: np.ndarray, cashier: np.ndarray
) -> pl.Series:
    """A typo in some numbers typed with the name; the cashier's own number on some rows without one."""
    rng = world.rng("pos-cashier")
    canonical = mobiles.str.contains(r"^1\d{10}$").fill_null(False).to_numpy()
    mobiles = identity_noise.typo_mobiles(rng, mobiles, MOBILE_TYPO_RATE * (name_shown & canonical))
    own = format_ids("1999", store * 100 + cashier, 7)
    return where(
        mobiles.is_null().to_numpy() & (rng.random(len(mobiles)) < CASHIER_NUMBER_RATE), own, mobiles
    )


@dataclass(frozen=True)
class StoreVisits:
    """Purchases in stores, which the device feed surrounds with in-store signals."""

    person: np.ndarray
    store: np.ndarray
    second: np.ndarray


def _campaign_rows(rng: np.random.Generator, world: World) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Extra visits of the audience of each in-store campaign: (person, second, campaign)."""
    pop = world.population
    people, seconds, campaigns = [], [], []
    for index, campaign in enumerate(world.reference.campaigns):
        lo, hi = max(campaign.first_day, 0), min(campaign.last_day + 1, world.timeline.days)
        if campaign.spec.channel != "offline" or hi <= lo:
            continue
        plo, phi = np.maximum(pop.arrive, lo), np.minimum(pop.leave, hi)
        audience = pop.offline & (phi > plo) & (rng.random(pop.size) < campaign.spec.reach)
        person = np.repeat(np.arange(pop.size), rng.poisson(0.4 * audience * pop.activity))
        day = sample_days(rng, world.timeline.offline, plo[person], phi[person])
        people.append(person)
        seconds.append(day * DAY + sample_seconds(rng, len(person), STORE_HOURS))
        campaigns.append(np.full(len(person), index))
    if not people:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate(people), np.concatenate(seconds), np.concatenate(campaigns)


def build(world: World, responses: Responses) -> tuple[pl.DataFrame, StoreVisits]:
    rng = world.rng("pos")
    pop, ref = world.population, world.reference
    shoppers = pop.offline & (rng.random(pop.size) < SHOPPER_SHARE)
    organic, day = activity_rows(
        rng, world, shoppers, TXNS_PER_SHOPPER * shoppers.sum(), world.timeline.offline, floor=1
    )
    promo_person, promo_second, promo_campaign = _campaign_rows(rng, world)
    person = np.concatenate([organic, promo_person, responses.visit_person])
    second = np.concatenate(
        [day * DAY + sample_seconds(rng, len(organic), STORE_HOURS), promo_second, responses.visit_second]
    )
    campaign = np.concatenate([np.full(len(organic), -1), promo_campaign, responses.visit_campaign])
    keep = keep_in_range(world, second)
    person, second, campaign = person[keep], second[keep], campaign[keep]

    n = len(person)
    city_weight = np.array([c[5] for c in lexicon.CITIES])[ref.store_city]
    store = np.where(rng.random(n) < 0.88, pop.home_store[person], choose(rng, city_weight, n))
    product = products_for(rng, ref, categories_for(rng, pop.favourite[person], 0.5))
    quantity = choose(rng, np.array([75.0, 18.0, 7.0]), n) + 1
    gross = ref.product_price[product] * quantity
    coupon = coupons(rng, gross, 0.2)
    payment = choose(rng, np.array([50.0, 30.0, 12.0, 8.0]), n)
    visits = StoreVisits(person, store, second)

    # refunds: a later row at the same store reversing a sale
    refunded = np.flatnonzero(rng.random(n) < REFUND_RATE)
    refund_second = second[refunded] + rng.integers(1, 15, size=len(refunded)) * DAY
    back = refund_second < world.horizon
    refunded, refund_second = refunded[back], refund_second[back]
    rows = np.concatenate([np.arange(n), refunded])
    sign = np.concatenate([np.ones(n), -np.ones(len(refunded))])
    second = np.concatenate([second, refund_second])
    amount = money(sign * (gross - coupon)[rows])
    coupon = money(np.where(sign > 0, coupon[rows], 0.0))
    person, store, product, campaign = person[rows], store[rows], product[rows], campaign[rows]
    quantity = (sign * quantity[rows]).astype(np.int64)
    payment = payment[rows]
    order = np.lexsort((rows, second, store))
    person, store, product, campaign, second, amount, coupon, quantity, sign, payment = (
        a[order] for a in (person, store, product, campaign, second, amount, coupon, quantity, sign, payment)
    )
    m = len(person)

    card_shown = pop.member[person] & (rng.random(m) < 0.8)
    mobile_shown = rng.random(m) < np.where(card_shown, 0.4, 0.7)
    mobiles = noise.format_mobiles(rng, noise.true_mobiles(rng, pop, person, second // DAY, 0.4), 0.35)
    mobiles = where(mobile_shown, mobiles)
    mobiles, placeholder = noise.with_placeholders(rng, mobiles, PLACEHOLDER_RATE)
    card_shown &= ~placeholder | (rng.random(m) < 0.15)
    name_shown = ~placeholder & (rng.random(m) < np.where(pop.member[person], 0.3, 0.15))
    names = noise.noisy_names(rng, world.names, person, NAME_WEIGHTS, missing=0.0)

    store_ids = ref.stores.get_column("store_id").gather(store)
    cashier = rng.integers(0, 10**6, size=m) % ref.cashiers_per_store[store] + 1
    mobiles = _cashier_typed(world, mobiles, name_shown, store, cashier)
    return pl.DataFrame(
        {
            "txn_id": format_ids("PT", world.random_ids(rng, m, 10**13, 10**14), 14),
            "store_id": store_ids,
            "cashier_id": store_ids + "-C" + pl.Series(cashier).cast(pl.String).str.zfill(2),
            "member_card": where(card_shown, pop.column("member_card", person)),
            "mobile": mobiles,
            "customer_name": where(name_shown, names),
            "txn_time": timestamps(world, second),
            **product_columns(ref, product),
            "quantity": quantity,
            "amount": amount,
            "coupon_amount": coupon,
            "payment_method": pl.Series(PAYMENTS).gather(payment),
            "txn_type": np.where(sign > 0, "sale", "refund"),
            "campaign_id": campaign_ids(world, campaign),
            "_dir": day_strings(world, second),
            "_person": person,
        }
    ).with_columns(
        _file=pl.concat_str(pl.lit("pos_"), "store_id", pl.lit("_"), "_dir", pl.lit(".csv"))
    ), visits
