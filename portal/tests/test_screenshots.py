"""``make screenshots``: full-page PNGs of every consumer page, on a desktop and a 390 px phone, from the demo
world after a market day, under var/screenshots/ (skipped unless SCREENSHOTS=1: a generator, not a check; each
page must still answer 200 without script errors)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .browser_support import DESKTOP, PHONE, Watched, chromium, sign_in  # noqa: F401
from .test_browser_consumer import consumer_day  # noqa: F401

pytestmark = [
    pytest.mark.screenshots,
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(os.environ.get("SCREENSHOTS") != "1", reason="make screenshots sets SCREENSHOTS=1"),
]
OUT = Path(__file__).resolve().parents[2] / "var" / "screenshots"


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
        "money": "/consumer/money/",
        "earnings-tokens": "/compensation/",
        "notifications": "/notifications/",
        "notification-preferences": "/settings/notifications/",
        "onboarding": "/onboarding/",
        "compliance": "/compliance/",
        "forbidden": "/operator/",
    }
    for label, viewport in (("desktop", DESKTOP), ("390px", PHONE)):
        w = Watched(chromium, viewport=viewport)
        sign_in(w.page, live_server.url, consumer_day["email"], next_path="/consumer/")
        for name, path in pages.items():
            w.page.goto(f"{live_server.url}{path}")
            w.page.wait_for_load_state("networkidle")
            w.page.screenshot(path=str(OUT / f"{name}-{label}.png"), full_page=True)
        w.failed = [f for f in w.failed if not f.startswith("403 ")]  # the forbidden page is a 403 on purpose
        w.clean()
        w.page.close()
    assert len(list(OUT.glob("*.png"))) >= 2 * len(pages)
