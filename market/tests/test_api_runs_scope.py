"""Clearing runs are read in the zones one serves (``accounts.policies.zone_scope``): another operator's run is
"not found", as if it did not exist."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from accounts import services as accounts_services
from accounts.models import GridZone, Membership, Organisation
from market.services.auctions import auction_clear, auction_open

pytestmark = pytest.mark.django_db
DAY = datetime(2031, 6, 10, tzinfo=UTC)


def test_rerun_is_scoped_to_the_operators_zones(world, api_for):
    iso_west = accounts_services.zone_create(code="iso-west", name="ISO West")
    west = accounts_services.organisation_create(
        name="West DSO", kind=Organisation.Kind.GRID_OPERATOR, service_zones=[iso_west]
    )
    accounts_services.user_create(email="west@t.flex", password="x-pass-123", organisation=west)
    platform = Organisation.objects.get(kind=Organisation.Kind.PLATFORM)
    accounts_services.user_create(
        email="auditor@t.flex", password="x-pass-123", organisation=platform, role=Membership.Role.AUDITOR
    )
    auction = auction_open(
        operator=world.operator,
        market="day_ahead",
        product="congestion",
        zone=GridZone.objects.get(code="sub-east-1"),
        delivery_start=DAY,
        delivery_end=DAY + timedelta(days=1),
        gate_closure=DAY - timedelta(hours=12),
        interval_minutes=60,
    )
    run = auction_clear(auction_id=auction.pk, now=auction.gate_closure)
    url = f"/api/v1/market/runs/{run.pk}/rerun/"
    refused = api_for("west@t.flex").get(url)
    assert refused.status_code == 404 and refused.json()["code"] == "not_found"
    for email in ("operator@demo.flex", "admin@demo.flex", "auditor@t.flex"):
        r = api_for(email).get(url)
        assert r.status_code == 200 and r.json()["identical"] is True, email
