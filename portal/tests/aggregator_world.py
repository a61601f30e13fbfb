"""The aggregator pages' world (shared by the Client and the browser tests): the market world, the direct
household (premise 0) consenting to the aggregator but not enrolled, and an open day-ahead auction."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts.consents import consent_grant
from accounts.models import Consent
from accounts.selectors.zones import zone_timezone
from accounts.terms import terms_current
from market.services.auctions import auction_open
from market.tests.factories import DAY


def aggregator_world(mw) -> dict:
    p0 = mw.premise(0)
    owner = get_user_model().objects.filter(memberships__organisation=p0.organisation).first()
    consent_grant(
        premise=p0,
        aggregator=mw.aggregator,
        by=owner,
        scopes=[Consent.Scope.INTERVAL_READINGS],
        expires_at=timezone.now() + timedelta(days=365 * 10),
        terms=terms_current(mw.aggregator),
    )
    auction = auction_open(
        operator=mw.operator,
        market="day_ahead",
        product="energy",
        zone=mw.iso,
        delivery_start=DAY,
        delivery_end=DAY + timedelta(days=1),
        interval_minutes=60,
        gate_closure=DAY - timedelta(hours=12),
    )
    tz = zone_timezone(mw.iso)
    start = (DAY + timedelta(hours=18)).astimezone(ZoneInfo(tz))
    return {
        "p0": p0,
        "p1": mw.premise(1),
        "auction": auction,
        "local_start": start.strftime("%Y-%m-%dT%H:%M"),
        "local_end": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
    }
