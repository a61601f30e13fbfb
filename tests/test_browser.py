"""A consumer signs in with a real (headless) Chromium and reads their dashboard after a market day."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from flexplatform import demo
from settlement.models import SettlementItem

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path("/tmp/flex_consumer_dashboard.png")  # noqa: S108 - a test artefact to look at


@pytest.fixture
def chromium():
    if not CHROMIUM.exists():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{CHROMIUM} is missing: the CI image must install Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def paid_consumer(small_world):
    """After the demo's market day: consumer01 if the day paid him, else the first demo consumer who sells
    directly and was paid. All database work happens here, before the browser's event loop starts."""
    demo.market_day_run(world=small_world, day=small_world.day)
    emails = [email for label, email in small_world.logins if "consumer" in label and "aggregator" not in label]
    assert emails[0] == "consumer01@demo.flex"
    for email in emails:
        items = list(SettlementItem.objects.filter(payee__memberships__user__email=email).select_related("premise"))
        if items and sum((i.amount for i in items), Decimal("0")) > 0:  # paid more than any penalty
            break
    else:
        pytest.fail("no demo consumer selling directly was paid on the market day")
    premise = items[0].premise
    assert premise.aggregator_id is None  # sells directly
    return {
        "email": email,
        "items": items,
        "premise": premise.name,
        "earned": sum((i.amount for i in items), Decimal("0")),
        "others": [p.name for p in small_world.premises if p.pk != premise.pk],
    }


# ``paid_consumer`` comes before ``chromium``: Playwright's loop must not be running during Django ORM calls.
def test_consumer_signs_in_and_sees_premise_and_earnings(paid_consumer, live_server, chromium):
    email, items, earned = paid_consumer["email"], paid_consumer["items"], paid_consumer["earned"]
    assert earned > 0

    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    failed: list[str] = []
    errors: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{live_server.url}/consumer/")
    assert "/accounts/login/" in page.url  # anonymous: sent to sign in first
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", demo.PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/consumer/")

    assert page.locator("h1").inner_text() == "My dashboard"
    assert email in page.locator(".topbar").inner_text()
    premises_table = page.locator("[data-testid=premises]").inner_text()
    assert paid_consumer["premise"] in premises_table
    assert not any(name in premises_table for name in paid_consumer["others"])
    assert page.locator("[data-testid=earnings]").inner_text().strip() == f"{earned:.2f} USD"
    payment_rows = page.locator("[data-testid=payments] tbody tr")
    assert payment_rows.count() == len(items)
    assert f"{items[0].amount} USD" in payment_rows.first.inner_text()

    # The stylesheet and the vendored scripts were served and applied.
    assert page.evaluate("getComputedStyle(document.querySelector('.topbar')).display") == "flex"
    assert page.evaluate("getComputedStyle(document.querySelector('main')).maxWidth") == "1100px"
    page.wait_for_function("window.Chart !== undefined && window.htmx !== undefined")
    assert page.evaluate("Chart.getChart(document.getElementById('load-chart')) !== undefined")
    assert not failed, failed
    assert not errors, errors

    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000
