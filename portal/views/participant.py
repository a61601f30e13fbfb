"""Pages every participant (consumer or aggregator) has: compliance status, compensation (earnings, tokens,
staking, disputes, statements; an aggregator's fees and member payouts) and a payment with its proof."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts import policies
from accounts.selectors import aggregator_compliance_summary, compliance_status
from flexplatform.errors import ApplicationError
from settlement import selectors as settlement_selectors
from settlement.services import disputes, staking
from settlement.split_selectors import portfolio_split_rows, portfolio_split_totals

from .. import selectors
from ..access import R, require_role


@login_required
def compliance_page(request):
    """The participant's compliance status: may it trade, the failing rules with their numbers, the portfolio
    per ISO against the FERC Order 2222 minimum (aggregators), each premise's meter validation."""
    role = require_role(request, R.CONSUMER, R.AGGREGATOR)
    org = policies.organisations(request.user, role=role)[0]
    if role == R.AGGREGATOR:  # a portfolio of any size: rules counted per premise, failing premises paged
        rule = request.GET.get("rule", "")[:64]
        summary = aggregator_compliance_summary(org, rule=rule, page=request.GET.get("page"))
        return render(request, "portal/compliance_aggregator.html", {"org": org, **summary})
    return render(request, "portal/compliance.html", {"org": org, **compliance_status(org)})


@login_required
def compensation(request):
    role = require_role(request, R.CONSUMER, R.AGGREGATOR, message="This page is for participants.")
    orgs = policies.organisations(request.user, role=role)
    currency = settings.SETTLEMENT_CURRENCY
    if request.method == "POST":
        try:
            if "dispute_item" in request.POST:
                item = settlement_selectors.settlement_item_payable_to(
                    organisations=orgs, pk=request.POST["dispute_item"]
                )
                if item is None:
                    raise Http404("No such item.")
                disputes.dispute_open(
                    item=item, user=request.user, organisations=orgs, reason=request.POST.get("reason", "")
                )
                messages.success(request, f"Dispute opened on item {item.pk}.")
        except ApplicationError as exc:
            messages.error(request, exc.detail)
        return redirect("portal:compensation")
    org = orgs[0] if orgs else None
    now = timezone.now()
    context = {
        "organisation": org,
        "currency": currency,
        "earnings": settlement_selectors.earnings_total(organisations=orgs, currency=currency),
        "earnings_chart": settlement_selectors.earnings_by_day(organisations=orgs, currency=currency),
        "balances": settlement_selectors.token_balances(organisation=org) if org else {},
        "collateral": staking.staked_collateral(org) if org else Decimal("0"),
        "months": [(now.year, m) for m in range(now.month, 0, -1)][:12],
        "parameters": settlement_selectors.market_parameters(),
        **settlement_selectors.participant_compensation(organisations=orgs, aggregator=role == R.AGGREGATOR),
    }
    context["splits"] = portfolio_split_rows(organisations=orgs, limit=100)
    context["split_totals"] = portfolio_split_totals(context["splits"])
    return render(request, "settlement/compensation.html", context)


@login_required
def payment_detail(request, pk: int):
    item = selectors.payment_visible(request.user, pk)
    if item is None:
        raise Http404("No such payment.")
    try:
        bundle, changed = settlement_selectors.item_proof(item=item), None
    except settlement_selectors.ProofRecordChanged as exc:
        bundle, changed = None, exc.detail
    return render(request, "settlement/payment.html", {"item": item, "bundle": bundle, "changed": changed})
