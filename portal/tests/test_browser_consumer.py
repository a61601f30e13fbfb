"""The consumer's jobs in a real (headless) Chromium, after the demo's market day: the home answers what's next and
what was earned, an event's own page (baseline vs actual in the premise's time, money, proof), opting out with a
preview whose penalty equals the one posted; on a phone (390 px) the menu opens and nothing scrolls sideways; the
pages have no serious or critical axe-core violations; a 403 sits inside the layout; the API docs work offline."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

import demo
from portal import formatting

from .browser_support import (  # noqa: F401
    PHONE,
    Watched,
    axe_violations,
    chromium,
    orm,
    scrolls_sideways,
    sign_in,
    wait_js,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def day_with_a_coming_event(world, *, household: bool) -> dict:
    """After the demo's market day: a consumer (a C&I one selling directly, or a household) with a verified event
    and, coming up, an event of a program whose opt-out costs a penalty, and a real-time slot assessed for an offer
    (all database work before the browser's event loop starts)."""
    from activation import services
    from activation.models import DREvent, Penalty, Program
    from assessment.services import flexibility_assess

    demo.market_day_run(world=world, day=world.day)
    verified = DREvent.objects.filter(verification__isnull=False).select_related("premise", "verification")
    if household:
        verified = verified.filter(premise__segment="residential")
    else:
        emails = [e for label, e in world.logins if "consumer" in label and "aggregator" not in label]
        verified = verified.filter(premise__organisation__memberships__user__email__in=emails)
    verified = verified.order_by("pk").first()
    assert verified is not None, (
        f"the demo's market day verified no event of a {'household' if household else 'consumer'}"
    )
    email = verified.premise.organisation.memberships.values_list("user__email", flat=True).first()
    program = services.program_create(
        code="browser-peak",
        name="Peak saver",
        notice_minutes=30,
        max_events_per_day=2,
        max_events_per_month=5,
        penalty_rate_per_mwh=Decimal("200.00"),
        opt_out_consequence=Program.OptOutConsequence.PENALTY,
    )
    services.enrollment_create(
        program=program, premise=verified.premise, committed_kw=Decimal("3"), response_minutes=10
    )
    start = (timezone.now() + timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    coming = services.event_create(
        program=program, premise=verified.premise, target_kw=Decimal("2.5"), start=start, end=start + timedelta(hours=1)
    )
    # A real-time slot a few hours ahead, assessed, for an offer (the market sells only assessed windows).
    slot = (timezone.now() + timedelta(hours=4)).replace(minute=0, second=0, microsecond=0)
    flexibility_assess(premise=verified.premise, window_start=slot, window_end=slot + timedelta(minutes=15))
    meter = verified.premise.meters.order_by("pk").first()
    return {
        "email": email,
        "premise": verified.premise,
        "meter_id": meter.meter_id,
        "slot": slot.astimezone(formatting.zone(verified.premise.timezone)),
        "verified": verified,
        "coming": coming,
        "coming_window": formatting.local_window(coming.start, coming.end, verified.premise.timezone),
        "penalties": lambda: list(Penalty.objects.filter(event=coming).values_list("amount", flat=True)),
    }


@pytest.fixture
def consumer_day(small_world):
    """A C&I consumer selling directly, after the market day (:func:`day_with_a_coming_event`)."""
    return day_with_a_coming_event(small_world, household=False)


def test_consumer_home_event_page_and_opt_out_with_preview(consumer_day, live_server, chromium):  # noqa: F811
    w = Watched(chromium)
    page, base = w.page, live_server.url
    sign_in(page, base, consumer_day["email"], next_path="/consumer/")

    # Home: what's next (the coming event, its window in the premise's time with the zone, what is asked).
    nxt = page.locator("[data-testid=next-events]").inner_text()
    assert consumer_day["coming_window"] in nxt and "2.50 kW" in nxt
    assert page.locator("[data-testid=this-month] .big").count() >= 1
    assert page.locator("[data-testid=needs-action]").count() == 1
    assert axe_violations(page) == []

    # The verified event's own page: intervals in local time, delivered kWh and share of the commitment.
    v = consumer_day["verified"]
    page.goto(f"{base}/activation/my-events/{v.pk}/")
    assert formatting.kwh(v.verification.delivered_kwh) in page.locator("[data-testid=event-delivered]").inner_text()
    zone_abbr = formatting.local(v.start, v.premise.timezone).split()[-1]
    assert zone_abbr in page.locator("[data-testid=event-window]").inner_text()
    assert page.locator("[data-testid=event-intervals] tbody tr").count() >= 1
    wait_js(page, "window.Chart && Chart.getChart(document.getElementById('event-chart')) !== undefined")
    assert axe_violations(page) == []

    # Opt out of the coming event: the preview names the penalty; after confirming, the same amount is posted.
    page.goto(f"{base}/activation/my-events/")
    page.click(f"a[href='/activation/my-events/{consumer_day['coming'].pk}/opt-out/']")
    preview = page.locator("[data-testid=opt-out-penalty]").inner_text()
    assert "× 200.00 USD/MWh" in page.locator("[data-testid=opt-out-rule]").inner_text()
    assert axe_violations(page) == []
    page.click("[data-testid=confirm-opt-out]")
    page.wait_for_selector("[data-testid=opted-out]")
    flash = page.locator(".messages").inner_text()
    assert preview in flash and page.locator(".messages li").count() == 1  # shown once
    assert preview in page.locator("[data-testid=event-penalties]").inner_text()
    (posted,) = orm(consumer_day["penalties"])
    assert (
        formatting.money(posted, "USD") == preview == formatting.money(Decimal("0.50"), "USD")
    )  # 2.5 kWh × 200 USD/MWh ÷ 1,000
    w.clean()

    # A page of another role: 403 inside the layout, with the navigation.
    page.goto(f"{base}/operator/")
    assert page.locator("h1").inner_text() == "You may not open this page"
    assert page.locator("nav#site-nav a").count() > 3


def test_phone_layout_menu_and_offline_api_docs(consumer_day, live_server, chromium):  # noqa: F811
    w = Watched(chromium, viewport=PHONE)
    page, base = w.page, live_server.url
    page.goto(f"{base}/")
    assert page.locator("nav a[href='/accounts/signup/']").count() == 1  # the public home offers sign-up
    sign_in(page, base, consumer_day["email"], next_path="/consumer/")
    for path in ("/consumer/", "/activation/my-events/", f"/activation/my-events/{consumer_day['verified'].pk}/"):
        page.goto(f"{base}{path}")
        assert not scrolls_sideways(page), path
        assert not page.locator("nav#site-nav").is_visible()
        page.click(".menu-toggle")
        assert page.locator("nav#site-nav").is_visible()
        assert page.locator("nav#site-nav a").first.bounding_box()["width"] < 390
        assert axe_violations(page) == [], path
    w.clean()

    # The API docs come from our static files: with every other origin unreachable, Swagger UI and ReDoc render.
    outside: list[str] = []

    def offline(route):
        if route.request.url.startswith(base):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", offline)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
    assert "Flexibility platform API" in page.locator(".swagger-ui .info .title").inner_text()
    page.goto(f"{base}/api/redoc/")
    page.wait_for_selector("h1", timeout=20_000)
    assert "Flexibility platform API" in page.locator("h1").first.inner_text()
    assert outside == [], outside


def test_consumer_offers_declares_availability_gives_and_revokes_consent_uploads_meter_data(
    consumer_day,
    live_server,
    chromium,  # noqa: F811
):
    w = Watched(chromium)
    page, base, premise = w.page, live_server.url, consumer_day["premise"]
    sign_in(page, base, consumer_day["email"], next_path="/consumer/offers/")

    # Offer: a refusal of the market's gates shows in the form (a 100 kW minimum for energy) ...
    slot = consumer_day["slot"]
    form = "[data-testid=offer-form]"
    page.select_option(f"{form} select[name=market]", "real_time")
    page.select_option(f"{form} select[name=product]", "energy")
    page.fill(f"{form} input[name=start]", slot.strftime("%Y-%m-%dT%H:%M"))
    page.fill(f"{form} input[name=end]", (slot + timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M"))
    page.fill(f"{form} input[name=kw_{premise.pk}]", "0.2")
    page.fill(f"{form} input[name=price_per_mwh]", "80")
    assert "Accredited up to" in page.locator(f"{form}").inner_text()  # the accredited kW beside the field
    page.click(f"{form} button[type=submit]")
    assert "at least 100 kW" in page.locator("[data-testid=offer-refusal]").inner_text()
    assert axe_violations(page) == []
    # ... a congestion offer (1 kW minimum) is accepted and listed with its kW and price, then cancelled.
    page.select_option(f"{form} select[name=product]", "congestion")
    page.fill(f"{form} input[name=kw_{premise.pk}]", "2")
    page.click(f"{form} button[type=submit]")
    page.wait_for_load_state("networkidle")
    refusal = page.locator("[data-testid=offer-refusal]")
    assert refusal.count() == 0, refusal.inner_text()
    assert "Offered 2.00 kW" in page.locator(".messages").inner_text()
    row = page.locator("[data-testid=offers] tbody tr[data-order]", has_text="Congestion").filter(has_text="Open").first
    assert "2.00 kW" in row.inner_text() and "80.00 USD/MWh" in row.inner_text()
    assert row.locator("[data-testid=offer-status]").inner_text() == "Open"
    row.locator("button", has_text="Cancel").click()
    page.wait_for_selector(".messages")
    assert "cancelled" in page.locator(".messages").inner_text()
    assert (
        page.locator("[data-testid=offers] tbody tr[data-order]", has_text=": 2.00 kW")
        .filter(has_text="Cancelled")
        .count()
        == 1
    )

    # Availability: "I'm away" (0 kW) until tomorrow, listed in the premise's time.
    page.goto(f"{base}/consumer/availability/")
    until = (slot + timedelta(days=1)).replace(minute=0)
    page.select_option("[data-testid=availability] select[name=premise]", str(premise.pk))
    page.fill("[data-testid=availability] input[name=available_kw]", "0")
    page.fill("[data-testid=availability] input[name=valid_until]", until.strftime("%Y-%m-%dT%H:%M"))
    page.click("[data-testid=availability] button[type=submit]")
    declared = page.locator("[data-testid=declarations]").inner_text()
    assert "0.00 kW" in declared and until.strftime("%Y-%m-%d %H:%M") in declared
    assert axe_violations(page) == []

    # Consent: given to the aggregator, then revoked at once with what it withdrew.
    page.goto(f"{base}/consumer/consents/")
    form = "[data-testid=consent-grant]"
    page.select_option(f"{form} select[name=premise]", str(premise.pk))
    page.select_option(f"{form} select[name=aggregator]", index=1)
    page.check(f"{form} input[value=interval_readings]")
    # accept the chosen aggregator's published terms (ADR 0024), named in the terms picker
    chosen = page.locator(f"{form} select[name=aggregator] option:checked").inner_text().strip()
    terms = page.locator(f"{form} select[name=terms] option", has_text=chosen)
    if terms.count():
        page.select_option(f"{form} select[name=terms]", terms.first.get_attribute("value"))
    page.click(f"{form} button[type=submit]")
    consents = page.locator("[data-testid=consents]")
    assert "Interval readings" in consents.inner_text() and "Active" in consents.inner_text()
    assert axe_violations(page) == []
    consents.locator("button", has_text="Revoke").first.click()
    page.wait_for_selector(".messages")
    assert "may no longer use interval readings" in page.locator(".messages").inner_text()
    assert "Revoked" in page.locator("[data-testid=consents]").inner_text()

    # Meter data: a file with a bad record is refused with the record named; a good one is imported.
    page.goto(f"{base}/consumer/meter-data/")
    meter_id = consumer_day["meter_id"]
    upload = "[data-testid=meter-upload]"
    page.select_option(f"{upload} select[name=meter]", meter_id)
    page.select_option(f"{upload} select[name=format]", "platform_csv")
    bad = f"meter_id,start,kwh\n{meter_id},2026-01-05T00:00:00Z,0.5\n{meter_id},2026-01-05T00:15:00Z,lots\n"
    page.set_input_files(
        f"{upload} input[name=file]", {"name": "bad.csv", "mimeType": "text/csv", "buffer": bad.encode()}
    )
    page.click(f"{upload} button[type=submit]")
    page.wait_for_selector("[data-testid=upload-errors]")
    assert (
        "lots" in page.locator("[data-testid=upload-errors]").inner_text()
        or "line 3" in page.locator("[data-testid=upload-errors]").inner_text().lower()
    )
    good = f"meter_id,start,kwh\n{meter_id},2026-01-05T00:00:00Z,0.5\n{meter_id},2026-01-05T00:15:00Z,0.25\n"
    page.set_input_files(
        f"{upload} input[name=file]", {"name": "good.csv", "mimeType": "text/csv", "buffer": good.encode()}
    )
    page.click(f"{upload} button[type=submit]")
    page.wait_for_selector("[data-testid=upload-ok]")
    assert "2 new readings of 2" in page.locator("[data-testid=upload-ok]").inner_text()
    assert page.evaluate("document.querySelector('[data-testid=upload-progress]').value") == 100
    assert page.locator("[data-testid=meter-quality]").count() == 1
    assert axe_violations(page) == []
    w.clean()
