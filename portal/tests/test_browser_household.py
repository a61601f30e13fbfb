"""A household's jobs in a real (headless) Chromium, after the demo's market day: a home enrolled with the
aggregator, with a thermostat, a water heater, an EV charger and a home battery. What's next and what it earned,
its event's own page, "I'm away" with the battery's state of charge, each device's comfort and event limits,
opting out with a preview whose penalty equals the one posted, meter data (platform CSV and Green Button XML) with
per-record errors, revoking its consent (saying what was withdrawn), the money pages (earnings, statements as CSV
and PDF, the tax statement, a dispute) and, for a new household, the onboarding wizard up to 100 %. Every consumer
page has no serious or critical axe-core violation, on a desktop and at 390 px without sideways scrolling."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

import demo
from portal import formatting

from .browser_support import PHONE, Watched, axe_violations, chromium, orm, scrolls_sideways, sign_in  # noqa: F401
from .test_browser_consumer import day_with_a_coming_event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ESPI = (Path(__file__).resolve().parents[2] / "assessment" / "tests" / "data" / "espi_sample.xml").read_bytes()


@pytest.fixture
def household_day(small_world):
    """A household (enrolled with the aggregator) with a verified event of the market day, an event coming up
    whose opt-out costs a penalty, and, beside its thermostat and water heater, an EV charger and a home battery."""
    from accounts.device_services import device_register
    from settlement.models import SettlementItem

    day = day_with_a_coming_event(small_world, household=True)
    premise = day["premise"]
    assert premise.segment == "residential" and premise.aggregator_id is not None
    device_register(
        premise=premise,
        name="EV charger",
        kind="ev_charger",
        control_channel="ocpp",
        rated_kw=Decimal("7.4"),
        max_kw=Decimal("7.4"),
        max_event_minutes=240,
        max_events_per_day=1,
    )
    device_register(
        premise=premise,
        name="Home battery",
        kind="battery",
        control_channel="vendor_api",
        rated_kw=Decimal("5"),
        max_kw=Decimal("5"),
        capacity_kwh=Decimal("13.5"),
        soc_min_percent=Decimal("20"),
        soc_max_percent=Decimal("100"),
        max_event_minutes=120,
        max_events_per_day=2,
    )
    devices = {d.name: d.pk for d in premise.devices.all()}
    items = list(SettlementItem.objects.filter(payee=premise.organisation).order_by("pk"))
    fiat = next(i for i in items if formatting.is_fiat(i.currency))
    return {**day, "devices": devices, "items": items, "fiat": fiat, "year": fiat.delivery_start.year}


def test_household_home_event_availability_limits_opt_out_meter_data_and_consent(
    household_day,
    live_server,
    chromium,  # noqa: F811
):
    h = household_day
    w = Watched(chromium)
    page, base, premise = w.page, live_server.url, h["premise"]
    sign_in(page, base, h["email"], next_path="/consumer/")

    # Home: what's next (the coming event in the home's time, what is asked) and what the home earned.
    assert page.locator("h1").inner_text() == "My dashboard"
    nxt = page.locator("[data-testid=next-events]").inner_text()
    assert h["coming_window"] in nxt and "2.50 kW" in nxt
    month = page.locator("[data-testid=this-month]").inner_text()
    fiat_total = sum((i.amount for i in h["items"] if i.currency == h["fiat"].currency), Decimal("0"))
    assert formatting.money(fiat_total, h["fiat"].currency) in month  # every payment of the day, not only the first

    # The verified event's own page: the home's time with its zone, delivered kWh, the intervals and the chart.
    v = h["verified"]
    page.click(f"a[href='/activation/my-events/{v.pk}/']")
    page.wait_for_selector("[data-testid=event-delivered]")
    assert formatting.kwh(v.verification.delivered_kwh) in page.locator("[data-testid=event-delivered]").inner_text()
    zone_abbr = formatting.local(v.start, premise.timezone).split()[-1]
    assert zone_abbr in page.locator("[data-testid=event-window]").inner_text()
    assert page.locator("[data-testid=event-intervals] tbody tr").count() >= 1

    # Opt out of the coming event: the penalty previewed is the penalty posted.
    page.goto(f"{base}/activation/my-events/{h['coming'].pk}/opt-out/")
    preview = page.locator("[data-testid=opt-out-penalty]").inner_text()
    assert "× 200.00 USD/MWh" in page.locator("[data-testid=opt-out-rule]").inner_text()
    page.click("[data-testid=confirm-opt-out]")
    page.wait_for_selector("[data-testid=opted-out]")
    assert preview in page.locator(".messages").inner_text()
    (posted,) = orm(h["penalties"])
    assert formatting.money(posted, "USD") == preview == "0.50 USD"  # 2.5 kWh x 200 USD/MWh / 1,000

    # Availability: "I'm away" with the battery at 35 % until tomorrow evening, listed in the home's time.
    page.click("nav#site-nav a[href='/consumer/availability/']")
    form = "[data-testid=availability]"
    until = (h["slot"] + timedelta(days=1)).replace(hour=19, minute=0)
    page.select_option(f"{form} select[name=premise]", str(premise.pk))
    page.fill(f"{form} input[name=available_kw]", "0")
    page.fill(f"{form} input[name=soc_percent]", "135")  # refused on its field first
    page.fill(f"{form} input[name=valid_until]", until.strftime("%Y-%m-%dT%H:%M"))
    page.click(f"{form} button[type=submit]")
    assert "100" in page.locator("#id_soc_percent_error").inner_text()
    page.fill(f"{form} input[name=soc_percent]", "35")
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector(".messages")
    row = page.locator("[data-testid=declarations] tbody tr", has_text=premise.name).first.inner_text()
    assert "0.00 kW" in row and "35 %" in row and until.strftime("%Y-%m-%d %H:%M") in row

    # Comfort limits per device: the thermostat's band (a band upside down is refused with the fields named), the
    # battery's event limits (no comfort band for a battery), the EV charger's.
    thermostat = f"[data-testid=device-limits-{h['devices']['Smart thermostat']}]"
    prefix = f"d{h['devices']['Smart thermostat']}"
    page.fill(f"{thermostat} input[name={prefix}-comfort_min_c]", "24")
    page.fill(f"{thermostat} input[name={prefix}-comfort_max_c]", "20")
    page.click(f"{thermostat} button[type=submit]")
    page.wait_for_selector(".messages")
    refusal = page.locator(".messages").inner_text()
    assert "Smart thermostat" in refusal and "Highest temperature, °C" in refusal and "comfort_min_c" not in refusal
    page.fill(f"{thermostat} input[name={prefix}-comfort_min_c]", "19.5")
    page.fill(f"{thermostat} input[name={prefix}-comfort_max_c]", "24")
    page.click(f"{thermostat} button[type=submit]")
    page.wait_for_selector(".messages")
    assert "Smart thermostat: limits saved" in page.locator(".messages").inner_text()
    assert page.locator(f"{thermostat} input[name={prefix}-comfort_min_c]").input_value() in ("19.5", "19.50")
    battery = f"[data-testid=device-limits-{h['devices']['Home battery']}]"
    assert page.locator(f"{battery} input[name$=comfort_min_c]").count() == 0
    page.fill(f"{battery} input[name$=max_event_minutes]", "90")
    page.click(f"{battery} button[type=submit]")
    page.wait_for_selector(".messages")
    assert "Home battery: limits saved" in page.locator(".messages").inner_text()
    assert page.locator(f"{battery} input[name$=max_event_minutes]").input_value() == "90"
    assert page.locator(f"[data-testid=device-limits-{h['devices']['EV charger']}]").count() == 1

    # Meter data: a platform CSV with a bad record is refused with the record named; Green Button XML imports.
    page.click("nav#site-nav a[href='/consumer/meter-data/']")
    upload, meter_id = "[data-testid=meter-upload]", h["meter_id"]
    page.select_option(f"{upload} select[name=meter]", meter_id)
    page.select_option(f"{upload} select[name=format]", "platform_csv")
    bad = f"meter_id,start,kwh\n{meter_id},2026-01-05T00:00:00Z,0.5\n{meter_id},2026-01-05T00:15:00Z,-0.2\n"
    page.set_input_files(
        f"{upload} input[name=file]", {"name": "bad.csv", "mimeType": "text/csv", "buffer": bad.encode()}
    )
    page.click(f"{upload} button[type=submit]")
    page.wait_for_selector("[data-testid=upload-errors]")
    assert "line 3" in page.locator("[data-testid=record-errors]").inner_text()
    # Green Button XML of another utility account: refused, the record named; then the home's own file imports.
    page.select_option(f"{upload} select[name=format]", "green_button_xml")
    page.set_input_files(
        f"{upload} input[name=file]", {"name": "other.xml", "mimeType": "application/xml", "buffer": ESPI}
    )
    with page.expect_response(lambda r: r.url.endswith("/consumer/meter-data/") and r.request.method == "POST"):
        page.click(f"{upload} button[type=submit]")
    page.wait_for_selector("[data-testid=upload-errors]")
    assert "'ACCT-ALICE-1' is not the account of meter" in page.locator("[data-testid=record-errors]").inner_text()
    own = ESPI.replace(b"ACCT-ALICE-1", premise.utility_account_number.encode())
    page.set_input_files(
        f"{upload} input[name=file]", {"name": "usage.xml", "mimeType": "application/xml", "buffer": own}
    )
    with page.expect_response(lambda r: r.url.endswith("/consumer/meter-data/") and r.request.method == "POST"):
        page.click(f"{upload} button[type=submit]")
    page.wait_for_selector("[data-testid=upload-ok], [data-testid=upload-errors]")
    assert page.locator("[data-testid=upload-errors]").count() == 0, page.locator(
        "[data-testid=upload-errors]"
    ).inner_text()
    assert "new reading" in page.locator("[data-testid=upload-ok]").inner_text()
    assert page.locator("[data-testid=meter-quality]").count() == 1

    # Consent: the home's consent to its aggregator is revoked at once, saying what it withdrew.
    page.click("nav#site-nav a[href='/consumer/consents/']")
    consents = page.locator("[data-testid=consents]")
    assert "BrightFlex" in consents.inner_text() and "Active" in consents.inner_text()
    consents.locator("button", has_text="Revoke").first.click()
    page.wait_for_selector(".messages")
    said = page.locator(".messages").inner_text()
    assert "BrightFlex Aggregation may no longer use" in said and premise.name in said and "enrolments ended" in said
    assert "Revoked" in page.locator("[data-testid=consents]").inner_text()
    w.clean()


def _consumer_pages(h) -> dict[str, str]:
    """Every page of the consumer's navigation and the pages they lead to."""
    return {
        "home": "/consumer/",
        "events": "/activation/my-events/",
        "event": f"/activation/my-events/{h['verified'].pk}/",
        "opt-out": f"/activation/my-events/{h['coming'].pk}/opt-out/",
        "offers": "/consumer/offers/",
        "availability": "/consumer/availability/",
        "consumption": "/consumer/consumption/",
        "devices": "/devices/capacity/",
        "meter-data": "/consumer/meter-data/",
        "consents": "/consumer/consents/",
        "money": "/consumer/money/",
        "earnings-tokens": "/compensation/",
        "payment": f"/payments/{h['fiat'].pk}/",
        "staking": "/staking/",
        "governance": "/governance/",
        "bill-protection": "/protection/",
        "payouts": "/payouts/",
        "wallet": "/tokens/",
        "onboarding": "/onboarding/",
        "compliance": "/compliance/",
        "notifications": "/notifications/",
        "notification-preferences": "/settings/notifications/",
        "tax": "/tax/",
        "api-tokens": "/settings/tokens/",
        "members": "/settings/members/",
    }


