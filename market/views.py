"""Portal pages of the market: the public price page (clearing prices per zone, price chart)."""

from __future__ import annotations

from django.shortcuts import render

from . import selectors


def prices_page(request):
    """Public: the latest published clearing prices and volumes per zone, with a chart per zone and product."""
    published = selectors.published_prices(limit=40)
    series: dict[str, dict] = {}
    for p in sorted(published, key=lambda p: p["intervals"][0]["start"] if p["intervals"] else p["cleared_at"]):
        label = f"{p['zone']} · {p['product']} · {p['market']}"
        s = series.setdefault(label, {"label": label, "points": []})
        for i in p["intervals"]:
            if i["clearing_price_per_mwh"] is not None:
                # chart display only: strings, parsed by the browser
                s["points"].append({"x": i["start"].isoformat(), "y": i["clearing_price_per_mwh"]})
    return render(request, "market/prices.html", {"published": published, "chart": list(series.values())})
