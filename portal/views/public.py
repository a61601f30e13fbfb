"""Public pages: the landing page (or the role's home), the market's price page, proof verification."""

from __future__ import annotations

from datetime import timedelta

from django.shortcuts import redirect, render
from django.utils import timezone

from accounts.selectors import user_role
from market.selectors import published_prices

from .. import selectors
from ..access import ROLE_HOME


def home(request):
    role = user_role(request.user)
    if role in ROLE_HOME:
        return redirect(ROLE_HOME[role])
    return render(request, "portal/home.html", {"market": selectors.public_market_summary()})


def verify_page(request):
    return render(request, "portal/verify.html", {"now": timezone.now() - timedelta(0)})


def prices_page(request):
    """Public: the latest published clearing prices and volumes per zone, with a chart per zone and product."""
    published = published_prices(limit=40)
    series: dict[str, dict] = {}
    for p in sorted(published, key=lambda p: p["intervals"][0]["start"] if p["intervals"] else p["cleared_at"]):
        label = f"{p['zone']} · {p['product']} · {p['market']}"
        s = series.setdefault(label, {"label": label, "points": []})
        for i in p["intervals"]:
            if i["clearing_price_per_mwh"] is not None:
                # chart display only: strings, parsed by the browser
                s["points"].append({"x": i["start"].isoformat(), "y": i["clearing_price_per_mwh"]})
    return render(request, "market/prices.html", {"published": published, "chart": list(series.values())})
