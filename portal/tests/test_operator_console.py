"""The operator console's jobs without the API: a request posted with the zone's local date-time pickers, its
clearing result explained with names, auctions opened (seasonal with a demand curve), an emergency event for a
zone, and the emergency stop behind a confirmation, with a banner on every page while engaged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from activation.services.emergency_stop import emergency_stop_active
from market.models import Auction, FlexibilityRequest
from market.services.requests import offer_submit
from market.tests.factories import DAY
from portal.forms_operator import localize


def _login(email):
    c = Client()
    c.force_login(get_user_model().objects.get(email=email))
    return c


def _offer(mw, i, kw, price):
    premise = mw.premise(i)
    start = DAY + timedelta(hours=18)
    return offer_submit(
        seller=premise.organisation,
        premise=premise,
        zone=mw.iso,
        kw=Decimal(kw),
        price_per_mwh=Decimal(price),
        window_start=start,
        window_end=start + timedelta(hours=1),
    )


def test_local_times_are_read_in_the_zone_timezone_and_clock_changes_are_refused():
    assert localize(datetime(2030, 6, 3, 14, 0), "America/New_York") == datetime(2030, 6, 3, 18, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="does not exist"):
        localize(datetime(2030, 3, 10, 2, 30), "America/New_York")  # spring forward
    with pytest.raises(ValueError, match="happens twice"):
        localize(datetime(2030, 11, 3, 1, 30), "America/New_York")  # fall back


def test_operator_posts_a_request_with_pickers_and_reads_the_explained_clearing(mw, django_capture_on_commit_callbacks):
    _offer(mw, 0, "30", "50")
    _offer(mw, 3, "40", "60")
    _offer(mw, 4, "20", "120")  # above the cap
    op = _login("operator@demo.flex")
    page = op.get("/operator/requests/")
    assert page.status_code == 200 and b'type="datetime-local"' in page.content and b"America/New_York" in page.content
    bad = op.post(
        "/operator/requests/",
        {
            "zone": mw.iso.pk,
            "window_start": "06/03/2030 14:00",
            "window_end": "",
            "kw": "50",
            "max_price_per_mwh": "100",
        },
    )
    assert bad.status_code == 400 and not FlexibilityRequest.objects.exists()
    assert b"Enter a valid date/time." in bad.content
    with django_capture_on_commit_callbacks(execute=True):  # the request clears on commit (eager Celery)
        posted = op.post(
            "/operator/requests/",
            {
                "zone": mw.iso.pk,
                "window_start": "2030-06-03T14:00",  # 14:00 EDT = 18:00 UTC
                "window_end": "2030-06-03T15:00",
                "kw": "50",
                "max_price_per_mwh": "100",
            },
            follow=True,
        )
    request = FlexibilityRequest.objects.get()
    assert request.window_start == DAY + timedelta(hours=18) and request.window_end == DAY + timedelta(hours=19)
    assert b"Request %d posted" % request.pk in posted.content
    run = request.clearing_run
    assert run.awarded_kw == Decimal("50.000") and run.clearing_price_per_mwh == Decimal("60.00")
    explained = op.get(f"/operator/clearing/{run.pk}/").content.decode()
    assert "every accepted offer is paid 60.00 $/MWh" in explained
    assert "1 open offer in zone iso-east asked more than the cap of 100.00 $/MWh." in explained
    assert mw.premise(0).name in explained and mw.premise(3).name in explained  # names, not ids
    assert "marginal (part)" in explained
    assert _login("consumer01@demo.flex").get(f"/operator/clearing/{run.pk}/").status_code == 403


def test_operator_opens_a_seasonal_auction_with_a_demand_curve_and_a_bad_curve_is_refused_on_its_field(mw):
    op = _login("operator@demo.flex")
    base = {
        "market": "seasonal",
        "product": "capacity",
        "zone": mw.iso.pk,
        "delivery_start": "2030-07-01T00:00",
        "delivery_end": "2030-09-01T00:00",
        "gate_closure": "2030-06-15T12:00",
    }
    rising = op.post(
        "/operator/auctions/",
        {**base, "curve_kw_1": "100", "curve_price_1": "50", "curve_kw_2": "50", "curve_price_2": "80"},
    )
    assert (
        rising.status_code == 400 and b"strictly decreasing prices" in rising.content and not Auction.objects.exists()
    )
    half = op.post("/operator/auctions/", {**base, "curve_kw_1": "100"})
    assert half.status_code == 400 and b"Give both kW and price." in half.content
    ok = op.post(
        "/operator/auctions/",
        {**base, "curve_kw_1": "100", "curve_price_1": "80", "curve_kw_2": "50", "curve_price_2": "50"},
    )
    assert ok.status_code == 302
    auction = Auction.objects.get()
    assert auction.demand_curve == [
        {"kw": "100.000", "price_per_mwh": "80.00"},
        {"kw": "50.000", "price_per_mwh": "50.00"},
    ]
    assert auction.delivery_start == datetime(2030, 7, 1, 4, 0, tzinfo=UTC)  # midnight EDT


def test_emergency_stop_needs_confirmation_names_what_it_halts_and_shows_a_banner_everywhere(mw):
    op = _login("operator@demo.flex")
    confirm = op.get("/activation/console/emergency-stop/").content.decode()
    assert "Engaging it now halts" in confirm and "queued device command" in confirm
    refused = op.post("/activation/console/emergency-stop/", {"reason": "frequency excursion"})
    assert refused.status_code == 400 and b"Tick the box" in refused.content and emergency_stop_active() is None
    op.post("/activation/console/emergency-stop/", {"reason": "frequency excursion", "confirm": "yes"})
    assert emergency_stop_active() is not None
    for email, url in [
        ("operator@demo.flex", "/operator/"),
        ("operator@demo.flex", "/operator/requests/"),
        ("consumer01@demo.flex", "/consumer/"),
        ("aggregator@demo.flex", "/aggregator/"),
    ]:
        page = _login(email).get(url)
        assert page.status_code == 200 and b'data-testid="emergency-stop-banner"' in page.content, (email, url)
    assert b"emergency-stop-banner" not in Client().get("/market/prices/").content  # signed-out visitors
