"""A consumer signs in with a real (headless) Chromium and reads their dashboard after a market day."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import demo
from portal import formatting
from settlement.models import SettlementItem

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = Path("/tmp/flex_consumer_dashboard.png")  # noqa: S108 - a test artefact to look at


@pytest.fixture
def paid_consumer(small_world):
    """After the demo's market day: consumer01 if the day paid him, else the first demo consumer who sells
    directly and was paid (those with a listed login first, then the others: which resources the day awards,
    and how each responds, depends on the data). All database work happens here, before the browser's event
    loop starts."""
    from accounts.models import Membership

    demo.market_day_run(world=small_world, day=small_world.day)
    emails = [email for label, email in small_world.logins if "consumer" in label and "aggregator" not in label]
    assert emails[0] == "consumer01@demo.flex"
    direct = [p.organisation_id for p in small_world.premises if p.aggregator_id is None]
    owners = dict(Membership.objects.filter(organisation_id__in=direct).values_list("organisation_id", "user__email"))
    emails += [owners[org] for org in direct if owners[org] not in emails]
    for email in emails:
        items = list(SettlementItem.objects.filter(payee__memberships__user__email=email).select_related("premise"))
        earned = sum((i.amount for i in items if i.currency == "USD"), Decimal("0"))  # tokens aside
        if items and earned > 0:  # paid more than any penalty
            break
    else:
        pytest.fail("no demo consumer selling directly was paid on the market day")
    premise = items[0].premise
    assert premise.aggregator_id is None  # sells directly
    return {
        "email": email,
        "items": items,
        "premise": premise.name,
        "earned": earned,
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
    csp_violations: list[str] = []  # the Content-Security-Policy (flexplatform/core/csp.py) blocked something
    page.on("console", lambda m: csp_violations.append(m.text) if "Content Security Policy" in m.text else None)

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
    assert page.locator("[data-testid=earnings]").inner_text().strip() == formatting.money(earned, "USD")
    payment_rows = page.locator("[data-testid=payments] tbody tr")
    assert payment_rows.count() == len(items)
    payments_table = page.locator("[data-testid=payments]").inner_text()
    assert all(formatting.amount(i.amount, i.currency) in payments_table for i in items)  # payments, penalties, tokens

    # The stylesheet and the vendored scripts were served and applied.
    assert page.evaluate("getComputedStyle(document.querySelector('.topbar')).display") == "flex"
    assert page.evaluate("getComputedStyle(document.querySelector('main')).maxWidth") == "1100px"
    page.wait_for_function("window.Chart !== undefined && window.htmx !== undefined")
    assert page.evaluate("Chart.getChart(document.getElementById('load-chart')) !== undefined")
    assert not failed, failed
    assert not errors, errors
    assert not csp_violations, csp_violations

    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000


@pytest.fixture
def newcomer(world):
    """A signed-up user with a confirmed email and nothing else (before the browser's event loop starts)."""
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model

    email = "newcomer@t.flex"
    user = get_user_model().objects.create_user(username=email, email=email, password=demo.PASSWORD)
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return {"email": email, "feeder": "feeder-e1a"}


def _progress(page) -> tuple[int, dict[str, str]]:
    percent = int(page.locator("[data-testid=progress]").inner_text().split()[0])
    steps = page.locator("[data-testid=steps] li")
    done = {steps.nth(i).get_attribute("data-step"): steps.nth(i).get_attribute("data-done") for i in range(6)}
    return percent, done


def test_onboarding_wizard_registers_a_meter_and_a_device_with_visible_progress(newcomer, live_server, chromium):
    page = chromium.new_page(viewport={"width": 1280, "height": 1000})
    failed: list[str] = []
    errors: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{live_server.url}/accounts/login/")  # signed in without an organisation: "/" leads into the wizard
    page.fill("input[name=login]", newcomer["email"])
    page.fill("input[name=password]", demo.PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_selector("[data-testid=step-account]")
    assert _progress(page)[0] == 0
    page.fill("input[name=name]", "Browser Home")
    page.click("[data-testid=step-account] button[type=submit]")
    page.wait_for_selector("[data-testid=step-premise]")
    form = "[data-testid=step-premise]"
    page.fill(f"{form} input[name=name]", "Browser site")
    page.select_option(f"{form} select[name=segment]", "residential")
    page.select_option(f"{form} select[name=grid_zone]", label=newcomer["feeder"])
    page.fill(f"{form} input[name=address]", "9 Browser Way")
    page.fill(f"{form} input[name=utility_account_number]", "UA-BROWSER")
    page.fill(f"{form} input[name=utility_account_holder]", "Browser Home")
    page.click(f"{form} button[type=submit]")

    # Meter step: a bad timezone is refused and shown; then the meter is registered and the step ticks.
    page.wait_for_selector("[data-testid=step-meter]")
    percent, done = _progress(page)
    assert percent == 40 and done["meter"] == "no" and done["premise"] == "yes"
    form = "[data-testid=step-meter]"
    page.select_option(f"{form} select[name=premise]", label="Browser site")
    page.fill(f"{form} input[name=meter_id]", "BROWSER-M1")
    page.select_option(f"{form} select[name=kind]", "ami")
    page.select_option(f"{form} select[name=interval_minutes]", "15")
    page.check(f"{form} input[name=has_export_channel]")
    page.fill(f"{form} input[name=timezone]", "Nowhere/Atlantis")
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector(f"{form} .errorlist")
    assert "Unknown timezone" in page.locator(form).inner_text()
    assert _progress(page)[1]["meter"] == "no"
    page.fill(f"{form} input[name=timezone]", "America/New_York")
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("[data-testid=step-consent]")  # on to the next step not done
    percent, done = _progress(page)
    assert percent == 60 and done["meter"] == "yes"
    page.click("text=Skip: I sell directly")

    # Devices step: a battery; the capability assessment (kW counted and why) shows once it is added.
    page.wait_for_selector("[data-testid=step-devices]")
    form = "[data-testid=step-devices]"
    page.select_option(f"{form} select[name=premise]", label="Browser site")
    page.fill(f"{form} input[name=name]", "Garage battery")
    assert "*" in page.locator(f"{form} label[for=id_rated_kw] .required-mark").inner_text()  # required: marked
    page.select_option(f"{form} select[name=kind]", "hvac")  # a thermostat: the comfort band, no state of charge
    assert page.locator("[data-testid=group-comfort]").is_visible()
    assert not page.locator("[data-testid=group-soc]").is_visible()
    page.select_option(f"{form} select[name=kind]", "battery")
    assert page.locator("[data-testid=group-soc]").is_visible()
    assert not page.locator("[data-testid=group-comfort]").is_visible()
    page.select_option(f"{form} select[name=control_channel]", "vendor_api")
    page.fill(f"{form} input[name=rated_kw]", "5")
    page.fill(f"{form} input[name=max_kw]", "5")
    page.fill(f"{form} input[name=capacity_kwh]", "10")
    page.fill(f"{form} input[name=soc_min_percent]", "20")
    page.fill(f"{form} input[name=soc_max_percent]", "100")
    page.fill(f"{form} input[name=soc_percent]", "50")
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("[data-testid=capability]")
    assert page.locator("[data-testid=capability-kw]").text_content() == "3.000 kW"
    assert "State of charge 50.00% with a 20.00% floor" in page.locator("[data-testid=capability]").inner_text()
    assert "Garage battery" in page.locator("[data-testid=devices]").inner_text()
    percent, done = _progress(page)
    assert percent == 80 and done["devices"] == "yes" and done["consent"] == "no"
    page.click("[data-testid=next]")
    page.wait_for_selector("[data-testid=step-kyc]")
    page.goto(f"{live_server.url}/onboarding/meter/")
    meters = page.locator("[data-testid=meters]").inner_text()
    assert "BROWSER-M1" in meters and "import + export" in meters and "America/New_York" in meters
    assert "not validated yet" in page.locator("[data-testid=meter-state]").inner_text()
    assert not [f for f in failed if not f.endswith("/favicon.ico")], failed  # a refused form is a 200, not an error
    assert not errors, errors
