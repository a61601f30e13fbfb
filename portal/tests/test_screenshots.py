"""``make screenshots``: full-page PNGs of every consumer page, and of the aggregator, operator, admin and auditor
consoles, on a desktop and a 390 px phone, from the demo world after a market day, under var/screenshots/ (skipped
unless SCREENSHOTS=1: a generator, not a check; each page must still answer without script errors).

The consumer signs in with their password (consumer01@demo.flex's kind of login); the aggregator, the grid operator
and the admin of the demo world (the last two with TOTP, ``demo.TOTP_SECRET``) and an auditor come in with a session
made for them, as the other browser tests sign in MFA users."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.test import Client

from .browser_support import DESKTOP, PHONE, Watched, chromium, sign_in  # noqa: F401
from .test_browser_consumer import consumer_day  # noqa: F401

pytestmark = [
    pytest.mark.screenshots,
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(os.environ.get("SCREENSHOTS") != "1", reason="make screenshots sets SCREENSHOTS=1"),
]
OUT = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def _shoot(browser, base: str, pages: dict[str, str], prefix: str, *, email=None, session=None) -> int:
    """Each page on a desktop and at 390 px; returns the number of PNGs written."""
    written = 0
    for label, viewport in (("desktop", DESKTOP), ("390px", PHONE)):
        w = Watched(browser, viewport=viewport)
        if session is not None:
            w.page.context.add_cookies([{"name": "sessionid", "value": session, "url": base}])
        else:
            sign_in(w.page, base, email, next_path="/")
        for name, path in pages.items():
            w.page.goto(f"{base}{path}")
            w.page.wait_for_load_state("networkidle")
            w.page.screenshot(path=str(OUT / f"{prefix}{name}-{label}.png"), full_page=True)
            written += 1
        w.failed = [f for f in w.failed if not f.startswith("403 ")]  # a forbidden page is a 403 on purpose
        w.clean()
        w.page.close()
    return written


def test_consumer_pages_screenshots(consumer_day, live_server, chromium):  # noqa: F811
    OUT.mkdir(parents=True, exist_ok=True)
    v = consumer_day["verified"]
    pages = {
        "home": "/consumer/",
        "events": "/activation/my-events/",
        "event": f"/activation/my-events/{v.pk}/",
        "opt-out": f"/activation/my-events/{consumer_day['coming'].pk}/opt-out/",
        "offers": "/consumer/offers/",
        "availability": "/consumer/availability/",
        "consents": "/consumer/consents/",
        "meter-data": "/consumer/meter-data/",
        "consumption": "/consumer/consumption/",
        "devices": "/devices/capacity/",
        "money": "/consumer/money/",
        "earnings-tokens": "/compensation/",
        "staking": "/staking/",
        "governance": "/governance/",
        "bill-protection": "/protection/",
        "payouts": "/payouts/",
        "wallet": "/tokens/",
        "tax": "/tax/",
        "notifications": "/notifications/",
        "notification-preferences": "/settings/notifications/",
        "onboarding": "/onboarding/",
        "compliance": "/compliance/",
        "forbidden": "/operator/",
    }
    written = _shoot(chromium, live_server.url, pages, "", email=consumer_day["email"])
    assert written == 2 * len(pages)


@pytest.fixture
def consoles(consumer_day):  # noqa: F811
    """Sessions of the demo world's aggregator, grid operator and admin (TOTP on) and of an auditor, and the ids
    the console pages need (ORM work before the browser's event loop starts)."""
    from django.contrib.auth import get_user_model

    from accounts import services as accounts_services
    from accounts.models import Membership, Organisation, VerificationCase
    from market.models import ClearingRun

    def session(user) -> str:
        client = Client()
        client.force_login(user)
        return client.cookies["sessionid"].value

    users = get_user_model().objects
    firm = accounts_services.organisation_create(name="Audit Firm", kind=Organisation.Kind.PLATFORM)
    auditor = accounts_services.user_create(
        email="auditor@demo.flex", password="x-pass-123", organisation=firm, role=Membership.Role.AUDITOR
    )
    run = ClearingRun.objects.order_by("-pk").first()
    case = VerificationCase.objects.order_by("pk").first()
    return {
        "sessions": {
            "aggregator": session(users.get(email="aggregator@demo.flex")),
            "operator": session(users.get(email="operator@demo.flex")),
            "admin": session(users.get(email="admin@demo.flex")),
            "auditor": session(auditor),
        },
        "run": run.pk if run else None,
        "case": case.pk,
    }


def test_console_pages_screenshots(consoles, live_server, chromium):  # noqa: F811
    from portal.audit import SECTIONS

    OUT.mkdir(parents=True, exist_ok=True)
    operator = {
        "console": "/operator/",
        "requests": "/operator/requests/",
        "auctions": "/operator/auctions/",
        "dispatch": "/activation/console/",
        "emergency-event": "/activation/console/emergency-event/",
        "emergency-stop": "/activation/console/emergency-stop/",
        "prices": "/market/prices/",
    }
    if consoles["run"]:
        operator["clearing-run"] = f"/operator/clearing/{consoles['run']}/"
    roles = {
        "aggregator": {
            "portfolio": "/aggregator/",
            "terms": "/aggregator/terms/",
            "enrol": "/aggregator/enrol/",
            "order": "/aggregator/orders/new/",
            "event-response": "/activation/portfolio/",
            "devices": "/devices/capacity/",
            "fees-payouts": "/compensation/",
            "staking": "/staking/",
            "governance": "/governance/",
            "bank-payouts": "/payouts/",
            "wallet": "/tokens/",
            "compliance": "/compliance/",
            "members": "/settings/members/",
        },
        "operator": operator,
        "admin": {
            "console": "/operator/",
            "settlement-console": "/compensation/console/",
            "payout-console": "/payouts/console/",
            "bill-protection-pool": "/protection/",
            "audit": "/audit/",
            "django-admin": "/admin/",
            "kyc-cases": "/admin/accounts/verificationcase/",
            "kyc-case": f"/admin/accounts/verificationcase/{consoles['case']}/change/",
        },
        "auditor": {
            "home": "/audit/",
            **{f"section-{s.slug}": f"/audit/{s.slug}/" for s in SECTIONS},
            "case": f"/audit/cases/{consoles['case']}/",
            "operator-console": "/operator/",
            "settlement-console": "/compensation/console/",
        },
    }
    written = 0
    for role, pages in roles.items():
        written += _shoot(chromium, live_server.url, pages, f"{role}-", session=consoles["sessions"][role])
    assert written == 2 * sum(len(p) for p in roles.values())
