"""Public pages: the landing page (or the role's home), the market's price page, proof verification."""

from __future__ import annotations

import json
from datetime import timedelta

from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts import policies
from flexplatform.errors import ApplicationError
from market.selectors import published_prices
from settlement.selectors import anchor_publication
from settlement.services.proofs import proof_bundle_verify

from .. import selectors
from ..access import ROLE_HOME


def home(request):
    role = policies.role(request.user)
    if role in ROLE_HOME:
        return redirect(ROLE_HOME[role])
    if request.user.is_authenticated:  # signed up, no organisation yet: on into the onboarding wizard
        return redirect("portal:onboarding")
    return render(request, "portal/home.html", {"market": selectors.public_market_summary()})


BUNDLE_MAX_BYTES = 256 * 1024  # a bundle is a few kB; a proof of a million-leaf hour is ~1.4 kB


def verify_page(request):
    """Public: check a proof bundle (uploaded file or pasted JSON) against the platform's published contract,
    server-side, and say in words what was verified or why not."""
    context: dict = {"now": timezone.now() - timedelta(0), "publication": anchor_publication()}
    status = 200
    if request.method == "POST":
        upload = request.FILES.get("bundle_file")
        if upload is not None and upload.size > BUNDLE_MAX_BYTES:
            context["error"] = "That file is too large to be a proof bundle."
        else:
            raw = upload.read().decode("utf-8", "replace") if upload is not None else request.POST.get("bundle", "")
            context["pasted"] = raw[:BUNDLE_MAX_BYTES]
            try:
                context["verdict"] = proof_bundle_verify(bundle=json.loads(raw))
            except json.JSONDecodeError as exc:
                context["error"] = f"This is not JSON: {exc}."
            except ApplicationError as exc:
                fields = " ".join(m for msgs in exc.fields.values() for m in msgs)
                context["error"] = f"{exc.detail} {fields}".strip()
                status = exc.status_code if exc.status_code >= 500 else 200  # 503: the chain node is down
        return render(request, "portal/verify.html", context, status=status)
    return render(request, "portal/verify.html", context)


def anchor_well_known(request):
    """Public: ``/.well-known/flexplatform-anchor.json``, the deployment every verifier pins."""
    publication = anchor_publication()
    if publication is None:
        return JsonResponse(
            {"code": "no_deployment", "detail": "No anchoring contract is published yet.", "fields": {}}, status=404
        )
    response = JsonResponse(publication)
    response["Access-Control-Allow-Origin"] = "*"
    return response


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
