"""The Dagster UI and the HTML report as a person uses them: in headless Chromium (Debian's
``chromium`` + ``chromium-driver``, installed by ``make browser``; nothing downloaded elsewhere).

Starts ``cdp ui`` on 127.0.0.1 and a free port over a fresh data directory (a small generated
landing zone and a hand-made marts.duckdb, so no dbt run is needed), checks the lineage shows our
stages, materialises the report asset from its page, waits for the run to succeed, then opens the
report it wrote and checks that the charts rendered. Screenshots go to ``$CDP_TEST_ARTIFACTS``
(default ``test-artifacts/browser``)."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

import pytest

from assets.common.paths import REPO_ROOT
from pipelines.settings import STAGES
from tests.marts_builder import build_marts

pytestmark = [pytest.mark.browser, pytest.mark.slow(seconds=35)]

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def ensure_chromium() -> None:
    """Install Debian's Chromium and its driver (``make browser``) when missing; skip only when
    that is impossible here (not root, no apt)."""
    if Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists():
        return
    if os.geteuid() == 0 and shutil.which("apt-get") and shutil.which("make"):
        subprocess.run(["make", "-C", str(REPO_ROOT), "browser"], check=False, timeout=900)
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(
            "Debian chromium + chromium-driver are not installed and could not be installed "
            "(run `make browser` as root)"
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def artifacts() -> Path:
    folder = Path(os.environ.get("CDP_TEST_ARTIFACTS", REPO_ROOT / "test-artifacts")) / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """`cdp ui` on a free port over a fresh deployment; stopped (its whole process group) after."""
    ensure_chromium()
    from generator import generate

    root = tmp_path_factory.mktemp("ui")
    data = root / "data"
    generate(people=40, seed=11, out=data / "landing", start=date(2026, 10, 1), end=date(2026, 10, 7))
    build_marts(data / "marts.duckdb")
    port = free_port()
    env = {
        **os.environ,
        "CDP_DATA_DIR": str(data),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "DO_NOT_TRACK": "1",
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    env.pop("CDP_LANDING_DIR", None)
    log = (root / "ui.log").open("w")
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("cdp")), "ui", "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/server_info", timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the Dagster UI did not start:\n{(root / 'ui.log').read_text()[-3000:]}")
                time.sleep(1)
        yield url, data
    finally:
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        log.close()


@pytest.fixture(scope="module")
def browser(ui):
    os.environ.setdefault("SE_AVOID_STATS", "true")  # Selenium Manager stays unused and quiet
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1600,1000",
        "--no-first-run",
        "--disable-background-networking",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def wait_for_text(driver, predicate, timeout: float, refresh: str | None = None, every: float = 3.0) -> str:
    """Poll the page's text until ``predicate`` holds (reloading ``refresh`` between polls)."""
    from selenium.webdriver.common.by import By

    deadline = time.monotonic() + timeout
    while True:
        if refresh:
            driver.get(refresh)
        time.sleep(every)
        text = driver.find_element(By.TAG_NAME, "body").text
        if predicate(text) or time.monotonic() > deadline:
            return text


def click_button(driver, label: str, timeout: float = 60) -> None:
    """Click the button labelled ``label`` once the page has settled (the UI re-renders while its
    queries load, which makes a found element stale)."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.common.by import By

    deadline = time.monotonic() + timeout
    while True:
        try:
            buttons = [b for b in driver.find_elements(By.TAG_NAME, "button") if b.text.strip() == label]
            if buttons and buttons[0].is_enabled():
                buttons[0].click()
                return
        except (StaleElementReferenceException, WebDriverException):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no clickable {label!r} button")
        time.sleep(1)


def test_ui_shows_the_stages_runs_the_report_and_the_report_renders(ui, browser, artifacts):
    from selenium.webdriver.common.by import By

    url, data = ui
    browser.get(f"{url}/asset-groups")
    lineage = wait_for_text(browser, lambda t: all(s in t.split() for s in STAGES), timeout=60, every=2)
    browser.save_screenshot(str(artifacts / "1_lineage.png"))
    assert all(stage in lineage.split() for stage in STAGES), lineage[:2000]

    browser.get(f"{url}/assets/exports/report")
    page = wait_for_text(browser, lambda t: "self-contained" in t.lower(), timeout=60, every=2)
    assert "self-contained" in page.lower() and "data-engineering" in page  # description and owner shown
    click_button(browser, "Materialize")
    # analyst_db (upstream) was published by hand, not by a run: the UI asks before launching
    wait_for_text(browser, lambda t: "Are you sure?" in t, timeout=20, every=1)
    browser.save_screenshot(str(artifacts / "2_confirm.png"))
    click_button(browser, "Confirm", timeout=20)
    runs = wait_for_text(
        browser, lambda t: "Success" in t or "Failure" in t, timeout=120, refresh=f"{url}/runs"
    )
    browser.save_screenshot(str(artifacts / "3_runs.png"))
    assert "exports / report" in runs and "Success" in runs and "Failure" not in runs, runs[:2000]

    report = data / "reports" / "report.html"
    browser.get(f"{url}/assets/exports/report")
    asset_page = wait_for_text(browser, lambda t: report.as_uri() in t, timeout=30, every=2)
    browser.save_screenshot(str(artifacts / "4_report_asset.png"))
    assert report.as_uri() in asset_page  # the report is linked from the UI

    browser.get(report.as_uri())
    charts = browser.find_elements(By.CSS_SELECTOR, "section figure.chart svg")
    browser.set_window_size(1300, 4000)
    browser.save_screenshot(str(artifacts / "5_report.png"))
    sections = [s.get_attribute("id") for s in browser.find_elements(By.TAG_NAME, "section")]
    assert {"trends", "funnel", "retention", "rfm", "attribution", "identity"} <= set(sections)
    assert len(charts) >= 6
    assert all(c.size["width"] > 200 and c.size["height"] > 100 for c in charts)  # laid out, not empty
    assert all(c.find_elements(By.CSS_SELECTOR, "path, rect, text, image") for c in charts)