def test_household_money_pages_and_every_consumer_page_passes_axe(household_day, live_server, chromium):  # noqa: F811
    h = household_day
    w = Watched(chromium)
    page, base, fiat = w.page, live_server.url, h["fiat"]
    sign_in(page, base, h["email"], next_path="/consumer/money/")

    # Earnings by month and by event, each with its statement as CSV and PDF.
    def fiat_total():
        from django.db.models import Sum

        from settlement.models import SettlementItem

        items = SettlementItem.objects.filter(payee_id=h["premise"].organisation_id, currency=fiat.currency)
        return items.aggregate(t=Sum("amount"))["t"]

    total = formatting.money(orm(fiat_total), fiat.currency)
    assert total in page.locator("[data-testid=by-month]").inner_text()
    assert page.locator("[data-testid=by-event] tbody tr a").count() >= 1
    csv_link = page.locator("[data-testid=by-month] a", has_text="CSV").first.get_attribute("href")
    pdf_link = page.locator("[data-testid=by-month] a", has_text="PDF").first.get_attribute("href")
    csv_text = page.context.request.get(f"{base}{csv_link}").text()
    assert str(fiat.amount) in csv_text
    assert page.context.request.get(f"{base}{pdf_link}").body().startswith(b"%PDF")

    # The annual tax statement of the home's year: CSV and PDF.
    page.click("nav#site-nav a[href='/tax/']")
    org = h["premise"].organisation_id
    tax_csv = page.locator(f"a[href='/tax/{org}/{h['year']}.csv']")
    assert tax_csv.count() == 1
    assert str(fiat.amount) in page.context.request.get(f"{base}/tax/{org}/{h['year']}.csv").text()
    assert page.context.request.get(f"{base}/tax/{org}/{h['year']}.pdf").body().startswith(b"%PDF")

    # A dispute on the member share: opened from Earnings & tokens, then listed with its status on Money.
    page.click("nav#site-nav a[href='/compensation/']")
    row = page.locator("tr", has=page.locator(f"input[name=dispute_item][value='{fiat.pk}']"))
    row.locator("input[name=reason]").fill("My thermostat was off all evening: I delivered more.")
    row.locator("button", has_text="Dispute").click()
    page.wait_for_selector(".messages")
    assert f"Dispute opened on item {fiat.pk}" in page.locator(".messages").inner_text()
    page.click("nav#site-nav a[href='/consumer/money/']")
    disputes = page.locator("[data-testid=disputes]").inner_text()
    assert formatting.money(fiat.amount, fiat.currency) in disputes and "Open" in disputes

    # Every consumer page: no serious or critical accessibility violation; at 390 px nothing scrolls sideways.
    pages = _consumer_pages(h)
    found = {}
    for path in pages.values():
        page.goto(f"{base}{path}")
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").count() == 1, path
        violations = axe_violations(page)
        if violations:
            found[path] = violations
    assert found == {}, found
    w.clean()
    phone = Watched(chromium, viewport=PHONE)
    sign_in(phone.page, base, h["email"], next_path="/consumer/")
    wide = []
    for path in pages.values():
        phone.page.goto(f"{base}{path}")
        phone.page.wait_for_load_state("networkidle")
        if scrolls_sideways(phone.page):
            wide.append(path)
        violations = axe_violations(phone.page)
        if violations:
            found[path] = violations
    assert wide == [] and found == {}, (wide, found)
    phone.clean()


