"""The consumer's money page: balances (the one selector), earnings by month and by event (fiat and each token),
statements (PDF/CSV) and disputes with their status."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from accounts import policies
from accounts.models import Membership

from .. import selectors_money as money
from ..access import R, require_role


@login_required
def earnings_page(request):
    require_role(request, R.CONSUMER, message="This page is for consumers.")
    orgs = policies.organisations(request.user, role=Membership.Role.CONSUMER)
    currency = settings.SETTLEMENT_CURRENCY
    context = {
        "currency": currency,
        "balances": money.balances(organisations=orgs, currency=currency),
        "by_month": money.earnings_by_month(organisations=orgs),
        "chart": money.earnings_chart(organisations=orgs, currency=currency),
        "by_event": money.earnings_by_event(organisations=orgs, page=request.GET.get("page")),
        "months": money.statement_months(organisations=orgs),
        "disputes": money.disputes_of(organisations=orgs),
    }
    return render(request, "settlement/earnings.html", context)
