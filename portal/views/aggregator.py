"""The aggregator's pages: the dashboard and the portfolio's event response."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from .. import selectors
from ..access import R, require_role


@login_required
def aggregator_dashboard(request):
    require_role(request, R.AGGREGATOR)
    return render(request, "portal/aggregator.html", selectors.aggregator_dashboard(user=request.user))


@login_required
def portfolio(request):
    require_role(request, R.AGGREGATOR)
    return render(request, "activation/portfolio.html", selectors.aggregator_portfolio(user=request.user))
