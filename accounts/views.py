"""Portal views: thin callers of selectors, one dashboard per role."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils import timezone

from . import dashboards
from .models import Membership
from .selectors import user_role

ROLE_HOME = {
    Membership.Role.CONSUMER: "portal:consumer",
    Membership.Role.AGGREGATOR: "portal:aggregator",
    Membership.Role.GRID_OPERATOR: "portal:operator",
    Membership.Role.ADMIN: "portal:operator",
}


def home(request):
    role = user_role(request.user)
    if role in ROLE_HOME:
        return redirect(ROLE_HOME[role])
    return render(request, "portal/home.html", {"market": dashboards.public_market_summary()})


def _require(request, *roles):
    if user_role(request.user) not in roles:
        raise PermissionDenied("This page is for another role.")


@login_required
def consumer_dashboard(request):
    _require(request, Membership.Role.CONSUMER)
    context = dashboards.consumer_dashboard(user=request.user, currency=settings.SETTLEMENT_CURRENCY)
    return render(request, "portal/consumer.html", context)


@login_required
def aggregator_dashboard(request):
    _require(request, Membership.Role.AGGREGATOR)
    return render(request, "portal/aggregator.html", dashboards.aggregator_dashboard(user=request.user))


@login_required
def operator_console(request):
    _require(request, Membership.Role.GRID_OPERATOR, Membership.Role.ADMIN)
    return render(request, "portal/operator.html", dashboards.operator_console(user=request.user))


def verify_page(request):
    return render(request, "portal/verify.html", {"now": timezone.now() - timedelta(0)})