@pytest.fixture
def new_household(world):
    """A signed-up user with a confirmed email and nothing else (before the browser's event loop starts)."""
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model

    email = "new-home@t.flex"
    user = get_user_model().objects.create_user(username=email, email=email, password=demo.PASSWORD)
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return {"email": email, "feeder": "feeder-e1a"}


def _percent(page) -> int:
    return int(page.locator("[data-testid=progress]").inner_text().split()[0])


def test_a_new_household_finishes_the_onboarding_wizard(new_household, live_server, chromium):  # noqa: F811
    w = Watched(chromium)
    page, base = w.page, live_server.url
    sign_in(page, base, new_household["email"])
    page.wait_for_selector("[data-testid=step-account]")
    assert _percent(page) == 0 and axe_violations(page) == []
    page.fill("input[name=name]", "The Greens")
    page.click("[data-testid=step-account] button[type=submit]")

    form = "[data-testid=step-premise]"
    page.wait_for_selector(form)
    page.fill(f"{form} input[name=name]", "Green home")
    page.select_option(f"{form} select[name=segment]", "residential")
    page.select_option(f"{form} select[name=grid_zone]", label=new_household["feeder"])
    page.fill(f"{form} input[name=address]", "12 Elm Street")
    page.fill(f"{form} input[name=utility_account_number]", "UA-GREEN")
    page.fill(f"{form} input[name=utility_account_holder]", "The Greens")
    page.click(f"{form} button[type=submit]")

    form = "[data-testid=step-meter]"
    page.wait_for_selector(form)
    page.select_option(f"{form} select[name=premise]", label="Green home")
    page.fill(f"{form} input[name=meter_id]", "GREEN-M1")
    page.select_option(f"{form} select[name=kind]", "ami")
    page.select_option(f"{form} select[name=interval_minutes]", "15")
    page.fill(f"{form} input[name=timezone]", "America/New_York")
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("[data-testid=step-consent]")
    page.click("text=Skip: I sell directly")

    # A thermostat: the wizard asks for its comfort band, not a battery's state of charge.
    form = "[data-testid=step-devices]"
    page.wait_for_selector(form)
    page.select_option(f"{form} select[name=premise]", label="Green home")
    page.fill(f"{form} input[name=name]", "Hall thermostat")
    page.select_option(f"{form} select[name=kind]", "hvac")
    assert page.locator("[data-testid=group-comfort]").is_visible()
    assert not page.locator("[data-testid=group-soc]").is_visible()
    page.select_option(f"{form} select[name=control_channel]", "mqtt")
    page.fill(f"{form} input[name=rated_kw]", "3")
    page.fill(f"{form} input[name=max_kw]", "3")
    page.fill(f"{form} input[name=comfort_min_c]", "19")
    page.fill(f"{form} input[name=comfort_max_c]", "24")
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("[data-testid=devices]")
    assert "Hall thermostat" in page.locator("[data-testid=devices]").inner_text()
    assert _percent(page) == 80  # the optional consent does not hold the household back
    page.click("[data-testid=next]")

    # KYC: a passport, submitted; the wizard is complete and says the check is in review.
    form = "[data-testid=step-kyc]"
    page.wait_for_selector(form)
    assert axe_violations(page) == []
    page.fill(f"{form} input[name=legal_name]", "Gwen Green")
    page.select_option(f"{form} select[name=doc_type]", "passport")
    page.fill(f"{form} input[name=number]", "P-GREEN-1")
    page.fill(f"{form} input[name=expires_on]", (timezone.now() + timedelta(days=900)).strftime("%Y-%m-%d"))
    page.set_input_files(
        f"{form} input[name=file]",
        {"name": "passport.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n%%EOF\n"},
    )
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("[data-testid=kyc-state]")
    assert _percent(page) == 100
    state = page.locator("[data-testid=kyc-state]")
    assert state.get_attribute("data-state") in ("in review", "approved"), state.inner_text()
    assert page.locator(f"{form} input[name=number]").count() == 0  # no empty KYC form once submitted
    assert axe_violations(page) == []
    w.clean()
