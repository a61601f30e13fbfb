"""The participant's staking and collateral page (ADR 0025): staked, locked per open order and per unsettled
award, free, slashed (rule and numbers), stakes with their release, a stake form (preview, then confirm), and a
sell-order form whose refusal shows when the collateral is short."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts import policies
from flexplatform.errors import ApplicationError
from market.services.gates import premises_offerable_by
from market.services.orders import order_submit
from settlement import assets
from settlement.selectors import token_balances
from settlement.selectors_collateral import collateral_overview
from settlement.services.staking import governance_weight, stake_lock, stake_release

from .. import formatting as fmt
from ..access import require_role
from ..forms_collateral import SellOrderForm, StakeForm


def form_refusal(exc: ApplicationError) -> str:
    fields = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in (exc.fields or {}).items())
    return f"{exc.detail}" + (f" ({fields})" if fields else "")


def _stake_preview(org, form) -> dict:
    d = form.cleaned_data
    asset, amount = d["asset"], d["amount"]
    preview = {
        "asset": asset,
        "amount": fmt.token(amount, asset),
        "until": fmt.local(d["locked_until"], "UTC", "%Y-%m-%d"),
        "free_after": fmt.token(form.free(asset) - amount, asset),
    }
    if asset == assets.GOVERNANCE:
        weight = governance_weight(org, at=timezone.now())
        preview["weight_after"] = fmt.token(weight + amount, asset)
    return preview


def _stake(request, org, form):
    """The stake form's post: invalid -> its field errors; valid -> the preview; confirmed -> the stake."""
    if not form.is_valid():
        return None
    if form.cleaned_data.get("confirm") != "yes":
        return _stake_preview(org, form)
    d = form.cleaned_data
    try:
        stake = stake_lock(
            organisation=org,
            asset=d["asset"],
            amount=d["amount"],
            locked_until=d["locked_until"],
            business_key=f"portal:{org.pk}:{d['key']}",
            actor=request.user,
        )
    except ApplicationError as exc:
        form.add_error(None, exc.detail)
        for name, msgs in (exc.fields or {}).items():
            for m in msgs:
                form.add_error(name if name in form.fields else None, m)
        return None
    messages.success(
        request,
        f"Staked {fmt.token(stake.amount, stake.asset)} until {fmt.local(stake.locked_until, 'UTC', '%Y-%m-%d')} "
        f"(stake {stake.pk})."
        + (
            f" Your voting weight is now {fmt.token(governance_weight(org, at=timezone.now()), stake.asset)}."
            if stake.asset == assets.GOVERNANCE
            else ""
        ),
    )
    return redirect("portal:staking")


@login_required
def staking_page(request):
    role = require_role(request, *policies.STAKE_AND_VOTE_ROLES, message="This page is for participants.")
    org = policies.organisations(request.user, role=role)[0]
    premises = premises_offerable_by(org).order_by("name")
    posted = request.POST if request.method == "POST" else None
    staking = posted is not None and "stake" in posted
    ordering = posted is not None and not staking and "release_stake" not in posted
    form = SellOrderForm(posted if ordering else None, premises=premises)
    stake_form = StakeForm(posted if staking else None, balances=token_balances(organisation=org))
    preview = None
    if staking:
        outcome = _stake(request, org, stake_form)
        if isinstance(outcome, HttpResponseRedirect):
            return outcome
        preview = outcome
    elif posted is not None:
        try:
            if "release_stake" in posted:
                stake_id = int(posted["release_stake"])
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
    context = {
        "organisation": org,
        "form": form,
        "stake_form": stake_form,
        "stake_preview": preview,
        **collateral_overview(organisation=org),
    }
    return render(request, "settlement/staking.html", context, status=200)
