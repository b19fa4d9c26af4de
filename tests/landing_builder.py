"""Hand-built landing zones for tests: a few people whose correct answers are known by
construction. (Whole-pipeline tests on realistic data use the generator instead.)"""

import csv
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

DAY = "2026-05-01"


def write_csv(path: Path, rows: list[dict], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def write_parquet(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def order(
    order_id: str,
    platform: str,
    account: str,
    mobile: str = "",
    name: str = "",
    amount: float = 100.0,
    time: str = f"{DAY} 10:00:00",
    status: str = "completed",
    refund: float = 0.0,
) -> dict:
    return {
        "order_id": order_id,
        "platform": platform,
        "buyer_account": account,
        "receiver_name": name,
        "receiver_mobile": mobile,
        "receiver_city": "上海",
        "receiver_address": "",
        "buyer_email": "",
        "order_time": time,
        "product_id": "P001",
        "category": "美妆",
        "quantity": 1,
        "amount": amount,
        "coupon_amount": 0,
        "status": status,
        "refund_amount": refund,
        "campaign_id": "",
    }


def pos(
    txn_id: str,
    mobile: str = "",
    card: str = "",
    name: str = "",
    amount: float = 50.0,
    txn_type: str = "sale",
    time: str = f"{DAY} 15:00:00",
) -> dict:
    return {
        "txn_id": txn_id,
        "store_id": "S01",
        "cashier_id": "C1",
        "member_card": card,
        "mobile": mobile,
        "customer_name": name,
        "txn_time": time,
        "product_id": "P002",
        "category": "服饰",
        "quantity": 1,
        "amount": amount,
        "coupon_amount": 0,
        "payment_method": "wechat_pay",
        "txn_type": txn_type,
        "campaign_id": "",
    }


def ad(
    event_id: str,
    device: str,
    event_type: str = "impression",
    cost: float = 0.05,
    openid: str | None = None,
    time: str = f"{DAY} 09:00:00",
) -> dict:
    return {
        "event_id": event_id,
        "campaign_id": "C001",
        "channel": "feed",
        "creative_id": "CR1",
        "event_type": event_type,
        "event_time": time,
        "device_id": device,
        "openid": openid,
        "cost": cost,
    }


def device(
    event_id: str, device_id: str, mobile: str = "", card: str = "", kind: str = "wifi_portal"
) -> dict:
    return {
        "event_id": event_id,
        "store_id": "S01",
        "device_type": kind,
        "event_time": f"{DAY} 14:00:00",
        "device_id": device_id,
        "mobile": mobile,
        "member_card": card,
        "dwell_seconds": 60,
        "product_id": "",
    }


def build_small_landing(root: Path) -> dict[str, str]:
    """Four people across feeds; returns the true person of each identity-bearing record.

    - Wang: a Tmall order with a +86-formatted mobile and a POS ticket with the same mobile in
      full-width digits and a member card; a Wi-Fi login ties her phone's device id to the mobile,
      so her ad impressions and click (device id in another case and format) are hers too.
    - Li: a JD order (refunded) and a POS sale + refund, linked by mobile and member card.
    - Two strangers whose POS tickets carry only the cashier placeholder 13800000000, written two
      ways: they must not merge.
    An ad impression on the all-zero device id stays anonymous.
    """
    day = root / "{feed}" / DAY
    write_csv(
        Path(str(day).format(feed="ecommerce_orders")) / f"tmall_orders_{DAY}.csv",
        [order("TM1", "tmall", "tb_wang", "+86 138 0013 8000", "王芳", 199.0)],
        encoding="gbk",
    )
    write_csv(
        Path(str(day).format(feed="ecommerce_orders")) / f"jd_orders_{DAY}.csv",
        [order("JD1", "jd", "jd_li", "139-1234-5678", "李娜", 88.0, status="refunded", refund=88.0)],
        encoding="utf-8-sig",
    )
    write_csv(
        Path(str(day).format(feed="pos_transactions")) / f"pos_S01_{DAY}.csv",
        [
            pos("T1", "１３８００１３８０００", "M0000000001", "王芳", 59.0),
            pos("T2", "13912345678", "M0000000002", "", 30.0),
            pos("T3", "13800000000", "", "", 20.0),
            pos("T4", "138-0000-0000", "", "赵伟", 10.0),
            pos("T5", "", "M0000000002", "", 30.0, txn_type="refund"),
        ],
        encoding="gbk",
    )
    write_parquet(
        Path(str(day).format(feed="ad_events")) / f"ads_{DAY}.parquet",
        [
            ad("A1", "abcdef01-2345-6789-abcd-ef0123456789"),
            ad("A2", "ABCDEF01-2345-6789-ABCD-EF0123456789", "click", 0.8),
            ad("A3", "00000000-0000-0000-0000-000000000000"),
        ],
    )
    write_csv(
        Path(str(day).format(feed="device_events")) / f"devices_{DAY}.csv",
        [device("D1", "abcdef0123456789abcdef0123456789", "13800138000")],
    )
    return {
        "ecommerce_orders/TM1": "wang",
        "pos_transactions/T1": "wang",
        "ecommerce_orders/JD1": "li",
        "pos_transactions/T2": "li",
        "pos_transactions/T5": "li",
        "pos_transactions/T3": "stranger1",
        "pos_transactions/T4": "stranger2",
    }


LI_EMAIL = "li.na@example.com"


def add_expo_registration(root: Path) -> dict[str, str]:
    """Li also signed up at a trade show with her email and her mobile, spelt another way: a people
    feed, and an email, for the privacy tests to find and forget."""
    write_csv(
        root / "expo_registrations" / DAY / "expo.csv",
        [
            {
                "registration_id": "R1",
                "expo_id": "E1",
                "name": "李娜",
                "mobile": "+86 139 1234 5678",
                "email": LI_EMAIL,
                "company": "",
                "title": "",
                "city": "上海",
                "gender": "F",
                "birth_date": "1990-02-03",
                "interests": "",
                "wxid": "",
                "registered_at": f"{DAY} 09:30:00",
            }
        ],
    )
    return {"expo_registrations/R1": "li"}
