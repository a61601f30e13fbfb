"""The participant's staking and collateral page (ADR 0025): staked, locked per open order and per unsettled
award, free, slashed (rule and numbers), stakes with their release, and a sell-order form whose refusal shows
when the collateral is short."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from accounts import policies
from flexplatform.errors import ApplicationError
from market.services.gates import premises_offerable_by
from market.services.orders import order_submit
from settlement.selectors_collateral import collateral_overview
from settlement.services.staking import stake_release

from ..access import R, require_role
from ..forms_collateral import SellOrderForm


def form_refusal(exc: ApplicationError) -> str:
    fields = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in (exc.fields or {}).items())
    return f"{exc.detail}" + (f" ({fields})" if fields else "")


@login_required
def staking_page(request):
    role = require_role(request, R.CONSUMER, R.AGGREGATOR, message="This page is for participants.")
    org = policies.organisations(request.user, role=role)[0]
    premises = premises_offerable_by(org).order_by("name")
    form = SellOrderForm(request.POST or None, premises=premises)
    if request.method == "POST":
        try:
            if "release_stake" in request.POST:
                stake_id = int(request.POST["release_stake"])
                if not any(s.pk == stake_id for s in org.stakes.all()):
                    raise ApplicationError("Not your stake.", fields={"stake": ["Not yours."]})
                stake_release(stake_id=stake_id, actor=request.user)
                messages.success(request, f"Stake {stake_id} released.")
                return redirect("portal:staking")
            if form.is_valid():
                d = form.cleaned_data
                start = d["delivery_start"]
                outcome = order_submit(
                    organisation=org,
                    market="real_time",
                    product=d["product"],
                    side="sell",
                    zone=d["zone"],
                    members=[(d["premise"], d["kw"])],
                    price_per_mwh=d["price_per_mwh"],
                    delivery_start=start,
                    delivery_end=start + timedelta(minutes=15),
                    priority=d["priority"],
                    created_by=request.user,
                )
                messages.success(
                    request,
                    f"Order {outcome.order.pk} entered: {outcome.order.kw} kW, "
                    f"{outcome.order.collateral_per_kw} FLEX per kW locked.",
                )
                return redirect("portal:staking")
        except ApplicationError as exc:
            messages.error(request, form_refusal(exc))
    context = {"organisation": org, "form": form, **collateral_overview(organisation=org)}
    return render(request, "settlement/staking.html", context, status=200)
