"""The aggregator in a real (headless) Chromium: enrols a consented premise under the terms, builds a portfolio
order from it and another member, and reads the order on the dashboard with the members' names."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from .aggregator_world import aggregator_world
from .browser_support import chromium  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOT = Path("/tmp/flex_aggregator_dashboard.png")  # noqa: S108 - a test artefact to look at


@pytest.fixture
def agg_world(mw):
    """All ORM work before the browser's loop: the world, and the aggregator's session cookie."""
    w = aggregator_world(mw)
    c = Client()
    c.force_login(get_user_model().objects.get(email="aggregator@demo.flex"))
    w["session"] = c.cookies["sessionid"].value
    w["p0_name"], w["p1_name"] = w["p0"].name, w["p1"].name
    w["zone"], w["auction_pk"] = str(mw.iso.pk), str(w["auction"].pk)
    return w


def test_aggregator_enrols_a_premise_and_its_portfolio_order_shows_member_names(agg_world, live_server, chromium):  # noqa: F811
    w = agg_world
    context = chromium.new_context(viewport={"width": 1280, "height": 1000})
    context.add_cookies([{"name": "sessionid", "value": w["session"], "url": live_server.url}])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{live_server.url}/aggregator/enrol/")
    assert "Enrolment terms" in page.locator("[data-testid=enrolment-terms]").inner_text()
    page.get_by_label(w["p0_name"], exact=True).check()
    page.click("[data-testid=enrol-form] button[type=submit]")  # the terms are not confirmed yet
    assert "Confirm the terms." in page.locator("#id_accept_terms-error").inner_text()
    page.get_by_label(w["p0_name"], exact=True).check()
    page.check("#id_accept_terms")
    page.click("[data-testid=enrol-form] button[type=submit]")
    assert f"Enrolled 1: {w['p0_name']}." in page.content()

    page.goto(f"{live_server.url}/aggregator/?q={w['p0_name']}")
    assert "Enrolled" in page.locator("[data-testid=fleet]").inner_text()

    page.goto(f"{live_server.url}/aggregator/orders/new/")
    page.get_by_label(w["p0_name"], exact=True).check()
    page.get_by_label(w["p1_name"], exact=True).check()
    page.select_option("#id_market", "day_ahead")
    page.select_option("#id_product", "energy")
    page.select_option("#id_zone", w["zone"])
    page.select_option("#id_auction", w["auction_pk"])
    page.fill("#id_delivery_start", w["local_start"])
    page.fill("#id_delivery_end", w["local_end"])
    page.fill("#id_kw_per_member", "50")
    page.fill("#id_price_per_mwh", "60")
    page.click("[data-testid=order-form] button[type=submit]")
    page.wait_for_load_state()
    refusals = page.evaluate(
        "() => [...document.querySelectorAll('.form-errors, .field-error')].map(e => e.id + ': ' + e.innerText)"
    )
    assert page.url == f"{live_server.url}/aggregator/", refusals
    orders = page.locator("[data-testid=portfolio-orders]").inner_text()
    assert f"{w['p0_name']}: 50.000 kW" in orders and f"{w['p1_name']}: 50.000 kW" in orders
    assert "#" + w["p0_name"] not in orders
    page.screenshot(path=str(SHOT), full_page=True)
    assert errors == []
    context.close()
