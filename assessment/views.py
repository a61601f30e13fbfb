"""Portal page: the consumer's historical consumption (load shapes, peak, base load, load factor, seasons)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from accounts.models import Membership
from accounts.selectors import user_role

from .consumption import SEASONS, WEEKDAYS
from .selectors import meter_consumption, meters_readable_by
from .services import meter_status_refresh


@login_required
def consumption_page(request):
    if user_role(request.user) != Membership.Role.CONSUMER:
        raise PermissionDenied("This page is for consumers.")
    meters = list(meters_readable_by(request.user).order_by("meter_id"))
    selected = next((m for m in meters if m.meter_id == request.GET.get("meter")), meters[0] if meters else None)
    context = {"meters": meters, "meter": selected, "analysis": None}
    if selected is not None:
        analysis = meter_consumption(meter=selected)
        context["analysis"] = analysis
        context["status"] = meter_status_refresh(meter=selected)
        context["charts"] = {  # chart display only: floats are fine here
            "daily": {"labels": [f"{h:02d}:00" for h in range(24)], "kw": [float(v) for v in analysis.daily_shape_kw]},
            "weekly": {
                "labels": [f"{d} {h:02d}h" for d in WEEKDAYS for h in range(24)],
                "kw": [float(v) for row in analysis.weekly_shape_kw for v in row],
            },
            "seasons": {
                "labels": [s for s in SEASONS if s in analysis.seasons],
                "kwh_per_day": [float(analysis.seasons[s]["kwh_per_day"]) for s in SEASONS if s in analysis.seasons],
            },
        }
    return render(request, "portal/consumption.html", context)
