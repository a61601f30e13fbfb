"""The consumer's pages: dashboard, historical consumption, events (with opt-out)."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from activation import selectors as activation_selectors
from assessment.consumption import SEASONS, WEEKDAYS
from assessment.quality_window import meter_quality_window
from assessment.selectors import meter_consumption
from assessment.services import meter_status_refresh
from flexplatform.errors import ApplicationError

from .. import selectors
from ..access import R, require_role
from ..selectors_consumer import consumer_home


@login_required
def consumer_dashboard(request):
    require_role(request, R.CONSUMER)
    context = consumer_home(user=request.user, currency=settings.SETTLEMENT_CURRENCY)
    context.update(
        selectors.consumer_dashboard(
            user=request.user, currency=settings.SETTLEMENT_CURRENCY, premises=context["premises"]
        )
    )
    return render(request, "portal/consumer.html", context)


@login_required
def consumption_page(request):
    """The consumer's historical consumption (load shapes, peak, base load, load factor, seasons)."""
    require_role(request, R.CONSUMER, message="This page is for consumers.")
    meters = selectors.consumer_meters(request.user)
    selected = next((m for m in meters if m.meter_id == request.GET.get("meter")), meters[0] if meters else None)
    context = {"meters": meters, "meter": selected, "analysis": None}
    if selected is not None:
        analysis = meter_consumption(meter=selected)
        context["analysis"] = analysis
        context["status"] = meter_status_refresh(meter=selected)
        context["quality"] = _quality(request, selected)
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


def _quality(request, meter):
    """Data quality over the window asked for (local days), else over the imported range."""
    try:
        first = date.fromisoformat(request.GET["first_day"]) if request.GET.get("first_day") else None
        last = date.fromisoformat(request.GET["last_day"]) if request.GET.get("last_day") else None
        return meter_quality_window(meter=meter, first_day=first, last_day=last)
    except (ValueError, ApplicationError) as exc:
        messages.error(request, f"Quality window: {getattr(exc, 'detail', exc)} Showing the imported range.")
        return meter_quality_window(meter=meter)


@login_required
def my_events(request):
    require_role(request, R.CONSUMER)
    return render(request, "activation/my_events.html", activation_selectors.consumer_events(user=request.user))
