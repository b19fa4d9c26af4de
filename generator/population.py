"""The people behind the data, with every identifier they may leave in a feed.

One row per person. Feeds never invent identities: they gather a person's identifiers by
index and then degrade them (see `noise`), so `_truth/records.csv` is exact by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import polars as pl
from faker import Faker
from pypinyin import lazy_pinyin

from generator import lexicon
from generator.primitives import (
    LOWER_ALNUM,
    LOWER_HEX,
    URLSAFE,
    choose,
    choose_per_row,
    format_ids,
    lognormal_weights,
    random_strings,
    random_uuids,
    unique_ints,
    where,
)
from generator.reference import Reference
from generator.timeline import Timeline

CHANNELS = ("online", "offline", "omni")
CHANNEL_SHARES = (0.40, 0.35, 0.25)
ECOM_PLATFORMS = ("tmall", "jd", "douyin", "wechat_mp")
SOCIAL_PLATFORMS = ("douyin", "xiaohongshu", "weibo", "wechat_oa")
MOBILE_PREFIXES = np.array(
    [
        130,
        131,
        132,
        133,
        134,
        135,
        136,
        137,
        138,
        139,
        150,
        151,
        152,
        153,
        155,
        156,
        157,
        158,
        159,
        166,
        173,
        175,
        176,
        177,
        178,
        180,
        181,
        182,
        183,
        184,
        185,
        186,
        187,
        188,
        189,
        191,
        195,
        198,
        199,
    ]
)
PLACEHOLDER_MOBILES = ("13800000000", "13888888888", "00000000000")
ZERO_DEVICE = "00000000-0000-0000-0000-000000000000"
# per-person identifiers that must be unique across people
IDENTIFIERS = (
    "wxid",
    "unionid",
    "tmall",
    "jd",
    "douyin",
    "wechat_mp",
    "wechat_oa",
    "xiaohongshu",
    "device1",
    "device2",
)

SURNAME_CHARS = [s for s, _, _ in lexicon.SURNAMES]
SURNAME_PINYIN = [p for _, p, _ in lexicon.SURNAMES]
GIVEN_CHARS = list(lexicon.GIVEN_MALE + lexicon.GIVEN_FEMALE)
N_MALE_CHARS = len(lexicon.GIVEN_MALE)
GIVEN_PINYIN = [lazy_pinyin(c)[0] for c in GIVEN_CHARS]


@dataclass(frozen=True)
class Population:
    """People as parallel arrays (index = person) plus a frame of their string identifiers."""

    frame: pl.DataFrame
    channel: np.ndarray  # index into CHANNELS
    female: np.ndarray
    birth: np.ndarray  # datetime64[D]
    city: np.ndarray  # index into lexicon.CITIES
    arrive: np.ndarray  # first active day
    leave: np.ndarray  # day after the last active day (churn), at most the range length
    activity: np.ndarray  # heavy-tailed, mean 1
    surname: np.ndarray  # name parts, indices into SURNAME_CHARS / GIVEN_CHARS (-1: none)
    given1: np.ndarray
    given2: np.ndarray
    mobile_change_day: np.ndarray  # from this day on records carry `mobile_new`
    household: np.ndarray  # household number, -1 when living alone
    home_store: np.ndarray  # -1 for people who never shop offline
    favourite: np.ndarray  # favourite category index
    ecom: np.ndarray  # (people, 4) bool: account on ECOM_PLATFORMS
    ecom_preference: np.ndarray  # (people, 4) weights, zero where no account
    social: np.ndarray  # (people, 4) bool: active on SOCIAL_PLATFORMS
    member: np.ndarray  # holds a member card
    hides_idfa: np.ndarray  # limited ad tracking: ad SDKs see an all-zero device id
    two_devices: np.ndarray

    @property
    def size(self) -> int:
        return len(self.channel)

    @property
    def online(self) -> np.ndarray:
        return self.channel != CHANNELS.index("offline")

    @property
    def offline(self) -> np.ndarray:
        return self.channel != CHANNELS.index("online")

    def rows(self, start: int, stop: int) -> Population:
        """People `start` to `stop` - 1 as a population of their own (indices restart at 0).

        The feeds are drawn for a slice of people at a time, so a large population's events never
        all sit in memory at once; whatever links people (households, shared and mistyped numbers)
        was decided on the whole population before it was sliced."""
        arrays = {f.name: getattr(self, f.name)[start:stop] for f in fields(self) if f.name != "frame"}
        return replace(self, frame=self.frame.slice(start, stop - start), **arrays)

    def column(self, name: str, people: np.ndarray) -> pl.Series:
        """A string identifier of each listed person (null where they have none)."""
        return self.frame.get_column(name).gather(people)

    def account(self, platforms: tuple[str, ...], platform: np.ndarray, people: np.ndarray) -> pl.Series:
        """Each row's account on its platform (an index into `platforms`, which name columns)."""
        stacked = pl.concat([self.frame.get_column(p) for p in platforms])
        return stacked.gather(platform * self.size + people)

    def phones(self, rng: np.random.Generator, people: np.ndarray) -> pl.Series:
        """The phone each row was seen on: the second one in 30 % of rows of two-phone people."""
        second = self.two_devices[people] & (rng.random(len(people)) < 0.3)
        return where(second, self.column("device2", people), self.column("device1", people))


