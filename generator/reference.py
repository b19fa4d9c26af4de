"""Reference data: stores, products, campaigns, KOLs and expos.

Small tables built once per run. Besides the columns written to `reference/*.csv` they carry
the behavioural parameters the feeds need (a campaign's click-through and conversion rates,
a store's shared tablet), which never reach the landing zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from generator import lexicon
from generator.primitives import random_uuids, where
from generator.timeline import Timeline

CATEGORY_NAMES: tuple[str, ...] = tuple(lexicon.CATEGORIES)
PRODUCTS_PER_CATEGORY = 33


@dataclass(frozen=True)
class CampaignSpec:
    code: str
    name: str
    channel: str  # search | feed | social | offline
    first: str  # month-day
    last: str
    budget: int
    variant: str | None = None
    control_share: float = 0.0
    reach: float = 0.0  # share of active people targeted (ad campaigns)
    impressions: float = 0.0  # mean impressions per targeted person
    ctr: float = 0.0
    conversion: float = 0.0  # chance a click leads to a purchase
    coupon: tuple[float, float] = (0.0, 0.0)  # (threshold, discount) of the campaign coupon


CAMPAIGNS: tuple[CampaignSpec, ...] = (
    CampaignSpec(
        "01",
        "五一焕新季 信息流",
        "feed",
        "05-01",
        "05-07",
        300_000,
        None,
        0.0,
        0.30,
        9,
        0.015,
        0.05,
        (99, 10),
    ),
    CampaignSpec(
        "02", "520告白季 小红书种草", "social", "05-13", "05-21", 200_000, None, 0.0, 0.25, 7, 0.02, 0.04
    ),
    CampaignSpec("03", "618 品牌词搜索", "search", "05-25", "06-18", 500_000, None, 0.0, 0.30, 6, 0.05, 0.10),
    CampaignSpec(
        "04", "618 满50减20", "feed", "06-01", "06-18", 400_000, "A", 0.10, 0.45, 12, 0.02, 0.07, (50, 20)
    ),
    CampaignSpec(
        "05", "618 满100减30", "feed", "06-01", "06-18", 400_000, "B", 0.10, 0.45, 12, 0.02, 0.10, (100, 30)
    ),
    CampaignSpec("06", "618 满减对照组", "feed", "06-01", "06-18", 0, "control", 0.10),
    CampaignSpec(
        "07", "夏日防晒 抖音达人", "social", "07-01", "07-31", 300_000, None, 0.0, 0.25, 9, 0.018, 0.04
    ),
    CampaignSpec("08", "开学季 搜索", "search", "08-15", "09-05", 200_000, None, 0.0, 0.20, 6, 0.045, 0.08),
    CampaignSpec("09", "中秋会员日", "offline", "09-19", "09-27", 150_000, None, 0.0, 0.50),
    CampaignSpec("10", "国庆门店焕新", "offline", "10-01", "10-07", 200_000, None, 0.0, 0.50),
    CampaignSpec(
        "11",
        "双11预热 信息流",
        "feed",
        "10-15",
        "10-31",
        600_000,
        None,
        0.08,
        0.40,
        13,
        0.018,
        0.09,
        (200, 40),
    ),
    CampaignSpec("12", "双11 搜索", "search", "10-20", "10-31", 400_000, None, 0.0, 0.30, 6, 0.05, 0.10),
)
AB_TEST = ("06", "04", "05")  # one audience split into arms: control, A, B


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    spec: CampaignSpec
    first_day: int  # day index in the range, may fall outside it
    last_day: int


@dataclass(frozen=True)
class Expo:
    expo_id: str
    name: str
    city: str
    first_day: int
    last_day: int


@dataclass(frozen=True)
class Reference:
    stores: pl.DataFrame
    store_city: np.ndarray  # city index per store
    store_tablet: pl.Series  # the shared in-store tablet's device id per store
    cashiers_per_store: np.ndarray
    products: pl.DataFrame
    product_category: np.ndarray  # category index per product
    product_price: np.ndarray
    product_popularity: np.ndarray
    campaigns: tuple[Campaign, ...]
    kols: pl.DataFrame
    expos: tuple[Expo, ...]

    def campaign(self, code: str) -> Campaign:
        return next(c for c in self.campaigns if c.spec.code == code)


def _stores(rng: np.random.Generator) -> tuple[pl.DataFrame, np.ndarray]:
    city_names = [c[0] for c in lexicon.CITIES]
    city_idx = np.array(list(range(len(city_names))) + [city_names.index(c) for c in lexicon.EXTRA_STORES])
    order = np.argsort(city_idx, kind="stable")
    city_idx = city_idx[order]
    rows = []
    seen: dict[int, list[int]] = {}
    for i, c in enumerate(city_idx):
        name, province, tier, lat, lon, *_ = lexicon.CITIES[c]
        free = [s for s in range(len(lexicon.STORE_SITES)) if s not in seen.setdefault(int(c), [])]
        site = free[int(rng.integers(len(free)))]
        seen[int(c)].append(site)
        opened = date(2014, 1, 1) + timedelta(days=int(rng.integers(0, 12 * 365)))
        rows.append(
            (
                f"S{i + 1:03d}",
                f"{name}{lexicon.STORE_SITES[site]}",
                name,
                province,
                tier,
                round(lat + rng.normal(0, 0.03), 6),
                round(lon + rng.normal(0, 0.03), 6),
                opened,
            )
        )
    frame = pl.DataFrame(
        rows,
        orient="row",
        schema=[
            "store_id",
            "store_name",
            "city",
            "province",
            "city_tier",
            "latitude",
            "longitude",
            "opened_on",
        ],
    )
    return frame, city_idx


def _products(rng: np.random.Generator) -> tuple[pl.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    names, cats, prices = [], [], []
    for c, (_, (low, high), items, _) in enumerate(lexicon.CATEGORIES.values()):
        combos = [(s, it) for it in items for s in lexicon.PRODUCT_SERIES]
        pick = rng.choice(len(combos), size=PRODUCTS_PER_CATEGORY, replace=False)
        for k in np.sort(pick):
            series, item = combos[k]
            names.append(f"{series}{item}")
            cats.append(c)
            price = np.exp(rng.uniform(np.log(low), np.log(high)))
            prices.append(
                float(np.floor(price / 10) * 10 + 9) if price > 30 else float(np.floor(price)) + 0.9
            )
    cat = np.array(cats)
    price = np.array(prices)
    popularity = 1.0 / (1 + rng.permutation(len(names)) % PRODUCTS_PER_CATEGORY) ** 0.8
    frame = pl.DataFrame(
        {
            "product_id": [f"SKU{10001 + i}" for i in range(len(names))],
            "product_name": names,
            "category": [CATEGORY_NAMES[c] for c in cat],
            "price": price,
        }
    )
    return frame, cat, price, popularity


def _kols(rng: np.random.Generator) -> pl.DataFrame:
    platforms = ["douyin"] * 25 + ["xiaohongshu"] * 25 + ["weibo"] * 10
    tiers = rng.choice(["head", "waist", "koc"], size=len(platforms), p=[0.1, 0.3, 0.6])
    bounds = {"head": (1e6, 2e7), "waist": (1e5, 1e6), "koc": (1e4, 1e5)}
    followers = [int(np.exp(rng.uniform(np.log(bounds[t][0]), np.log(bounds[t][1])))) for t in tiers]
    return pl.DataFrame(
        {
            "kol_id": [f"K{i + 1:03d}" for i in range(len(platforms))],
            "platform": platforms,
            "follower_count": followers,
            "tier": tiers.tolist(),
        }
    )


def _month_day(year: int, md: str) -> date:
    month, day = md.split("-")
    return date(year, int(month), int(day))


def build_reference(rng: np.random.Generator, timeline: Timeline) -> Reference:
    stores, store_city = _stores(rng)
    products, category, price, popularity = _products(rng)
    year = timeline.start.year
    campaigns = tuple(
        Campaign(
            f"CMP{year % 100:02d}{spec.code}",
            spec,
            timeline.day_of(_month_day(year, spec.first)),
            timeline.day_of(_month_day(year, spec.last)),
        )
        for spec in CAMPAIGNS
    )
    expos = tuple(
        Expo(
            f"EX{year % 100:02d}{first[:2]}{code}",
            name,
            city,
            timeline.day_of(_month_day(year, first)),
            timeline.day_of(_month_day(year, last)),
        )
        for code, name, city, first, last in lexicon.EXPOS
    )
    n_stores = stores.height
    ipad = random_uuids(rng, n_stores, upper=True)
    tablets = where(rng.random(n_stores) < 0.5, random_uuids(rng, n_stores, upper=False), ipad)
    return Reference(
        stores=stores,
        store_city=store_city,
        store_tablet=tablets,
        cashiers_per_store=rng.integers(4, 9, size=n_stores),
        products=products,
        product_category=category,
        product_price=price,
        product_popularity=popularity,
        campaigns=campaigns,
        kols=_kols(rng),
        expos=expos,
    )


def campaigns_frame(reference: Reference, timeline: Timeline) -> pl.DataFrame:
    """The campaigns table as written to `reference/campaigns.csv`."""

    def iso(day: int) -> str:
        return (timeline.start + timedelta(days=day)).isoformat()

    rows = [
        (
            c.campaign_id,
            c.spec.name,
            c.spec.channel,
            iso(c.first_day),
            iso(c.last_day),
            c.spec.budget,
            c.spec.variant,
            c.spec.control_share,
        )
        for c in reference.campaigns
    ]
    return pl.DataFrame(
        rows,
        orient="row",
        schema=[
            "campaign_id",
            "campaign_name",
            "channel",
            "start_date",
            "end_date",
            "budget",
            "variant",
            "control_share",
        ],
    )
