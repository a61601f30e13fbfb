"""The operator in a real (headless) Chromium (#16): posts a flexibility request with the zone's date-time pickers,
follows the request to its clearing result and reads the explanation (merit order, price, why an offer was left
out) with the sellers' names; engages the emergency stop through its confirmation, and the banner is on every page
of every role while it is engaged."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from activation.services.emergency_stop import emergency_stop_active
from market.models import FlexibilityRequest
from market.services.requests import offer_submit
from market.tests.factories import DAY

from .browser_support import chromium  # noqa: F401 - the shared Chromium fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _in_thread(fn):
    """ORM reads beside Playwright's event loop run in another thread (see ``test_browser_admin``)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn).result()


def _session(email: str) -> str:
    c = Client()
    c.force_login(get_user_model().objects.get(email=email))
    return c.cookies["sessionid"].value


@pytest.fixture
def op_world(mw):
    """Three open offers in the ISO zone (one above the cap the operator will give), the sessions of an operator,
    a consumer and an aggregator. All ORM work before the browser's loop starts."""
    start = DAY + timedelta(hours=18)
    for i, kw, price in ((0, "30", "50"), (3, "40", "60"), (4, "20", "120")):
        premise = mw.premise(i)
        offer_submit(
            seller=premise.organisation,
            premise=premise,
            zone=mw.iso,
            kw=Decimal(kw),
            price_per_mwh=Decimal(price),
            window_start=start,
            window_end=start + timedelta(hours=1),
        )
    return {
        "zone": str(mw.iso.pk),
        "names": (mw.premise(0).name, mw.premise(3).name),
        "sessions": {
            role: _session(email)
            for role, email in (
                ("operator", "operator@demo.flex"),
                ("consumer", "consumer01@demo.flex"),
                ("aggregator", "aggregator@demo.flex"),
            )
        },
    }


def _page(chromium, live_server, session):  # noqa: F811
    context = chromium.new_context(viewport={"width": 1280, "height": 1000})
    context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


def test_operator_posts_a_request_and_reads_the_clearing_result_and_why(op_world, live_server, chromium):  # noqa: F811
    w = op_world
    context, page, errors = _page(chromium, live_server, w["sessions"]["operator"])
    page.goto(f"{live_server.url}/operator/requests/")
    assert page.locator("#id_window_start").get_attribute("type") == "datetime-local"
    page.select_option("#id_zone", w["zone"])
    page.fill("#id_window_start", "2030-06-03T14:00")  # 14:00 in New York = 18:00 UTC, the offers' hour
    page.fill("#id_window_end", "2030-06-03T15:00")
    page.fill("#id_kw", "50")
    page.fill("#id_max_price_per_mwh", "100")
    page.click("[data-testid=request-form] button[type=submit]")
    page.wait_for_load_state()
    assert "posted" in page.content()
    request = _in_thread(lambda: FlexibilityRequest.objects.get())
    assert request.window_start == DAY + timedelta(hours=18)
    row = page.locator("[data-testid=requests] tbody tr").first
    assert "50.000 kW at 60.00 $/MWh" in row.inner_text()
    row.get_by_role("link").click()  # to the clearing result, by clicking
    page.wait_for_load_state()
    reasons = page.locator("[data-testid=clearing-reasons]").inner_text()
    assert "every accepted offer is paid 60.00 $/MWh" in reasons
    assert "1 open offer in zone iso-east asked more than the cap of 100.00 $/MWh." in reasons
    merit = page.locator("[data-testid=merit-order]").inner_text()
    assert w["names"][0] in merit and w["names"][1] in merit  # the sellers' premises by name
    assert "marginal (part)" in page.content()
    assert errors == []
    context.close()


def test_the_emergency_stop_is_confirmed_then_its_banner_is_on_every_page(op_world, live_server, chromium):  # noqa: F811
    w = op_world
    context, page, errors = _page(chromium, live_server, w["sessions"]["operator"])
    page.goto(f"{live_server.url}/activation/console/")
    assert page.locator("[data-testid=emergency-stop-banner]").count() == 0
    page.get_by_role("link", name="EMERGENCY STOP — review what it halts, then confirm").click()
    page.wait_for_load_state()
    assert "Engaging it now halts" in page.content()
    page.fill("#stop-reason", "frequency excursion")
    page.click("button:has-text('Engage the emergency stop')")  # not confirmed: refused
    page.wait_for_load_state()
    assert "Tick the box" in page.content() and _in_thread(emergency_stop_active) is None
    page.fill("#stop-reason", "frequency excursion")
    page.check("#stop-confirm")
    page.click("button:has-text('Engage the emergency stop')")
    page.wait_for_load_state()
    assert _in_thread(emergency_stop_active) is not None
    context.close()
    for role, paths in (
        ("operator", ("/operator/", "/operator/requests/", "/operator/auctions/", "/activation/console/")),
        ("consumer", ("/consumer/",)),
        ("aggregator", ("/aggregator/", "/compliance/")),
    ):
        context, page, role_errors = _page(chromium, live_server, w["sessions"][role])
        for path in paths:
            page.goto(f"{live_server.url}{path}")
            banner = page.locator("[data-testid=emergency-stop-banner]")
            assert banner.is_visible(), (role, path)
            assert "EMERGENCY STOP ENGAGED" in banner.inner_text() and "frequency excursion" in banner.inner_text()
        errors += role_errors
        context.close()
    assert errors == []
