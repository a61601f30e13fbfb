"""Devices and capacity (ADR 0029): what each premise's registered devices count for, per device, and the
labelled estimate of a site without devices; for the owner and the aggregator."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from accounts import policies
from assessment.device_capacity import capacity_breakdowns

from ..access import R, require_role


@login_required
def device_capacity(request):
    require_role(request, R.CONSUMER, R.AGGREGATOR, R.ADMIN)
    premises = policies.premises_visible_to(request.user).select_related("organisation").order_by("pk")
    return render(request, "portal/device_capacity.html", {"rows": capacity_breakdowns(premises=premises)})
