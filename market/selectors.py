"""Read models for the market."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Exists, Max, Min, OuterRef, Q, QuerySet, Sum

from accounts import policies
from accounts.models import GridZone, Membership, Organisation
from accounts.selectors import (
    operator_zone_ids,
    premises_visible_to,
    user_organisations,
    user_role,
    zone_with_descendant_ids,
)

from .models import Award, ClearingRun, FlexibilityOffer, FlexibilityRequest, MarketOrder, OrderMember, Trade


def offers_for_seller(*, seller: Organisation | None) -> QuerySet[FlexibilityOffer]:
    return FlexibilityOffer.objects.filter(seller=seller).select_related("zone", "premise")


def requests_for_operator(*, operator: Organisation | None) -> QuerySet[FlexibilityRequest]:
    return FlexibilityRequest.objects.filter(operator=operator).select_related("zone")


def requests_visible_to(user) -> QuerySet[FlexibilityRequest]:
    """Flexibility requests a user may read: an operator its own organisation's, admins and auditors every one."""
    if policies.reads_everything(user):
        return FlexibilityRequest.objects.select_related("zone")
    return requests_for_operator(operator=policies.acting_organisation(user, Membership.Role.GRID_OPERATOR))


def awards_visible_to(user) -> QuerySet[Award]:
    qs = Award.objects.select_related("premise", "request", "offer", "order")
    role = user_role(user)
    if role in (Membership.Role.ADMIN, Membership.Role.AUDITOR):
        return qs
    if role == Membership.Role.GRID_OPERATOR:
        return qs.filter(
            Q(request__operator__in=user_organisations(user, role=role))
            | Q(buyer__in=user_organisations(user, role=role))
        )
    if role in (Membership.Role.CONSUMER, Membership.Role.AGGREGATOR):
        return qs.filter(premise__in=premises_visible_to(user))
    return qs.none()


def clearing_runs_for_zones(user) -> QuerySet[ClearingRun]:
    return ClearingRun.objects.filter(request__zone_id__in=operator_zone_ids(user)).select_related("request__zone")


def clearing_runs_visible_to(user) -> QuerySet[ClearingRun]:
    """Clearing runs the user may read: of a request or auction in a zone they serve (``accounts.policies``)."""
    zone_ids = policies.zone_scope(user)
    if zone_ids is None:
        return ClearingRun.objects.all()
    return ClearingRun.objects.filter(Q(request__zone_id__in=zone_ids) | Q(auction__zone_id__in=zone_ids))


# -- markets: orders, positions, published prices, price signals ------------------------------------------------


def orders_for(*, organisation: Organisation | None) -> QuerySet[MarketOrder]:
    return (
        MarketOrder.objects.filter(organisation=organisation)
        .select_related("zone")
        .prefetch_related("members")
        .order_by("-created_at", "-id")
    )


def orders_of_premises(*, premises, limit: int = 50, side: str | None = None) -> list[MarketOrder]:
    """The latest ``limit`` orders (of ``side``, when given) in which any of the premises takes part, newest
    delivery first, each with ``my_members``: its members among the premises (kW each). One query, whatever the
    number of orders."""
    ids = [getattr(p, "pk", p) for p in premises]
    orders_qs = MarketOrder.objects.filter(Exists(OrderMember.objects.filter(order=OuterRef("pk"), premise_id__in=ids)))
    if side is not None:
        orders_qs = orders_qs.filter(side=side)
    latest = orders_qs.order_by("-delivery_start", "-id").values("pk")[:limit]
    orders: dict[int, MarketOrder] = {}
    for m in (
        OrderMember.objects.filter(premise_id__in=ids, order__in=latest)
        .select_related("order__zone", "order__organisation", "premise")
        .order_by("-order__delivery_start", "-order_id", "premise_id")
    ):
        order = orders.setdefault(m.order_id, m.order)
        if not hasattr(order, "my_members"):
            order.my_members = []
        order.my_members.append(m)
    return list(orders.values())


def positions_for(*, organisation: Organisation) -> list[dict]:
    """Net awarded kW and value per market, product and delivery interval (sold positive, bought negative)."""
    rows: dict[tuple, dict] = {}
    for a in Award.objects.filter(Q(seller=organisation) | Q(buyer=organisation)).values(
        "market", "product", "window_start", "window_end", "kw", "clearing_price_per_mwh", "seller_id"
    ):
        sign = 1 if a["seller_id"] == organisation.pk else -1
        key = (a["market"], a["product"], a["window_start"], a["window_end"])
        row = rows.setdefault(
            key,
            {
                "market": key[0],
                "product": key[1],
                "start": key[2],
                "end": key[3],
                "kw": Decimal("0"),
                "value": Decimal("0"),
            },
        )
        hours = Decimal((a["window_end"] - a["window_start"]).total_seconds()) / 3600
        row["kw"] += sign * a["kw"]
        row["value"] += sign * a["kw"] * a["clearing_price_per_mwh"] * hours / 1000
    for row in rows.values():
        row["value"] = row["value"].quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return sorted(rows.values(), key=lambda r: (r["start"], r["market"], r["product"]))


def expected_earnings(*, premises) -> Decimal:
    """Awarded kW × clearing price × hours for the premises' awards: what they earn if they deliver in full."""
    total = Decimal("0")
    for kw, price, start, end in Award.objects.filter(premise__in=premises).values_list(
        "kw", "clearing_price_per_mwh", "window_start", "window_end"
    ):
        total += kw * price * Decimal((end - start).total_seconds()) / 3600 / 1000
    return total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def published_price_runs(*, zone_ids: set[int] | None = None) -> QuerySet[ClearingRun]:
    """The cleared auctions' runs whose prices are published, newest delivery first."""
    runs = (
        ClearingRun.objects.exclude(auction=None)
        .select_related("auction__zone")
        .order_by("-auction__delivery_start", "-pk")
    )
    return runs if zone_ids is None else runs.filter(auction__zone_id__in=zone_ids)


