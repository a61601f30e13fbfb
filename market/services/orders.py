"""Orders in the real-time, day-ahead and seasonal markets: entry, cancel, modify, gate closure.

One path for every product and market (parameters from ``market.engine.products``):

* Intake: every rule an order must pass (``market.services.order_checks``).
* Real-time: the order is matched at once in its continuous book under the book row's lock
  (``market.services.matching``); trades become awards per member resource at the maker's price
  (``market.services.awards``).
* Day-ahead and seasonal: the order joins the auction under the auction row's lock, refused once the gate has
  closed; the auction clears at gate closure (``market.services.auctions``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import GridZone, Organisation, Premise
from flexplatform import transactions
from flexplatform.errors import ApplicationError, NotPermitted

from .. import hooks
from ..engine import kw_to_w, price_to_ticks, w_to_kw
from ..engine.allocation import pro_rata
from ..engine.products import PRODUCTS, MarketType
from ..errors import MarketError
from ..models import Auction, MarketOrder, OrderBook, OrderMember
from . import eligibility
from .awards import Member, member_shares
from .capacity import check_capacity, lock_premises
from .matching import (
    ORDER_STATE_COLUMNS,
    OrderOutcome,
    OrderState,
    book_load,
    by_premise,
    continuous_enter,
    fills_apply,
    fills_write,
    locked_book,
    order_states,
)
from .order_checks import (
    GateClosed,
    check_auction,
    check_basics,
    check_buyer,
    check_collateral,
    check_minimum,
    check_rt_timing,
    check_seller,
    collateral_terms,
    minimum_sell_kw,
    product_spec,
    zone_resolve,
)

__all__ = [
    "GateClosed",
    "OrderOutcome",
    "books_close_due",
    "member_shares",
    "minimum_sell_kw",
    "order_cancel",
    "order_modify",
    "order_submit",
]


@transactions.atomic
def order_submit(
    *,
    organisation: Organisation,
    market: str,
    product: str,
    side: str,
    zone: GridZone | str,
    price_per_mwh: Decimal,
    delivery_start: datetime,
    delivery_end: datetime,
    kw: Decimal | None = None,
    members: list[tuple[Premise | int, Decimal]] | None = None,
    kind: str = MarketOrder.Kind.LIMIT,
    is_block: bool = False,
    auction: Auction | int | None = None,
    priority: bool = False,
    created_by=None,
    now: datetime | None = None,
) -> OrderOutcome:
    """Enter an order. A sell order names its resources (``members``: premise or premise id, and kW; several
    for an aggregator's portfolio); its kW is their sum. ``zone`` is a zone or its code. ``priority``: a sell
    order opts into priority activation (locks the priority tier's collateral, dispatched first at equal
    price: ``market.engine.tiers``)."""
    now = now or timezone.now()
    spec = product_spec(product, market)
    member_kw = [(getattr(p, "pk", p), Decimal(k)) for p, k in members or []]
    if side == MarketOrder.Side.SELL:
        kw = sum((k for _, k in member_kw), Decimal("0"))
    if kw is None:
        raise ApplicationError("Give the kW.", fields={"kw": ["Required."]})
    kw, price_per_mwh = Decimal(kw), Decimal(price_per_mwh)
    check_basics(kw, price_per_mwh, delivery_start, delivery_end)
    if side not in MarketOrder.Side.values:
        raise ApplicationError("Side is buy or sell.", fields={"side": ["buy or sell."]})
    if kind not in MarketOrder.Kind.values or (market != MarketType.REAL_TIME and kind != MarketOrder.Kind.LIMIT):
        raise ApplicationError(
            "Fill-or-kill and fill-and-kill orders exist only in the continuous market.",
            fields={"kind": ["Use limit in an auction."]},
        )
    if is_block and market != MarketType.DAY_AHEAD:
        raise ApplicationError(
            "Block orders exist only in the day-ahead auction.", fields={"is_block": ["Day-ahead only."]}
        )
    if market == MarketType.REAL_TIME:
        check_rt_timing(spec=spec, start=delivery_start, end=delivery_end, now=now)
    member_ids = list(dict.fromkeys(pid for pid, _ in member_kw)) if side == MarketOrder.Side.SELL else []
    facts = eligibility.order_facts(organisation=organisation, premise_ids=member_ids, start=delivery_start)
    zone = zone_resolve(facts.zones, zone)
    tier, collateral_per_kw = collateral_terms(spec=spec, side=side, priority=priority, parameters=facts.parameters)
    if side == MarketOrder.Side.SELL:
        checked = check_seller(
            organisation=organisation,
            spec=spec,
            facts=facts,
            zone=zone,
            members=member_kw,
            kw=kw,
            start=delivery_start,
            end=delivery_end,
            tier=tier,
            collateral_per_kw=collateral_per_kw,
        )
    else:
        if member_kw:
            raise ApplicationError("A buy order names no resources.", fields={"members": ["Not for buy orders."]})
        check_buyer(organisation=organisation, facts=facts, zone=zone, spec=spec)
        checked = []
    fields = dict(
        market=market,
        product=spec.code,
        side=side,
        kind=kind,
        organisation=organisation,
        zone=zone,
        is_block=is_block,
        kw=kw,
        price_per_mwh=price_per_mwh,
        delivery_start=delivery_start,
        delivery_end=delivery_end,
        priority_at=now,
        tier=tier,
        collateral_per_kw=collateral_per_kw,
        created_by=created_by,
    )
    if market == MarketType.REAL_TIME:
        book = locked_book(spec=spec, zone=zone, start=delivery_start, end=delivery_end)
        if book.status != OrderBook.Status.OPEN or now >= book.gate_closure:
            raise GateClosed("Gate closure for this delivery interval has passed.")
        return continuous_enter(book=book, fields=fields, members=checked, now=now)
    if auction is None:
        raise ApplicationError("Name the auction.", fields={"auction": ["Required for auction markets."]})
    auction = Auction.objects.select_for_update().filter(pk=getattr(auction, "pk", auction)).first()
    if auction is None:
        raise ApplicationError("Unknown auction.", fields={"auction": ["Unknown auction."]})
    check_auction(
        auction=auction,
        spec=spec,
        market=market,
        side=side,
        zone=zone,
        start=delivery_start,
        end=delivery_end,
        is_block=is_block,
        organisation=organisation,
        now=now,
    )
    order = MarketOrder.objects.create(auction=auction, remaining_kw=kw, **fields)
    rows = OrderMember.objects.bulk_create(
        [
            OrderMember(
                order=order,
                premise=p,
                kw=k,
                remaining_kw=k,
                delivery_start=order.delivery_start,
                delivery_end=order.delivery_end,
            )
            for p, k in sorted(checked, key=by_premise)
        ]
    )
    return OrderOutcome(order=order, members=rows)


def _locked_order(order_id: int, by: Organisation) -> tuple[MarketOrder, OrderBook | None, Auction | None]:
    order = MarketOrder.objects.get(pk=order_id)
    # Lock order: container (book or auction) first, then the order: the same order order_submit takes.
    book = OrderBook.objects.select_for_update().get(pk=order.book_id) if order.book_id else None
    auction = Auction.objects.select_for_update().get(pk=order.auction_id) if order.auction_id else None
    order = MarketOrder.objects.select_for_update().get(pk=order_id)
    if order.organisation_id != by.pk:
        raise NotPermitted("Only the order's owner may change it.")
    if order.status != MarketOrder.Status.OPEN:
        raise ApplicationError(f"An order that is {order.status} cannot be changed.", code=MarketError.INVALID_STATE)
    return order, book, auction


@transaction.atomic
def order_cancel(*, order_id: int, by: Organisation, now: datetime | None = None) -> MarketOrder:
    now = now or timezone.now()
    order, book, auction = _locked_order(order_id, by)
    if auction is not None and (auction.status != Auction.Status.OPEN or now >= auction.gate_closure):
        raise GateClosed("The auction's gate has closed; orders can no longer be cancelled.")
    order.status = MarketOrder.Status.CANCELLED
    order.save(update_fields=["status"])
    OrderMember.objects.filter(order=order).update(remaining_kw=Decimal("0"))
    return order


@transaction.atomic
def order_modify(
    *, order_id: int, by: Organisation, price_per_mwh: Decimal, kw: Decimal, now: datetime | None = None
) -> OrderOutcome:
    """Change a resting real-time order's price and/or open kW. Reducing kW at the same price keeps time
    priority; anything else re-enters the order at the back of its new price level (and it may trade)."""
    now = now or timezone.now()
    pre = MarketOrder.objects.get(pk=order_id)
    if pre.side == MarketOrder.Side.SELL:
        lock_premises(OrderMember.objects.filter(order_id=order_id).values_list("premise_id", flat=True))
        if pre.collateral_per_kw > 0:  # the collateral row before the book's: order_submit's lock order
            hooks.collateral_position(by, lock=True)
    order, book, _ = _locked_order(order_id, by)
    if book is None:
        raise ApplicationError(
            "Only continuous-market orders are modified; cancel and re-enter an auction order.",
            code=MarketError.INVALID_STATE,
        )
    if book.status != OrderBook.Status.OPEN or now >= book.gate_closure:
        raise GateClosed("Gate closure for this delivery interval has passed.")
    kw, price_per_mwh = Decimal(kw), Decimal(price_per_mwh)
    check_basics(kw, price_per_mwh, order.delivery_start, order.delivery_end)
    filled = order.kw - order.remaining_kw
    members = list(OrderMember.objects.filter(order=order).select_related("premise").order_by("premise_id"))
    shares: dict[int, int] = {}
    if order.side == MarketOrder.Side.SELL and kw > order.remaining_kw:  # more kW: more collateral
        check_collateral(
            organisation=by,
            spec=PRODUCTS[order.product],
            kw=kw - order.remaining_kw,
            tier=order.tier,
            per_kw=order.collateral_per_kw,
        )
    if order.side == MarketOrder.Side.SELL:
        shares = pro_rata(kw_to_w(kw), [(m.pk, kw_to_w(m.kw), kw_to_w(kw)) for m in members])
        check_minimum(PRODUCTS[order.product], filled + kw)
        for m in members:
            new = w_to_kw(shares.get(m.pk, 0))
            if new > m.remaining_kw:
                check_capacity(
                    premise=m.premise,
                    start=order.delivery_start,
                    end=order.delivery_end,
                    kw=new,
                    exclude_order_id=order.pk,
                )
    engine = book_load(book)
    result = engine.modify(order.pk, price_to_ticks(price_per_mwh), kw_to_w(kw))
    keeps_priority = price_per_mwh == order.price_per_mwh and kw <= order.remaining_kw
    order.kw, order.remaining_kw, order.price_per_mwh = filled + kw, kw, price_per_mwh
    if not keeps_priority:
        order.priority_at = now
    for m in members:
        new = w_to_kw(shares.get(m.pk, 0))
        m.kw, m.remaining_kw = (m.kw - m.remaining_kw) + new, new
    kept = [m for m in members if m.kw > 0]
    taker = OrderState(
        order.pk,
        order.side,
        order.organisation_id,
        order.kw,
        order.remaining_kw,
        members=[Member(m.pk, m.premise_id, m.kw, m.remaining_kw, pk=m.pk) for m in kept],
    )
    maker_ids = sorted({f.maker_id for f in result.fills})
    makers = order_states(MarketOrder.objects.filter(pk__in=maker_ids).order_by("pk").values_list(*ORDER_STATE_COLUMNS))
    fills = fills_apply(taker, result.fills, {m.pk: m for m in makers})
    order.remaining_kw, order.status = taker.remaining, taker.status
    order.save(update_fields=["kw", "remaining_kw", "price_per_mwh", "priority_at", "status"])
    for m, state in zip(kept, taker.members, strict=True):
        m.remaining_kw = state.remaining
    if kept:
        OrderMember.objects.bulk_update(kept, ["kw", "remaining_kw"])
    trades = fills_write(book=book, taker=order, fills=fills, now=now)
    return OrderOutcome(order=order, trades=trades)


def books_close_due(*, now: datetime | None = None) -> int:
    """Gate closure: close every book whose gate has passed; its resting orders expire. Idempotent."""
    now = now or timezone.now()
    closed = 0
    for pk in OrderBook.objects.filter(status=OrderBook.Status.OPEN, gate_closure__lte=now).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            book = OrderBook.objects.select_for_update().get(pk=pk)
            if book.status != OrderBook.Status.OPEN:
                continue
            open_orders = MarketOrder.objects.filter(book=book, status=MarketOrder.Status.OPEN)
            OrderMember.objects.filter(order__in=open_orders).update(remaining_kw=Decimal("0"))
            open_orders.update(status=MarketOrder.Status.EXPIRED)
            book.status = OrderBook.Status.CLOSED
            book.save(update_fields=["status"])
            closed += 1
    return closed
