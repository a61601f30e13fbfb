"""The consumer offers flexibility in the browser: premise(s), window, kW (the accredited kW per hour shown and
why), price, product in plain words; the market's refusal reasons appear in the form; open offers can be cancelled
(and real-time ones modified); an open offer whose window passed shows as expired."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import policies
from accounts.models import Membership
from flexplatform.errors import ApplicationError
from market.models import MarketOrder
from market.services.orders import order_cancel, order_modify, order_submit

from .. import formatting as fmt
from .. import selectors_data as data
from .. import selectors_offers as offers
from ..access import R, require_role
from ..forms_consumer import OfferForm


def _org(user):
    orgs = policies.organisations(user, role=Membership.Role.CONSUMER)
    return orgs[0] if orgs else None


@login_required
def offers_page(request):
    require_role(request, R.CONSUMER, message="Offers are made by consumers (aggregators: the portfolio page).")
    now = timezone.now()
    premises = [p for p in data.consumer_premises(request.user)]
    org = _org(request.user)
    tz_name = premises[0].timezone if premises else "UTC"
    day = (now.astimezone(fmt.zone(tz_name)) + timedelta(days=1)).date()
    capacity = offers.capacity_hours(premises=premises, day=day, now=now)
    currency = settings.SETTLEMENT_CURRENCY
    form = OfferForm(
        request.POST or None,
        premises=premises,
        auctions=offers.open_auctions(now=now),
        capacity=capacity,
        tz_name=tz_name,
        currency=currency,
    )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        auction = d.get("auction_obj")
        try:
            order_submit(
                organisation=org,
                market=d["market"],
                product=auction.product if auction else d["product"],
                side=MarketOrder.Side.SELL,
                zone=auction.zone if auction else (d["zone"] or d["members"][0][0].grid_zone.code),
                price_per_mwh=d["price_per_mwh"],
                delivery_start=d["start"],
                delivery_end=d["end"],
                members=[(p, kw) for p, kw in d["members"]],
                auction=auction,
                created_by=request.user,
            )
        except ApplicationError as exc:
            form.add_error(None, f"Refused: {exc.detail}")
            for name, msgs in exc.fields.items():
                for m in msgs:
                    form.add_error(None, f"{fmt.label(name)}: {m}")
        else:
            what = ", ".join(f"{fmt.kw(kw)} at {p.name}" for p, kw in d["members"])
            messages.success(request, f"Offered {what} at {fmt.price_mwh(d['price_per_mwh'], currency)}.")
            return redirect("portal:offers")
    context = {
        "form": form,
        "rows": offers.offer_rows(premises=premises, org=org, now=now),
        "capacity": capacity,
        "day": day,
        "tz_name": tz_name,
        "hours": range(24),
    }
    return render(request, "market/offers.html", context)


def _own_order(request, pk: int):
    org = _org(request.user)
    order = MarketOrder.objects.filter(pk=pk, organisation=org).first() if org else None
    if order is None:
        raise Http404
    return order, org


@login_required
@require_POST
def offer_cancel(request, pk: int):
    require_role(request, R.CONSUMER)
    order, org = _own_order(request, pk)
    try:
        order_cancel(order_id=order.pk, by=org)
    except ApplicationError as exc:
        messages.error(request, f"Refused: {exc.detail}")
    else:
        messages.success(request, f"Offer {order.pk} cancelled.")
    return redirect("portal:offers")


@login_required
@require_POST
def offer_modify(request, pk: int):
    require_role(request, R.CONSUMER)
    order, org = _own_order(request, pk)
    try:
        order_modify(
            order_id=order.pk,
            by=org,
            price_per_mwh=request.POST.get("price_per_mwh", ""),
            kw=request.POST.get("kw", ""),
        )
    except ApplicationError as exc:
        messages.error(request, f"Refused: {exc.detail}")
    except (ArithmeticError, ValueError):
        messages.error(request, "Give the new price and kW as numbers.")
    else:
        messages.success(request, f"Offer {order.pk} modified.")
    return redirect("portal:offers")
