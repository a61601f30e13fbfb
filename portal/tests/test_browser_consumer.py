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

from .browser_support import PHONE, Watched, axe_violations, chromium, orm, scrolls_sideways, sign_in  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def consumer_day(small_world):
    """A consumer with a verified event of the market day and, coming up, an event of a program whose opt-out
    costs a penalty (all database work before the browser's event loop starts)."""
    from activation import services
    from activation.models import DREvent, Penalty, Program

    demo.market_day_run(world=small_world, day=small_world.day)
    emails = [e for label, e in small_world.logins if "consumer" in label and "aggregator" not in label]
    verified = (
        DREvent.objects.filter(verification__isnull=False, premise__organisation__memberships__user__email__in=emails)
        .select_related("premise", "verification")
        .order_by("pk")
        .first()
    )
    assert verified is not None, "the demo's market day verified no event of a listed consumer"
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
    return {
        "email": email,
        "verified": verified,
        "coming": coming,
        "coming_window": formatting.local_window(coming.start, coming.end, verified.premise.timezone),
        "penalties": lambda: list(Penalty.objects.filter(event=coming).values_list("amount", flat=True)),
    }


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
    page.wait_for_function("window.Chart && Chart.getChart(document.getElementById('event-chart')) !== undefined")
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
