"""In a real (headless) Chromium: an owner reads the aggregator's commercial terms on the consent step and accepts
them; the aggregator sees the consents per terms version and, on its compensation page, the split of a member's
award (ADR 0024)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest

import demo
from accounts import services as accounts_services
from accounts.consents import consent_grant
from accounts.models import Consent, Membership
from accounts.terms import commercial_terms_publish
from settlement.services.runs import settlement_run_execute
from settlement.tests.factories import DAY, NOW, event_make, world_make

from .browser_support import chromium  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def portfolio():
    """Two members of an aggregator with published terms; member 1 consented and its award settled (20 % fee:
    2 kWh x 200 / 1000 = 0.40 -> fee 0.08, member 0.32). All database work before the browser's loop starts."""
    w = world_make(n=2, aggregator_members=2, tag="bt")
    users = []
    for i, org in enumerate(w.consumers):
        users.append(
            accounts_services.user_create(
                email=f"m{i}@bt.flex", password=demo.PASSWORD, organisation=org, verified=True
            )
        )
    agg_user = accounts_services.user_create(
        email="agg@bt.flex",
        password=demo.PASSWORD,
        organisation=w.aggregator,
        role=Membership.Role.AGGREGATOR,
        verified=True,
    )
    terms = commercial_terms_publish(
        aggregator=w.aggregator, by=agg_user, revenue_share_pct="20", member_penalty_pct="25"
    )
    consent_grant(
        premise=w.premises[1],
        aggregator=w.aggregator,
        by=users[1],
        scopes=[Consent.Scope.INTERVAL_READINGS],
        expires_at=DAY + timedelta(days=300),
        terms=terms.pk,
        now=DAY - timedelta(days=5),
    )
    event_make(
        w,
        w.premises[1],
        start=DAY + timedelta(hours=17),
        delivered=[D("1"), D("1")],
        price=D("200.00"),
        target_kw=D("10"),
    )
    settlement_run_execute(window_start=DAY, window_end=DAY + timedelta(days=1), now=NOW)
    return {"premise": w.premises[0].name, "terms": terms.pk}


def _sign_in(page, url, email):
    page.goto(f"{url}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", demo.PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_load_state()


def test_owner_accepts_terms_at_consent_and_aggregator_sees_the_split(portfolio, live_server, chromium):  # noqa: F811
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _sign_in(page, live_server.url, "m0@bt.flex")
    page.goto(f"{live_server.url}/onboarding/consent/")
    terms = page.locator("[data-testid=aggregator-terms]").inner_text()
    assert "bt Aggregator" in terms and "20.00 %" in terms and "25.00 %" in terms and "75.00 %" in terms
    form = page.locator("[data-testid=step-consent]")
    form.locator("select[name=premise]").select_option(label=portfolio["premise"])
    form.locator("select[name=aggregator]").select_option(label="bt Aggregator")
    form.locator("input[value=interval_readings]").check()
    # without accepting the terms the consent is refused, with the reason
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "Accept the aggregator" in page.content()
    form = page.locator("[data-testid=step-consent]")
    form.locator("select[name=premise]").select_option(label=portfolio["premise"])
    form.locator("select[name=aggregator]").select_option(label="bt Aggregator")
    form.locator("input[value=interval_readings]").check()
    form.locator("select[name=terms]").select_option(value=str(portfolio["terms"]))
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "/onboarding/consent/" not in page.url
    page.context.clear_cookies()

    _sign_in(page, live_server.url, "agg@bt.flex")
    page.goto(f"{live_server.url}/aggregator/terms/")
    versions = page.locator("[data-testid=terms-versions] tbody tr").first.inner_text()
    assert "v1 (in force)" in versions and versions.strip().endswith("2")  # both members accepted v1
    page.goto(f"{live_server.url}/compensation/")
    split = page.locator("[data-testid=portfolio-split]")
    assert "0.40 USD" in split.inner_text()
    assert split.locator("[data-testid=split-fee-total]").inner_text() == "0.08 USD"
    assert split.locator("[data-testid=split-share-total]").inner_text() == "0.32 USD"
    assert not errors, errors