def published_prices(*, zone_ids: set[int] | None = None, limit: int = 20) -> list[dict]:
    """Cleared auctions' prices and volumes per zone and interval, newest delivery first."""
    return published_price_rows(published_price_runs(zone_ids=zone_ids)[:limit])


def published_price_rows(runs) -> list[dict]:
    """Each run's prices and volumes per interval (see :func:`published_prices`)."""
    out = []
    for run in runs:
        a = run.auction
        step = timedelta(minutes=a.interval_minutes)
        out.append(
            {
                "auction": a.pk,
                "market": a.market,
                "product": a.product,
                "zone": a.zone.code,
                "rule_version": run.rule_version,
                "cleared_at": run.cleared_at,
                "intervals": [
                    {
                        "start": a.delivery_start + i["interval"] * step,
                        "end": a.delivery_start + (i["interval"] + 1) * step,
                        "clearing_price_per_mwh": i["clearing_price_per_mwh"],
                        "volume_kw": i["volume_kw"],
                    }
                    for i in run.outputs.get("intervals", [])
                ],
            }
        )
    return out


@dataclass(frozen=True)
class PriceSignal:
    zone: str
    product: str
    start: datetime
    end: datetime
    last_clearing_price: Decimal | None
    best_bid: Decimal | None
    best_ask: Decimal | None
    available_kw: Decimal
    requested_reserve_kw: Decimal
    scarcity_adder: Decimal
    price: Decimal | None


def price_signal(*, zone: GridZone, product: str, start: datetime, end: datetime) -> PriceSignal:
    """The dynamic price for a zone and interval.

    Base: the last clearing price (the latest trade in the zone's continuous book for the interval, else the
    day-ahead auction's price for the interval), else the open book's mid (or the one side quoted). Scarcity
    adder, after ERCOT's operating reserve demand curve (ORDC) in a linear form: when the flexibility offered
    for the interval in the zone and below (open sell orders' kW) falls below the reserve the operator requests
    there (its buy orders' kW for the interval), add ``MARKET_SCARCITY_ADDER_MAX_PER_MWH × shortfall/reserve``.
    """
    zone_ids = zone_with_descendant_ids([zone])
    overlap = Q(delivery_start__lt=end, delivery_end__gt=start, product=product)
    last_trade = (
        Trade.objects.filter(
            book__zone=zone, book__product=product, book__delivery_start__lt=end, book__delivery_end__gt=start
        )
        .order_by("-executed_at", "-id")
        .values_list("price_per_mwh", flat=True)
        .first()
    )
    last = last_trade
    if last is None:
        for p in published_prices(zone_ids={zone.pk}, limit=50):
            if p["product"] != product:
                continue
            for i in p["intervals"]:
                if i["start"] < end and i["end"] > start and i["clearing_price_per_mwh"] is not None:
                    last = Decimal(i["clearing_price_per_mwh"])
                    break
            if last is not None:
                break
    open_orders = MarketOrder.objects.filter(overlap, status=MarketOrder.Status.OPEN, zone_id__in=zone_ids)
    book = open_orders.filter(market="real_time", zone=zone).aggregate(
        bid=Max("price_per_mwh", filter=Q(side="buy")), ask=Min("price_per_mwh", filter=Q(side="sell"))
    )
    available = open_orders.filter(side="sell").aggregate(kw=Sum("remaining_kw"))["kw"] or Decimal("0")
    reserve = MarketOrder.objects.filter(overlap, side="buy", zone_id__in=zone_ids).exclude(
        status=MarketOrder.Status.CANCELLED
    ).aggregate(kw=Sum("kw"))["kw"] or Decimal("0")
    base = last
    if base is None and book["bid"] is not None and book["ask"] is not None:
        base = (book["bid"] + book["ask"]) / 2
    elif base is None:
        base = book["ask"] if book["ask"] is not None else book["bid"]
    adder = Decimal("0")
    if reserve > 0 and available < reserve:
        adder = Decimal(settings.MARKET_SCARCITY_ADDER_MAX_PER_MWH) * (reserve - available) / reserve
    adder = adder.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    price = None if base is None and not adder else ((base or Decimal("0")) + adder).quantize(Decimal("0.01"))
    q3 = Decimal("0.001")
    return PriceSignal(
        zone.code,
        product,
        start,
        end,
        last,
        book["bid"],
        book["ask"],
        available.quantize(q3),
        reserve.quantize(q3),
        adder,
        price,
    )


def offers_for_premises(*, premises) -> QuerySet[FlexibilityOffer]:
    """Offers made for these premises in request clearings, by their owner or their aggregator, newest first."""
    return (
        FlexibilityOffer.objects.filter(premise__in=premises)
        .select_related("seller", "premise", "zone")
        .order_by("-window_start", "-id")
    )


def clearing_runs_public_summary(limit: int = 10) -> dict:
    """The public home page's market figures: the latest request clearings that set a price, how many there are
    and the kW they awarded."""
    from django.db.models import Count

    runs = ClearingRun.objects.exclude(clearing_price_per_mwh=None).exclude(request=None)
    agg = runs.aggregate(n=Count("id"), kw=Sum("awarded_kw"))
    return {
        "runs": list(runs.select_related("request__zone").order_by("-cleared_at")[:limit]),
        "cleared": agg["n"] or 0,
        "awarded_kw": agg["kw"] or Decimal("0"),
    }
