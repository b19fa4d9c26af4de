"""The sample-data generator: layout, formats, determinism, truth and noise on a tiny population."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from generator import GenerationSummary, generate

PEOPLE = 300
SEED = 7
START, END = date(2026, 5, 1), date(2026, 10, 31)
DATE = r"(\d{4}-\d{2}-\d{2})"
FILE_PATTERNS = {
    "ecommerce_orders": (
        rf"(tmall_orders_{DATE}\.csv|jd_orders_{DATE}\.csv|"
        rf"douyin_orders_{DATE}\.jsonl|wechat_mp_orders_{DATE}\.parquet)"
    ),
    "ecommerce_browse": rf"browse_{DATE}\.parquet",
    "social_interactions": rf"social_{DATE}\.jsonl",
    "ad_events": rf"ads_{DATE}\.parquet",
    "pos_transactions": rf"pos_S\d{{3}}_{DATE}\.csv",
    "expo_registrations": rf"expo_EX\w+?_{DATE}\.csv",
    "device_events": rf"devices_{DATE}\.csv",
    "member_coupons": rf"coupons_{DATE}\.jsonl",
}
COLUMNS = {
    "ecommerce_orders": [
        "order_id",
        "platform",
        "buyer_account",
        "receiver_name",
        "receiver_mobile",
        "receiver_city",
        "receiver_address",
        "buyer_email",
        "order_time",
        "product_id",
        "category",
        "quantity",
        "amount",
        "coupon_amount",
        "status",
        "refund_amount",
        "campaign_id",
    ],
    "ecommerce_browse": [
        "event_id",
        "platform",
        "buyer_account",
        "event_type",
        "event_time",
        "product_id",
        "category",
        "dwell_seconds",
        "search_term",
        "session_id",
        "campaign_id",
        "latitude",
        "longitude",
    ],
    "social_interactions": [
        "interaction_id",
        "platform",
        "openid",
        "unionid",
        "wxid",
        "nickname",
        "action",
        "content_id",
        "kol_id",
        "event_time",
        "campaign_id",
    ],
    "ad_events": [
        "event_id",
        "campaign_id",
        "channel",
        "creative_id",
        "event_type",
        "event_time",
        "device_id",
        "openid",
        "cost",
        "experiment_id",
        "experiment_arm",
    ],
    "pos_transactions": [
        "txn_id",
        "store_id",
        "cashier_id",
        "member_card",
        "mobile",
        "customer_name",
        "txn_time",
        "product_id",
        "category",
        "quantity",
        "amount",
        "coupon_amount",
        "payment_method",
        "txn_type",
        "campaign_id",
    ],
    "expo_registrations": [
        "registration_id",
        "expo_id",
        "name",
        "mobile",
        "email",
        "company",
        "title",
        "city",
        "gender",
        "birth_date",
        "interests",
        "wxid",
        "registered_at",
    ],
    "device_events": [
        "event_id",
        "store_id",
        "device_type",
        "event_time",
        "device_id",
        "mobile",
        "member_card",
        "dwell_seconds",
        "product_id",
    ],
    "member_coupons": [
        "event_id",
        "coupon_id",
        "member_card",
        "event_type",
        "event_time",
        "expires_at",
        "coupon_value",
    ],
    "consent_events": [
        "consent_id",
        "mobile",
        "member_card",
        "openid",
        "purpose",
        "decision",
        "captured_via",
        "captured_at",
    ],
}
ID_COLUMN = {
    "ecommerce_orders": "order_id",
    "ecommerce_browse": "event_id",
    "social_interactions": "interaction_id",
    "ad_events": "event_id",
    "pos_transactions": "txn_id",
    "expo_registrations": "registration_id",
    "device_events": "event_id",
    "member_coupons": "event_id",
    "consent_events": "consent_id",
}
TIME_COLUMN = {
    "ecommerce_orders": "order_time",
    "pos_transactions": "txn_time",
    "expo_registrations": "registered_at",
    "consent_events": "captured_at",
}
GBK_PREFIXES = ("tmall_orders_", "pos_")
BOM_PREFIXES = ("jd_orders_", "expo_", "consents_")
CANONICAL_MOBILE = r"^1[3-9]\d{9}$"
PLACEHOLDERS = ["13800000000", "13888888888", "00000000000"]


def read(path: Path) -> pl.DataFrame:
    """A landing file as all-string columns, decoded the way its source writes it."""
    if path.suffix == ".parquet":
        frame = pl.read_parquet(path)
        return frame.with_columns(pl.col(pl.Datetime).dt.strftime("%Y-%m-%d %H:%M:%S")).select(
            pl.all().cast(pl.String)
        )
    if path.suffix == ".jsonl":
        rows = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
        return pl.DataFrame(rows, infer_schema_length=None).select(pl.all().cast(pl.String))
    encoding = "gbk" if path.name.startswith(GBK_PREFIXES) else "utf-8-sig"
    text = path.read_bytes().decode(encoding)
    return pl.read_csv(text.encode(), infer_schema=False)


def read_feed(root: Path, feed: str) -> pl.DataFrame:
    frames = []
    for path in sorted((root / feed).glob("*/*")):
        frames.append(read(path).with_columns(_dir=pl.lit(path.parent.name), _file=pl.lit(path.name)))
    return pl.concat(frames, how="diagonal")


def all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationSummary]:
    out = tmp_path_factory.mktemp("landing")
    return out, generate(PEOPLE, SEED, out, START, END)


@pytest.fixture(scope="module")
def feeds(sample: tuple[Path, GenerationSummary]) -> dict[str, pl.DataFrame]:
    root, _ = sample
    return {feed: read_feed(root, feed) for feed in COLUMNS}


@pytest.fixture(scope="module")
def truth(sample: tuple[Path, GenerationSummary]) -> pl.DataFrame:
    root, _ = sample
    people = pl.read_csv(root / "_truth/people.csv", infer_schema=False)
    return pl.read_csv(root / "_truth/records.csv", infer_schema=False).join(
        people, on="person_id", how="left"
    )


def test_same_seed_gives_identical_bytes_and_rerun_replaces_only_owned_folders(sample, tmp_path):
    root, _ = sample
    (tmp_path / "notes.txt").write_text("not the generator's")
    (tmp_path / "ecommerce_orders" / "1999-01-01").mkdir(parents=True)
    (tmp_path / "ecommerce_orders" / "1999-01-01" / "stale.csv").write_text("old")
    generate(PEOPLE, SEED, tmp_path, START, END)
    assert (tmp_path / "notes.txt").read_text() == "not the generator's"
    assert not (tmp_path / "ecommerce_orders" / "1999-01-01").exists()
    again = all_files(tmp_path)
    del again["notes.txt"]
    assert again == all_files(root)


def test_other_seed_gives_other_data(sample, tmp_path):
    root, _ = sample
    generate(PEOPLE, SEED + 1, tmp_path, START, END)
    assert (tmp_path / "_truth/records.csv").read_bytes() != (root / "_truth/records.csv").read_bytes()
    assert (tmp_path / "reference/stores.csv").read_bytes() != (root / "reference/stores.csv").read_bytes()


def test_every_feed_has_daily_folders_within_range_and_named_files(sample):
    root, _ = sample
    for feed, pattern in FILE_PATTERNS.items():
        days = sorted(p.name for p in (root / feed).iterdir())
        assert days, feed
        assert START.isoformat() <= days[0] and days[-1] <= END.isoformat(), feed
        for path in (root / feed).glob("*/*"):
            match = re.fullmatch(pattern, path.name)
            assert match, path
            assert path.parent.name in match.groups(), path
    # even a tiny population browses on nearly every day of the range
    assert len(list((root / "ecommerce_browse").iterdir())) > 0.9 * ((END - START).days + 1)


def test_columns_are_exactly_the_spec(feeds):
    for feed, columns in COLUMNS.items():
        assert [c for c in feeds[feed].columns if not c.startswith("_")] == columns, feed


def test_encodings(sample):
    root, _ = sample
    tmall = sorted((root / "ecommerce_orders").glob("*/tmall_orders_*.csv"))
    chinese = next(
        p.read_bytes() for p in tmall if re.search("[\u4e00-\u9fff]", p.read_bytes().decode("gbk"))
    )
    with pytest.raises(UnicodeDecodeError):
        chinese.decode("utf-8")
    for path in sorted((root / "pos_transactions").glob("*/*.csv"))[:50]:
        path.read_bytes().decode("gbk")
    for pattern in ("ecommerce_orders/*/jd_orders_*.csv", "expo_registrations/*/*.csv"):
        files = sorted(root.glob(pattern))
        assert files and all(p.read_bytes().startswith(b"\xef\xbb\xbf") for p in files), pattern
    for pattern in ("device_events/*/*.csv", "reference/*.csv", "_truth/*.csv"):
        files = sorted(root.glob(pattern))
        assert files and not any(p.read_bytes().startswith(b"\xef\xbb\xbf") for p in files), pattern
        for p in files:
            p.read_bytes().decode("utf-8")
    browse = pq.read_schema(next((root / "ecommerce_browse").glob("*/*.parquet")))
    assert str(browse.field("event_time").type).startswith("timestamp")


def test_expo_fields_with_commas_are_quoted(feeds):
    expo = feeds["expo_registrations"]
    assert expo.filter(pl.col("title").str.contains(",") | pl.col("company").str.contains(",")).height > 0


def test_rows_sit_in_the_folder_of_their_day_and_money_has_two_decimals(sample, feeds):
    root, _ = sample
    for feed, frame in feeds.items():
        column = TIME_COLUMN.get(feed, "event_time")
        assert frame.filter(pl.col(column).str.slice(0, 10) != pl.col("_dir")).height == 0, feed
        assert frame.get_column(column).str.contains(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$").all(), feed
    pos_text = next((root / "pos_transactions").glob("*/*.csv")).read_bytes().decode("gbk")
    assert re.search(r",-?\d+\.\d{2},\d+\.\d{2},(wechat_pay|alipay|card|cash),", pos_text)


def test_ids_unique_within_each_feed(feeds):
    for feed, column in ID_COLUMN.items():
        ids = feeds[feed].get_column(column)
        assert ids.null_count() == 0 and ids.n_unique() == len(ids), feed


def test_truth_covers_every_identity_record_exactly_once(sample, feeds, truth):
    root, summary = sample
    assert truth.get_column("name").null_count() == 0  # every truth person exists
    assert truth.select("source", "record_id").is_unique().all()
    for feed in ("ecommerce_orders", "pos_transactions", "expo_registrations"):
        records = set(feeds[feed].get_column(ID_COLUMN[feed]).to_list())
        assert set(truth.filter(pl.col("source") == feed).get_column("record_id").to_list()) == records, feed
    assert set(truth.get_column("source").unique().to_list()) == {
        "ecommerce_orders",
        "pos_transactions",
        "expo_registrations",
    }
    assert summary.identity_records == truth.height
    assert summary.rows_per_feed == {feed: frame.height for feed, frame in feeds.items()}
    assert summary.files == sum(1 for p in root.rglob("*") if p.is_file())


def test_placeholder_rows_still_have_their_true_person(feeds, truth):
    pos = feeds["pos_transactions"].join(
        truth.filter(pl.col("source") == "pos_transactions"), left_on="txn_id", right_on="record_id"
    )
    blind = pos.filter(
        pl.col("mobile").is_in(PLACEHOLDERS)
        & pl.col("member_card").is_null()
        & pl.col("customer_name").is_null()
    )
    assert blind.height > 0 and blind.get_column("person_id").null_count() == 0


def test_noise_is_present(feeds, truth):
    orders = feeds["ecommerce_orders"]
    mobiles = orders.get_column("receiver_mobile").drop_nulls()
    assert 0.25 < (~mobiles.str.contains(CANONICAL_MOBILE)).mean() < 0.55
    assert mobiles.str.contains("[０-９]").any() and mobiles.str.starts_with("+86").any()
    pos = feeds["pos_transactions"]
    assert 0.03 < pos.get_column("mobile").is_in(PLACEHOLDERS).mean() < 0.15
    named = orders.join(truth, left_on="order_id", right_on="record_id").filter(
        pl.col("receiver_name").is_not_null()
    )
    altered = named.filter(pl.col("receiver_name") != pl.col("name"))
    assert 0.05 < altered.height / named.height < 0.4
    assert altered.get_column("receiver_name").str.contains("^[A-Za-z ]+$").any()  # pinyin spellings
    ads = feeds["ad_events"].get_column("device_id")
    assert ads.str.contains("[a-f]").any() and ads.str.contains("[A-F]").any()


def test_store_tablet_is_shared_across_many_visits(feeds):
    devices = feeds["device_events"]
    trials = devices.filter(pl.col("device_type").is_in(["ar_mirror", "smart_shelf"]))
    top = trials.group_by("device_id").agg(
        pl.len(), pl.col("_dir").n_unique().alias("days"), pl.col("store_id").n_unique().alias("stores")
    )
    busiest = top.sort("len").row(-1, named=True)
    assert busiest["days"] >= 10 and busiest["stores"] == 1
    phones = devices.filter(pl.col("device_type").is_in(["beacon", "wifi_portal"])).get_column("device_id")
    assert not phones.str.to_lowercase().is_in(trials.get_column("device_id").str.to_lowercase()).any()


def test_channel_mix_shows_in_behaviour(truth):
    per_person = truth.group_by("person_id", "channel").agg(
        (pl.col("source") == "ecommerce_orders").any().alias("online"),
        (pl.col("source") == "pos_transactions").any().alias("offline"),
    )
    assert per_person.filter((pl.col("channel") == "online") & pl.col("offline")).height == 0
    assert per_person.filter((pl.col("channel") == "offline") & pl.col("online")).height == 0
    shoppers = per_person.filter(pl.col("online") | pl.col("offline"))
    share = {
        "online": shoppers.filter(pl.col("online") & ~pl.col("offline")).height / shoppers.height,
        "offline": shoppers.filter(~pl.col("online") & pl.col("offline")).height / shoppers.height,
        "omni": shoppers.filter(pl.col("online") & pl.col("offline")).height / shoppers.height,
    }
    assert (
        abs(share["online"] - 0.40) < 0.1
        and abs(share["offline"] - 0.35) < 0.1
        and abs(share["omni"] - 0.25) < 0.1
    )


def test_funnel_orders_follow_a_cart_add_on_the_same_account(feeds):
    browse = feeds["ecommerce_browse"]
    carts = browse.filter(pl.col("event_type") == "add_to_cart").select("buyer_account", "product_id")
    orders = feeds["ecommerce_orders"].select("buyer_account", "product_id")
    followed = (
        orders.join(carts.unique(), on=["buyer_account", "product_id"], how="semi").height / orders.height
    )
    assert 0.4 < followed < 0.95


def test_tested_campaigns_list_their_treatment_and_control_groups(sample):
    root, _ = sample
    groups = pl.read_csv(root / "_truth/campaign_groups.csv")
    campaigns = pl.read_csv(root / "reference/campaigns.csv")
    holdout = campaigns.filter(pl.col("variant").is_null() & (pl.col("control_share") > 0)).row(0, named=True)
    arms = campaigns.filter(pl.col("variant").is_not_null())
    assert sorted(arms.get_column("variant").to_list()) == ["A", "B", "control"]
    listed = groups.filter(pl.col("campaign_id") == holdout["campaign_id"])
    control = (listed.get_column("group") == "control").mean()
    assert abs(control - holdout["control_share"]) < 0.05
    by_arm = groups.join(arms.select("campaign_id", "variant"), on="campaign_id")
    assert set(by_arm.filter(pl.col("variant") == "control").get_column("group").unique()) == {"control"}
    assert by_arm.get_column("person_id").is_unique().all()  # one arm per person


def test_ad_platform_exports_every_tested_campaigns_assignment(sample, feeds):
    root, _ = sample
    groups = pl.read_csv(root / "_truth/campaign_groups.csv")
    assigned = feeds["ad_events"].filter(pl.col("event_type") == "assignment")
    by_truth = (
        groups.group_by("campaign_id", (pl.col("group") == "control").alias("control")).len().sort(pl.all())
    )
    by_feed = assigned.group_by("campaign_id", (pl.col("experiment_arm") == "control").alias("control")).len()
    assert by_feed.sort(pl.all()).equals(by_truth)
    campaigns = pl.read_csv(root / "reference/campaigns.csv")
    arms = campaigns.filter(pl.col("variant").is_not_null())
    control_id = arms.filter(pl.col("variant") == "control")["campaign_id"][0]
    tested = assigned.filter(pl.col("campaign_id").is_in(arms["campaign_id"].implode()))
    assert set(tested["experiment_id"].unique()) == {control_id}
    assert set(tested["experiment_arm"].unique()) == {"A", "B", "control"}
    assert (assigned["cost"].cast(pl.Float64) == 0).all()


def test_mini_program_sessions_carry_a_location_near_home(feeds):
    browse = feeds["ecommerce_browse"]
    located = browse.filter(pl.col("latitude").is_not_null())
    assert set(located["platform"].unique()) == {"wechat_mp"}
    share = located.height / browse.filter(pl.col("platform") == "wechat_mp").height
    assert 0.5 < share < 0.9
    lat = located["latitude"].cast(pl.Float64)
    assert lat.min() > 18 and lat.max() < 46  # inside mainland China's cities


def test_coupons_expire_after_issue_and_are_redeemed_at_most_once_before_expiry(feeds):
    coupons = feeds["member_coupons"]
    issued = coupons.filter(pl.col("event_type") == "coupon_issued")
    redeemed = coupons.filter(pl.col("event_type") == "coupon_redeemed")
    assert issued["coupon_id"].is_unique().all() and redeemed["coupon_id"].is_unique().all()
    assert (issued["expires_at"] > issued["event_time"]).all()
    used = redeemed.join(issued.select("coupon_id", "expires_at"), on="coupon_id", suffix="_issued")
    assert (used["event_time"] <= used["expires_at_issued"]).all()
    assert 0.2 < redeemed.height / issued.height < 0.5
    assert issued["member_card"].is_not_null().all()


def test_consent_decisions_grant_at_sign_up_and_some_withdraw_later(feeds):
    consents = feeds["consent_events"]
    assert set(consents.get_column("purpose").unique()) == {
        "marketing_sms",
        "wechat_messages",
        "ads_personalisation",
        "data_sharing",
    }
    assert set(consents.get_column("decision").unique()) == {"granted", "withdrawn", "TD"}
    assert (consents.filter(pl.col("decision") == "TD").get_column("captured_via") == "sms_td").all()
    shares = consents.group_by("purpose").agg((pl.col("decision") == "granted").mean().alias("granted"))
    granted = dict(shares.iter_rows())
    assert granted["marketing_sms"] > granted["data_sharing"]  # separate opt-ins: few share data
    wechat = consents.filter(pl.col("captured_via") == "wechat_oa")
    assert (
        wechat.get_column("openid").null_count() == 0
        and wechat.get_column("mobile").null_count() == wechat.height
    )
    assert (
        consents.filter(
            pl.col("mobile").is_null() & pl.col("member_card").is_null() & pl.col("openid").is_null()
        ).height
        == 0
    )  # every decision names someone


def test_people_drawn_in_slices_keep_ids_unique_and_truth_exact(tmp_path):
    """A population larger than a slice is drawn slice by slice (2 M people do not fit in memory
    at once): later slices' files carry their number, ids stay unique across slices, and the
    truth still names every identity record once, each by a person of its own slice."""
    summary = generate(PEOPLE, SEED, tmp_path, START, END, chunk_people=120)
    feeds = {feed: read_feed(tmp_path, feed) for feed in COLUMNS}
    for feed, pattern in FILE_PATTERNS.items():
        names = feeds[feed].get_column("_file").unique()
        stems = names.str.replace(r"-([12])\.(csv|jsonl|parquet)$", ".$2")
        assert all(re.fullmatch(pattern, name) for name in stems), feed
        assert names.str.contains(r"-2\.\w+$").any() or feed == "expo_registrations", feed
    for feed, column in ID_COLUMN.items():
        ids = feeds[feed].get_column(column)
        assert ids.null_count() == 0 and ids.n_unique() == len(ids), feed
    truth = pl.read_csv(tmp_path / "_truth/records.csv", infer_schema=False)
    assert truth.select("source", "record_id").is_unique().all()
    for feed in ("ecommerce_orders", "pos_transactions", "expo_registrations"):
        records = feeds[feed].join(truth, left_on=ID_COLUMN[feed], right_on="record_id", how="left")
        assert records.get_column("person_id").null_count() == 0, feed
        slice_of_file = records.get_column("_file").str.extract(r"-(\d)\.\w+$").fill_null("0").cast(int)
        slice_of_person = (records.get_column("person_id").str.slice(1).cast(int) - 1) // 120
        assert (slice_of_file == slice_of_person).all(), feed
    assert summary.identity_records == truth.height
    assert summary.rows_per_feed == {feed: frame.height for feed, frame in feeds.items()}
    assert summary.files == sum(1 for p in tmp_path.rglob("*") if p.is_file())
    people = pl.read_csv(tmp_path / "_truth/people.csv", infer_schema=False)
    assert people.height == PEOPLE and people.get_column("person_id").is_unique().all()
