"""Portal pages for compensation: the participant's earnings, tokens, staking, disputes and statements (with
the aggregator's fees and member payouts), and the admin's settlement console (runs, disputes, governance).
Thin views: selectors to read, one service per form."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from accounts.models import Membership
from accounts.selectors import user_organisations, user_role
from flexplatform.errors import ApplicationError

from . import selectors
from .models import Dispute, Proposal, SettlementItem, SettlementRun, Stake
from .services import disputes, governance, staking
from .services.runs import settlement_run_execute

R = Membership.Role


@login_required
def compensation(request):
    role = user_role(request.user)
    if role not in (R.CONSUMER, R.AGGREGATOR):
        raise PermissionDenied("This page is for participants.")
    orgs = user_organisations(request.user, role=role)
    currency = settings.SETTLEMENT_CURRENCY
    if request.method == "POST":
        try:
            if "dispute_item" in request.POST:
                item = get_object_or_404(SettlementItem, pk=request.POST["dispute_item"], payee__in=orgs)
                disputes.dispute_open(
                    item=item, user=request.user, organisations=orgs, reason=request.POST.get("reason", "")
                )
                messages.success(request, f"Dispute opened on item {item.pk}.")
        except ApplicationError as exc:
            messages.error(request, exc.detail)
        return redirect("portal:compensation")
    org = orgs[0] if orgs else None
    now = timezone.now()
    items = SettlementItem.objects.filter(payee__in=orgs).select_related("premise").order_by("-delivery_start", "-pk")
    context = {
        "organisation": org,
        "currency": currency,
        "earnings": selectors.earnings_total(organisations=orgs, currency=currency),
        "earnings_chart": selectors.earnings_by_day(organisations=orgs, currency=currency),
        "balances": selectors.token_balances(organisation=org) if org else {},
        "stakes": Stake.objects.filter(organisation__in=orgs),
        "collateral": staking.staked_collateral(org) if org else Decimal("0"),
        "items": items[:100],
        "disputes": Dispute.objects.filter(item__payee__in=orgs).select_related("item")[:50],
        "months": [(now.year, m) for m in range(now.month, 0, -1)][:12],
        "fees": items.filter(kind=SettlementItem.Kind.AGGREGATOR_FEE)[:50] if role == R.AGGREGATOR else [],
        "member_payouts": SettlementItem.objects.filter(
            kind=SettlementItem.Kind.MEMBER_SHARE, contract__participant__in=orgs
        ).select_related("payee")[:100]
        if role == R.AGGREGATOR
        else [],
        "parameters": selectors.market_parameters(),
    }
    return render(request, "settlement/compensation.html", context)


def _decimal(value: str | None) -> Decimal | None:
    try:
        return Decimal(value) if value not in (None, "") else None
    except InvalidOperation:
        return None


@login_required
def console(request):
    if user_role(request.user) != R.ADMIN:
        raise PermissionDenied("This page is for platform admins.")
    if request.method == "POST":
        try:
            action = request.POST.get("action")
            if action == "run":
                start = datetime.fromisoformat(request.POST["window_start"])
                end = datetime.fromisoformat(request.POST["window_end"])
                run = settlement_run_execute(window_start=start, window_end=end)
                messages.success(request, f"Run {run.pk}: {run.last_attempt_items} new items.")
            elif action == "resolve":
                disputes.dispute_resolve(
                    dispute_id=int(request.POST["dispute"]),
                    admin=request.user,
                    uphold=request.POST.get("uphold") == "1",
                    resolution=request.POST.get("resolution", ""),
                    adjustment=_decimal(request.POST.get("adjustment")),
                )
                messages.success(request, "Dispute resolved.")
            elif action == "tally":
                governance.proposals_tally_due()
                messages.success(request, "Due proposals tallied.")
        except (ApplicationError, ValueError, KeyError) as exc:
            messages.error(request, getattr(exc, "detail", str(exc)))
        return redirect("portal:settlement-console")
    return render(
        request,
        "settlement/console.html",
        {
            "runs": SettlementRun.objects.all()[:30],
            "open_disputes": Dispute.objects.filter(status=Dispute.Status.OPEN).select_related("item", "item__payee"),
            "closed_disputes": Dispute.objects.exclude(status=Dispute.Status.OPEN).select_related("item")[:30],
            "proposals": Proposal.objects.select_related("proposer")[:30],
            "parameters": selectors.market_parameters(),
            "years": [timezone.now().year - 1, timezone.now().year],
        },
    )


@login_required
def payment_detail(request, pk: int):
    item = selectors.items_visible_to(request.user).filter(pk=pk).first()
    if item is None:
        raise Http404("No such payment.")
    return render(request, "settlement/payment.html", {"item": item, "bundle": selectors.item_proof(item=item)})