def dedupe(values: pl.Series) -> pl.Series:
    """Make a generated id column unique by suffixing later repeats with their row number."""
    frame = pl.DataFrame({"v": values}).with_row_index("i")
    repeat = pl.col("v").is_not_null() & ~pl.col("v").is_first_distinct()
    return (
        frame.select(
            pl.when(repeat)
            .then(pl.concat_str(pl.col("v"), pl.col("i").cast(pl.String)))
            .otherwise(pl.col("v"))
        )
        .to_series()
        .alias(values.name)
    )


def _mobiles(rng: np.random.Generator, n: int) -> pl.Series:
    draws = unique_ints(rng, n + len(PLACEHOLDER_MOBILES), 0, len(MOBILE_PREFIXES) * 10**8)
    numbers = MOBILE_PREFIXES[draws // 10**8] * 10**8 + draws % 10**8
    numbers = numbers[~np.isin(numbers, [13800000000, 13888888888])][:n]
    return format_ids("", numbers, 11)


def compose_names(
    surname: np.ndarray, given1: np.ndarray, given2: np.ndarray, surnames: list[str], given: list[str]
) -> pl.Series:
    """Concatenate name parts from the given (possibly transformed) character pools."""
    sur = pl.Series(surnames).gather(surname)
    g1 = pl.Series(given).gather(given1)
    g2 = pl.Series(given + [""]).gather(np.where(given2 < 0, len(given), given2))
    return pl.DataFrame({"s": sur, "a": g1, "b": g2}).select(pl.concat_str("s", "a", "b")).to_series()


def _emails(rng: np.random.Generator, n: int, pinyin_full: pl.Series, birth_year: np.ndarray) -> pl.Series:
    domains = [d for d, _ in lexicon.EMAIL_DOMAINS]
    domain = choose(rng, np.array([w for _, w in lexicon.EMAIL_DOMAINS]), n)
    qq_number = pl.Series(unique_ints(rng, n, 10_000, 3_000_000_000)).cast(pl.String)
    digits = pl.Series(rng.integers(1, 10_000, size=n)).cast(pl.String)
    style = rng.integers(0, 3, size=n)
    frame = pl.DataFrame(
        {
            "py": pinyin_full,
            "qq": qq_number,
            "d": digits,
            "y": pl.Series(birth_year).cast(pl.String),
            "style": style,
            "qq_style": (domain == 0) & (rng.random(n) < 0.8),
            "domain": pl.Series(domains).gather(domain),
        }
    )
    local = (
        pl.when(pl.col("qq_style"))
        .then(pl.col("qq"))
        .when(pl.col("style") == 0)
        .then(pl.col("py") + pl.col("d"))
        .when(pl.col("style") == 1)
        .then(pl.col("py") + pl.col("y"))
        .otherwise(pl.col("py") + pl.lit("_") + pl.col("d"))
    )
    emails = frame.select(pl.concat_str(local, pl.lit("@"), pl.col("domain"))).to_series()
    return dedupe(emails)


def _addresses(rng: np.random.Generator, city: np.ndarray) -> pl.Series:
    n = len(city)
    districts = [d for c in lexicon.CITIES for d in c[7]]
    district = pl.Series(districts).gather(city * 3 + rng.integers(0, 3, size=n))
    street = pl.Series(lexicon.STREETS).gather(rng.integers(0, len(lexicon.STREETS), size=n))
    compound = pl.Series(lexicon.COMPOUND_HEADS).gather(
        rng.integers(0, len(lexicon.COMPOUND_HEADS), size=n)
    ) + pl.Series(lexicon.COMPOUND_TAILS).gather(rng.integers(0, len(lexicon.COMPOUND_TAILS), size=n))
    number = pl.Series(rng.integers(1, 999, size=n)).cast(pl.String)
    building = pl.Series(rng.integers(1, 30, size=n)).cast(pl.String)
    room = pl.Series(rng.integers(1, 33, size=n) * 100 + rng.integers(1, 5, size=n)).cast(pl.String)
    return (
        pl.DataFrame({"d": district, "s": street, "n": number, "c": compound, "b": building, "r": room})
        .select(pl.concat_str("d", "s", "n", pl.lit("号"), "c", "b", pl.lit("栋"), "r", pl.lit("室")))
        .to_series()
    )


def _households(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    """Household number per person (-1 alone): `share` of people live in households of 2-4."""
    household = np.full(n, -1, dtype=np.int64)
    members = rng.permutation(n)[: int(n * share)]
    sizes = rng.choice([2, 3, 4], size=len(members) // 2 + 1, p=[0.6, 0.3, 0.1])
    ends = np.cumsum(sizes)
    sizes, ends = sizes[ends <= len(members)], ends[ends <= len(members)]
    members = members[: ends[-1] if len(ends) else 0]
    household[members] = np.repeat(np.arange(len(sizes)), sizes)
    return household


def _favourites(rng: np.random.Generator, female: np.ndarray, age: np.ndarray) -> np.ndarray:
    young_parent = (age >= 25) & (age <= 38)
    weights = {  # category weights by (female, young parent)
        (False, False): [0.3, 1, 1, 2.5, 0.3, 1.5, 1.5, 2.5, 1],
        (False, True): [0.3, 1, 1, 2, 1.2, 1.5, 1.5, 2, 1],
        (True, False): [3, 3, 1, 1, 0.3, 1.5, 1, 0.5, 1],
        (True, True): [2.5, 2.5, 1, 1, 2.5, 1.5, 1, 0.5, 1],
    }
    matrix = np.array([weights[(bool(f), bool(y))] for f, y in [(0, 0), (0, 1), (1, 0), (1, 1)]])
    return choose_per_row(rng, matrix[female.astype(int) * 2 + young_parent.astype(int)])


def _household_heads(household: np.ndarray) -> np.ndarray:
    """The first member of each person's household (-1 for people living alone)."""
    head = np.full(len(household), -1, dtype=np.int64)
    members = np.flatnonzero(household >= 0)
    order = members[np.argsort(household[members], kind="stable")]
    first = np.r_[True, household[order][1:] != household[order][:-1]] if len(order) else np.empty(0, bool)
    head[order] = order[np.flatnonzero(first)[np.cumsum(first) - 1]]
    return head


def _windows(rng: np.random.Generator, n: int, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Active window [arrive, leave): 45 % arrive during the range, 22 % churn before its end."""
    arrive = np.where(rng.random(n) < 0.55, 0, rng.integers(0, max(days, 1), size=n))
    churn = (rng.random(n) < 0.22) & (arrive + 8 < days)
    leave = np.where(churn, arrive + 7 + (rng.random(n) * np.maximum(days - arrive - 7, 1)).astype(int), days)
    return arrive, leave


def _platforms(
    rng: np.random.Generator, online: np.ndarray, female: np.ndarray, wechat: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Who has an account where: shop platforms (online shoppers only) and social platforms."""
    n = len(online)
    ecom = np.stack(
        [rng.random(n) < 0.55, rng.random(n) < 0.35, rng.random(n) < 0.35, wechat & (rng.random(n) < 0.45)],
        axis=1,
    )
    ecom[~ecom.any(axis=1), 0] = True
    ecom &= online[:, None]
    social = np.stack(
        [
            rng.random(n) < 0.45,
            rng.random(n) < np.where(female, 0.42, 0.15),
            rng.random(n) < 0.2,
            wechat & (rng.random(n) < 0.45),
        ],
        axis=1,
    )
    return ecom, social


def _tmall_nicks(rng: np.random.Generator, pinyin: pl.Series) -> pl.Series:
    """Taobao nicks: the default `tb` + digits, pinyin + digits, or a cute phrase + digits."""
    n = len(pinyin)
    nick = pl.Series(lexicon.NICK_HEADS).gather(rng.integers(0, len(lexicon.NICK_HEADS), size=n)) + pl.Series(
        lexicon.NICK_TAILS
    ).gather(rng.integers(0, len(lexicon.NICK_TAILS), size=n))
    return (
        pl.DataFrame(
            {
                "style": rng.integers(0, 3, size=n),
                "py": pinyin,
                "nick": nick,
                "tb": format_ids("tb", unique_ints(rng, n, 10**9, 10**10), 10),
                "d": pl.Series(rng.integers(10, 10_000, size=n)).cast(pl.String),
            }
        )
        .select(
            pl.when(pl.col("style") == 0)
            .then(pl.col("tb"))
            .when(pl.col("style") == 1)
            .then(pl.col("py") + pl.col("d"))
            .otherwise(pl.col("nick") + pl.col("d"))
        )
        .to_series()
    )


def _advertising_ids(rng: np.random.Generator, ios: np.ndarray) -> pl.Series:
    """A phone's advertising id: IDFA (upper-case UUID) on iOS, OAID (lower-case) on Android."""
    n = len(ios)
    return where(ios, random_uuids(rng, n, True), random_uuids(rng, n, False))


def build_population(
    rng: np.random.Generator, n: int, timeline: Timeline, reference: Reference
) -> Population:
    days = timeline.days
    channel = choose(rng, np.array(CHANNEL_SHARES), n)
    female = rng.random(n) < 0.58
    age = (18 + 52 * rng.beta(2.2, 3.5, size=n)).astype(int)
    birth = np.datetime64(timeline.start, "D") - (age * 365.25).astype(int) - rng.integers(0, 365, size=n)
    city = choose(rng, np.array([c[5] for c in lexicon.CITIES]), n)
    household = _households(rng, n, share=0.06)
    head = _household_heads(household)
    lives_with = head >= 0
    city[lives_with] = city[head[lives_with]]
    dependant = lives_with & (head != np.arange(n))

    surname = choose(rng, np.array([w for _, _, w in lexicon.SURNAMES]), n)
    takes_name = dependant & (rng.random(n) < 0.5)
    surname[takes_name] = surname[head[takes_name]]
    from_female = np.where(rng.random(n) < 0.96, female, ~female)  # some names use the other pool
    pool_low = np.where(from_female, N_MALE_CHARS, 0)
    pool_size = np.where(from_female, len(GIVEN_CHARS) - N_MALE_CHARS, N_MALE_CHARS)
    given1 = pool_low + (rng.random(n) * pool_size).astype(int)
    given2 = np.where(rng.random(n) < 0.7, pool_low + (rng.random(n) * pool_size).astype(int), -1)
    pinyin = compose_names(surname, given1, given2, SURNAME_PINYIN, GIVEN_PINYIN)

    arrive, leave = _windows(rng, n, days)
    mobiles = _mobiles(rng, 2 * n)
    changes = (rng.random(n) < 0.02) & (leave - arrive >= 3)
    mobile_change_day = np.where(
        changes, arrive + 1 + (rng.random(n) * np.maximum(leave - arrive - 2, 0)).astype(int), days + 1
    )
    wechat = rng.random(n) < 0.55
    online = channel != CHANNELS.index("offline")
    offline = channel != CHANNELS.index("online")
    ecom, social = _platforms(rng, online, female, wechat)
    member = offline & (rng.random(n) < 0.7)
    ios = rng.random(n) < 0.3
    two_devices = rng.random(n) < 0.25

    # stores are sorted by city: pick uniformly inside the city's block
    stores_in_city = np.bincount(reference.store_city, minlength=len(lexicon.CITIES))
    first_store = np.cumsum(stores_in_city) - stores_in_city
    home_store = np.where(
        offline, first_store[city] + (rng.random(n) * stores_in_city[city]).astype(np.int64), -1
    )

    faker = Faker("zh_CN")
    faker.seed_instance(int(rng.integers(2**31)))
    companies = [faker.company() for _ in range(300)] + list(lexicon.ENGLISH_COMPANIES)
    birth_year = birth.astype("datetime64[Y]").astype(int) + 1970
    frame = pl.DataFrame(
        {
            "person_id": format_ids("P", np.arange(1, n + 1), 7),
            "name": compose_names(surname, given1, given2, SURNAME_CHARS, GIVEN_CHARS),
            "pinyin": pinyin,
            "mobile": mobiles[:n],
            "mobile_new": where(changes, mobiles[n:]),
            "shared_mobile": where(dependant, mobiles[:n].gather(np.maximum(head, 0))),
            "email": where(rng.random(n) < 0.35, _emails(rng, n, pinyin, birth_year)),
            "wxid": where(wechat, random_strings(rng, n, 14, LOWER_ALNUM, "wxid_")),
            "unionid": where(wechat, random_strings(rng, n, 27, URLSAFE, "o")),
            "tmall": where(ecom[:, 0], _tmall_nicks(rng, pinyin)),
            "jd": where(ecom[:, 1], random_strings(rng, n, 12, LOWER_ALNUM, "jd_")),
            "douyin": where(ecom[:, 2] | social[:, 0], random_strings(rng, n, 36, URLSAFE, "_000")),
            "wechat_mp": where(ecom[:, 3], random_strings(rng, n, 27, URLSAFE, "o")),
            "wechat_oa": where(social[:, 3], random_strings(rng, n, 27, URLSAFE, "o")),
            "xiaohongshu": where(social[:, 1], random_strings(rng, n, 24, LOWER_HEX)),
            "weibo": where(
                social[:, 2], format_ids("", unique_ints(rng, n, 1_000_000_000, 7_999_999_999), 10)
            ),
            "device1": _advertising_ids(rng, ios),
            "device2": where(two_devices, _advertising_ids(rng, rng.random(n) < 0.3)),
            "member_card": where(member, format_ids("M", unique_ints(rng, n, 0, 10**10), 10)),
            "company": pl.Series(companies).gather(rng.integers(0, len(companies), size=n)),
            "title": pl.Series(lexicon.TITLES).gather(rng.integers(0, len(lexicon.TITLES), size=n)),
            "address": _addresses(rng, city).gather(np.where(lives_with, head, np.arange(n))),
        }
    )
    # random ids practically never collide; make sure they do not
    frame = frame.with_columns(*(dedupe(frame.get_column(c)) for c in IDENTIFIERS))
    return Population(
        frame=frame,
        channel=channel,
        female=female,
        birth=birth,
        city=city,
        arrive=arrive,
        leave=leave,
        activity=lognormal_weights(rng, n, 1.0),
        surname=surname,
        given1=given1,
        given2=given2,
        mobile_change_day=mobile_change_day,
        household=household,
        home_store=home_store,
        favourite=_favourites(rng, female, age),
        ecom=ecom,
        ecom_preference=ecom * lognormal_weights(rng, n * 4, 0.8).reshape(n, 4),
        social=social,
        member=member,
        hides_idfa=ios & (rng.random(n) < 0.02),
        two_devices=two_devices,
    )


def people_frame(population: Population, timeline: Timeline) -> pl.DataFrame:
    """The person table written to `_truth/people.csv` for evaluating identity and tags."""
    f = population.frame
    start = np.datetime64(timeline.start, "D")
    return pl.DataFrame(
        {
            "person_id": f["person_id"],
            "name": f["name"],
            "gender": np.where(population.female, "女", "男"),
            "birth_date": population.birth.astype(str),
            "city": pl.Series([c[0] for c in lexicon.CITIES]).gather(population.city),
            "province": pl.Series([c[1] for c in lexicon.CITIES]).gather(population.city),
            "city_tier": pl.Series([c[2] for c in lexicon.CITIES]).gather(population.city),
            "channel": np.array(CHANNELS)[population.channel],
            "household": where(population.household >= 0, pl.Series(population.household)),
            "mobile": f["mobile"],
            "mobile_new": f["mobile_new"],
            "email": f["email"],
            "wxid": f["wxid"],
            "unionid": f["unionid"],
            "member_card": f["member_card"],
            "first_active": (start + population.arrive).astype(str),
            "last_active": (start + np.maximum(population.leave - 1, population.arrive)).astype(str),
        }
    )
