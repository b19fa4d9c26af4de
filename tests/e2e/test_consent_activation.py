"""Consent through whole runs: a withdrawal captured at a store removes the person from an online
audience's next export and puts them on the suppression list; a person without any consent record
is left out of an opt-in purpose; a deletion on request reaches the next suppression list.

Wang (Tmall order with her mobile, POS ticket with mobile and member card M0000000001) grants ad
personalisation in the app, by mobile, on day one; on day two she withdraws it on a paper form at
the store, which knows her only by her member card. Li (mobile 13912345678) never decides."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from assets.common.paths import CONFIG_DIR
from tests.e2e.cdp_process import cdp
from tests.landing_builder import DAY, build_small_landing, write_csv

pytestmark = pytest.mark.slow(seconds=90)
NEXT_DAY = "2026-05-02"
WANG = hashlib.md5(b"13800138000").hexdigest()
LI = hashlib.md5(b"13912345678").hexdigest()
AUDIENCES = {
    "destinations": {
        "tencent_ads": {
            "format": "id_list",
            "files": [{"name": "HASH_MOBILE_PHONE", "id": "mobile", "hash": "md5", "case": "lower"}],
        }
    },
    "audiences": [
        {
            "name": "online_buyers",
            "description": "Everyone who bought online.",
            "purpose": "ads_personalisation",
            "destinations": ["tencent_ads"],
            "sql": "select unified_id from marts.fct_orders "
            "where channel = 'online' and unified_id is not null",
        }
    ],
}


def consent(
    consent_id: str, purpose: str, decision: str, via: str, at: str, mobile: str = "", card: str = ""
) -> dict:
    return {
        "consent_id": consent_id,
        "mobile": mobile,
        "member_card": card,
        "openid": "",
        "purpose": purpose,
        "decision": decision,
        "captured_via": via,
        "captured_at": at,
    }


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("consent")
    shutil.copytree(CONFIG_DIR, root / "config")
    (root / "config" / "audiences.yaml").write_text(yaml.safe_dump(AUDIENCES), encoding="utf-8")
    landing = root / "data" / "landing"
    build_small_landing(landing)
    write_csv(
        landing / "consent_events" / DAY / "consents.csv",
        [
            consent(
                "C1",
                "ads_personalisation",
                "granted",
                "privacy_centre",
                f"{DAY} 10:05:00",
                mobile="+86 138 0013 8000",
            )
        ],
    )
    return root


@pytest.fixture(scope="module")
def day_one(deployment: Path) -> Path:
    run = cdp(deployment, "run")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    return deployment / "data" / "exports" / "activation"


def test_only_people_whose_consent_covers_the_purpose_are_sent(day_one):
    folder = day_one / "online_buyers" / "tencent_ads"
    assert lines(folder / "HASH_MOBILE_PHONE.txt") == [WANG]  # Li bought online too, but never consented
    manifest = json.loads((folder / "manifest.json").read_text())
    assert (manifest["members"], manifest["excluded_without_consent"]) == (1, 1)
    assert (manifest["purpose"], manifest["consent_basis"]) == ("ads_personalisation", "opt_in")
    assert lines(day_one / "_suppression" / "tencent_ads" / "HASH_MOBILE_PHONE.txt") == []


@pytest.fixture(scope="module")
def day_two(day_one: Path, deployment: Path) -> Path:
    write_csv(
        deployment / "data" / "landing" / "consent_events" / NEXT_DAY / "store_forms.csv",
        [
            consent(
                "C2", "ads_personalisation", "退订", "store_form", f"{NEXT_DAY} 15:00:00", card="M0000000001"
            )
        ],
    )
    run = cdp(deployment, "run")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    return day_one


def test_a_withdrawal_at_a_store_removes_the_person_from_the_online_audience(day_two):
    folder = day_two / "online_buyers" / "tencent_ads"
    assert lines(folder / "HASH_MOBILE_PHONE.txt") == []
    assert lines(folder / "HASH_MOBILE_PHONE.removed.txt") == [WANG]
    assert lines(folder / "HASH_MOBILE_PHONE.added.txt") == []
    assert lines(day_two / "_suppression" / "tencent_ads" / "HASH_MOBILE_PHONE.txt") == [WANG]


def test_a_deletion_on_request_reaches_the_next_suppression_list(day_two, deployment):
    """The suppression lists are written by the exports stage, so its run is the next export; that a
    forgotten person stays out of every later whole run is test_forget's."""
    forget = cdp(deployment, "forget", "--mobile", "139-1234-5678")
    assert forget.returncode == 0, forget.stdout + forget.stderr
    run = cdp(deployment, "run", "--stage", "exports")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert lines(day_two / "_suppression" / "tencent_ads" / "HASH_MOBILE_PHONE.txt") == sorted([WANG, LI])
