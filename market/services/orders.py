"""Orders in the real-time, day-ahead and seasonal markets: entry, matching, cancel, modify, gate closure.

One path for every product and market (parameters from ``market.engine.products``):

* Sellers: the trading gate (``accounts.selectors.organisation_trading_status``), premises they may offer
  (their own, or enrolled with them as an aggregator), located in the order's zone or below it, the product's
  minimum size (FERC Order 2222: 100 kW, reached by pooling a portfolio), ancillary qualification (response
  time and sustained duration per resource), staked FLEX collateral for premium products
  (``settlement.services.staking.staked_collateral``) and accredited capacity minus everything committed,
  per resource and instant (``market.services.capacity``), with the premise rows locked.
* Buyers: grid operators, in zones of their service area.
* Real-time: the order is matched at once in its continuous book (``market.engine.book``) under the book row's
  lock; trades become awards per member resource at the maker's price.
* Day-ahead and seasonal: the order joins the auction under the auction row's lock, refused once the gate has
  closed; the auction clears at gate closure (``market.services.auctions``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import GridZone, Organisation, Premise
from accounts.selectors import (
    organisation_trading_status,
    premise_offer_refusals,
    premises_offerable_by,
    wholesale_aggregation_refusal,
    zone_with_descendant_ids,
)
from flexplatform.errors import ApplicationError, Conflict, NotPermitted

from ..engine import book as engine_book
from ..engine import kw_to_w, price_to_ticks, ticks_to_price, w_to_kw
from ..engine.allocation import pro_rata
from ..engine.products import PRODUCTS, MarketType, ProductSpec
from ..models import Auction, Award, MarketOrder, OrderBook, OrderMember, ResourceQualification, Trade
from .capacity import check_capacity, lock_premises

RT_INTERVALS = (5, 15)


class GateClosed(Conflict):
    code = "gate_closed"


@dataclass
class OrderOutcome:
    order: MarketOrder
    trades: list[Trade] = field(default_factory=list)


def _spec(product: str, market: str) -> ProductSpec:
    spec = PRODUCTS.get(product)
    if spec is None:
        raise ApplicationError(f"Unknown product {product!r}.", fields={"product": ["Unknown product."]})
    if market not in spec.markets:
        raise ApplicationError(
            f"{spec.label} is not traded in the {market} market.",
            code="market_product_mismatch",
            fields={"market": [f"{spec.label} trades in: {', '.join(spec.markets)}."]},
        )
    return spec


def _check_basics(kw: Decimal, price: Decimal, start: datetime, end: datetime) -> None:
    fields: dict[str, list[str]] = {}
    if kw <= 0:
        fields["kw"] = ["Must be greater than zero."]
    if price < 0:
        fields["price_per_mwh"] = ["Must not be negative."]
    if timezone.is_naive(start) or timezone.is_naive(end):
        fields["delivery_start"] = ["Give a timezone (e.g. 2026-11-24T17:00:00Z)."]
    elif end <= start:
        fields["delivery_end"] = ["Delivery must end after it starts."]
    if fields:
        raise ApplicationError("The order is invalid.", fields=fields)


def _check_seller(
    *,
    organisation: Organisation,
    spec: ProductSpec,
    zone: GridZone,
    members: list[tuple[Premise, Decimal]],
    kw: Decimal,
    start: datetime,
    end: datetime,
) -> None:
    status = organisation_trading_status(organisation)
    if not status.allowed:
        raise NotPermitted("This participant may not trade: " + " ".join(status.reasons), code="trading_suspended")
    if not members:
        raise ApplicationError("A sell order needs at least one resource.", fields={"members": ["Give a premise."]})
    ids = [p.pk for p, _ in members]
    if len(set(ids)) != len(ids):
        raise ApplicationError("A premise appears twice.", fields={"members": ["Each premise once."]})
    offerable = set(premises_offerable_by(organisation).filter(pk__in=ids).values_list("pk", flat=True))
    if set(ids) - offerable:
        refusals = premise_offer_refusals(organisation, [p for p, _ in members if p.pk not in offerable])
        reasons = [r for rs in refusals.values() for r in rs]
        raise NotPermitted(
            "This seller may not offer these premises: " + " ".join(reasons),
            fields={"members": [f"Not yours to offer: {sorted(set(ids) - offerable)}.", *reasons]},
        )
    if not spec.locational_only:  # wholesale: FERC Order 2222 minimum aggregation size in the ISO
        too_small = wholesale_aggregation_refusal(organisation=organisation, zone=zone, start=start, end=end, first=ids)
        if too_small:
            raise ApplicationError(
                f"{spec.label}: {too_small}", code="below_minimum_aggregation", fields={"members": [too_small]}
            )
    inside = zone_with_descendant_ids([zone])
    outside = [p.pk for p, _ in members if p.grid_zone_id not in inside]
    if outside:
        raise ApplicationError(
            f"Premises {outside} are not in zone {zone.code} or below it.",
            code="wrong_location",
            fields={"zone": [f"Premises {outside} are outside this zone."]},
        )
    if any(m_kw <= 0 for _, m_kw in members):
        raise ApplicationError("Every member offers a positive kW.", fields={"members": ["kW must be positive."]})
    if kw < spec.min_size_kw:
        raise ApplicationError(
            f"{spec.label} needs at least {spec.min_size_kw} kW per order; pool resources in a portfolio offer.",
            code="below_minimum_size",
            fields={"kw": [f"At least {spec.min_size_kw} kW."]},
        )
    if spec.ancillary:
        quals = {q.premise_id: q for q in ResourceQualification.objects.filter(premise_id__in=ids, product=spec.code)}
        bad = [
            pk
            for pk in ids
            if pk not in quals
            or quals[pk].response_seconds > spec.response_seconds
            or quals[pk].sustain_minutes < spec.min_duration_minutes
        ]
        if bad:
            raise ApplicationError(
                f"Premises {bad} are not qualified for {spec.label}: respond within {spec.response_seconds} s "
                f"and sustain {spec.min_duration_minutes} min.",
                code="not_qualified",
                fields={"members": [f"Not qualified: {bad}."]},
            )
    if spec.premium:
        from settlement.services.staking import staked_collateral

        open_premium = [c for c, s in PRODUCTS.items() if s.premium]
        committed = MarketOrder.objects.filter(
            organisation=organisation,
            side=MarketOrder.Side.SELL,
            status=MarketOrder.Status.OPEN,
            product__in=open_premium,
        ).aggregate(kw=Sum("remaining_kw"))["kw"] or Decimal("0")
        required = (committed + kw) * spec.stake_flex_per_kw
        staked = staked_collateral(organisation)
        if staked < required:
            raise ApplicationError(
                f"{spec.label} is a premium market: {required} FLEX must be staked for {committed + kw} kW "
                f"on offer; {staked} FLEX is staked.",
                code="insufficient_stake",
                fields={"kw": [f"Stake {required - staked} FLEX more, or offer less."]},
            )
    for premise, m_kw in members:
        check_capacity(premise=premise, start=start, end=end, kw=m_kw)


def _check_buyer(*, organisation: Organisation, zone: GridZone, spec: ProductSpec) -> None:
    if organisation.kind != Organisation.Kind.GRID_OPERATOR:
        raise NotPermitted("Only grid operators buy flexibility.")
    if spec.locational_only and zone.kind == GridZone.Kind.ISO_ZONE:
        raise ApplicationError(
            f"{spec.label} is bought for a location in the distribution grid: a substation or feeder.",
            code="not_locational",
            fields={"zone": ["Name a substation or feeder, not an ISO zone."]},
        )
    if zone.pk not in zone_with_descendant_ids(organisation.service_zones.all()):
        raise NotPermitted(f"Zone {zone.code} is outside the operator's service area.", fields={"zone": ["Not yours."]})


def _check_rt_timing(*, spec: ProductSpec, start: datetime, end: datetime, now: datetime) -> None:
    minutes = (end - start).total_seconds() / 60
    if spec.code == "forward":
        if start - now < timedelta(minutes=spec.min_lead_minutes):
            raise ApplicationError(
                f"A forward is for delivery at least {spec.min_lead_minutes // 60} h ahead.",
                code="too_late",
                fields={"delivery_start": ["Too close to delivery for a forward."]},
            )
    elif minutes not in RT_INTERVALS or start.minute % int(minutes) or start.second or start.microsecond:
        raise ApplicationError(
            "A real-time delivery interval is 5 or 15 minutes, aligned to the clock.",
            code="bad_interval",
            fields={"delivery_end": ["Use a 5- or 15-minute interval aligned to the clock."]},
        )


def _book_for(*, spec: ProductSpec, zone: GridZone, start: datetime, end: datetime) -> OrderBook:
    gate = start - timedelta(minutes=spec.gate_closure_minutes)
    book, _ = OrderBook.objects.get_or_create(
        product=spec.code, zone=zone, delivery_start=start, delivery_end=end, defaults={"gate_closure": gate}
    )
    return book


def _check_auction(
    *,
    auction: Auction,
    spec: ProductSpec,
    market: str,
    side: str,
    zone: GridZone,
    start: datetime,
    end: datetime,
    is_block: bool,
    organisation: Organisation,
    now: datetime,
) -> None:
    if auction.market != market or auction.product != spec.code or auction.zone_id != zone.pk:
        raise ApplicationError(
            "The order does not match the auction's market, product and zone.",
            fields={"auction": ["Market, product and zone must match the auction."]},
        )
    if auction.status != Auction.Status.OPEN or now >= auction.gate_closure:
        raise GateClosed("The auction's gate has closed; it takes no more orders.")
    if market == MarketType.SEASONAL:
        if side != MarketOrder.Side.SELL:
            raise ApplicationError(
                "The seasonal auction's demand is the operator's demand curve.", fields={"side": ["Only sell offers."]}
            )
        if (start, end) != (auction.delivery_start, auction.delivery_end):
            raise ApplicationError(
                "A seasonal offer covers the whole season.", fields={"delivery_start": ["The season."]}
            )
        return
    if side == MarketOrder.Side.BUY and organisation.pk != auction.operator_id:
        raise NotPermitted("Only the auction's operator bids in it.")
    step = timedelta(minutes=auction.interval_minutes)
    aligned = (
        start >= auction.delivery_start
        and end <= auction.delivery_end
        and not ((start - auction.delivery_start) % step or (end - start) % step)
    )
    n = (end - start) // step if aligned else 0
    if not aligned or (is_block and n < 2) or (not is_block and n != 1):
        raise ApplicationError(
            "A day-ahead order covers one auction interval; a block order two or more whole intervals.",
            code="bad_interval",
            fields={"delivery_start": ["Align to the auction's intervals."]},
        )
    if is_block and side != MarketOrder.Side.SELL:
        raise ApplicationError("Block orders are sell offers.", fields={"is_block": ["Sell side only."]})


@transaction.atomic
def order_submit(
    *,
    organisation: Organisation,
    market: str,
    product: str,
    side: str,
    zone: GridZone,
    price_per_mwh: Decimal,
    delivery_start: datetime,
    delivery_end: datetime,
    kw: Decimal | None = None,
    members: list[tuple[Premise, Decimal]] | None = None,
    kind: str = MarketOrder.Kind.LIMIT,
    is_block: bool = False,
    auction: Auction | None = None,
    created_by=None,
    now: datetime | None = None,
) -> OrderOutcome:
    """Enter an order. A sell order names its resources (``members``: premise and kW; several for an
    aggregator's portfolio); its kW is their sum."""
    now = now or timezone.now()
    spec = _spec(product, market)
    members = members or []
    if side == MarketOrder.Side.SELL:
        kw = sum((Decimal(k) for _, k in members), Decimal("0"))
    if kw is None:
        raise ApplicationError("Give the kW.", fields={"kw": ["Required."]})
    kw, price_per_mwh = Decimal(kw), Decimal(price_per_mwh)
    _check_basics(kw, price_per_mwh, delivery_start, delivery_end)
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
        _check_rt_timing(spec=spec, start=delivery_start, end=delivery_end, now=now)
    if side == MarketOrder.Side.SELL:
        lock_premises(p.pk for p, _ in members)
        _check_seller(
            organisation=organisation,
            spec=spec,
            zone=zone,
            members=members,
            kw=kw,
            start=delivery_start,
            end=delivery_end,
        )
    else:
        if members:
            raise ApplicationError("A buy order names no resources.", fields={"members": ["Not for buy orders."]})
        _check_buyer(organisation=organisation, zone=zone, spec=spec)
    book = None
    if market == MarketType.REAL_TIME:
        book = _book_for(spec=spec, zone=zone, start=delivery_start, end=delivery_end)
        book = OrderBook.objects.select_for_update().get(pk=book.pk)
        if book.status != OrderBook.Status.OPEN or now >= book.gate_closure:
            raise GateClosed("Gate closure for this delivery interval has passed.")
    else:
        if auction is None:
            raise ApplicationError("Name the auction.", fields={"auction": ["Required for auction markets."]})
        auction = Auction.objects.select_for_update().get(pk=auction.pk)
        _check_auction(
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
    order = MarketOrder.objects.create(
        market=market,
        product=spec.code,
        side=side,
        kind=kind,
        organisation=organisation,
        zone=zone,
        auction=auction,
        book=book,
        is_block=is_block,
        kw=kw,
        remaining_kw=kw,
        price_per_mwh=price_per_mwh,
        delivery_start=delivery_start,
        delivery_end=delivery_end,
        priority_at=now,
        created_by=created_by,
    )
    OrderMember.objects.bulk_create(
        [OrderMember(order=order, premise=p, kw=Decimal(k), remaining_kw=Decimal(k)) for p, k in members]
    )
    outcome = OrderOutcome(order=order)
    if book is not None:
        outcome.trades = _match(book=book, order=order, now=now)
    return outcome


def _load_book(book: OrderBook, *, exclude: int | None = None) -> engine_book.OrderBook:
    engine = engine_book.OrderBook()
    resting = (
        MarketOrder.objects.filter(book=book, status=MarketOrder.Status.OPEN, remaining_kw__gt=0)
        .exclude(pk=exclude)
        .order_by("priority_at", "pk")
        .values_list("pk", "side", "price_per_mwh", "remaining_kw")
    )
    for pk, side, price, remaining in resting:
        side_i = engine_book.BUY if side == MarketOrder.Side.BUY else engine_book.SELL
        engine.add_resting(pk, side_i, price_to_ticks(price), kw_to_w(remaining))
    return engine


def _match(*, book: OrderBook, order: MarketOrder, now: datetime, result=None) -> list[Trade]:
    if result is None:
        engine = _load_book(book, exclude=order.pk)
        side = engine_book.BUY if order.side == MarketOrder.Side.BUY else engine_book.SELL
        result = engine.submit(
            order.pk, side, price_to_ticks(order.price_per_mwh), kw_to_w(order.remaining_kw), order.kind
        )
    if not result.fills and not result.killed_qty:
        return []  # rests in the book unchanged
    trades = _persist_fills(book=book, taker=order, fills=result.fills, now=now)
    order.refresh_from_db(fields=["remaining_kw", "status"])
    if result.killed_qty and order.status == MarketOrder.Status.OPEN:
        order.status = (
            MarketOrder.Status.KILLED if order.remaining_kw == order.kw else MarketOrder.Status.PARTIALLY_FILLED
        )
        order.remaining_kw = Decimal("0")
        order.save(update_fields=["status", "remaining_kw"])
        OrderMember.objects.filter(order=order).update(remaining_kw=Decimal("0"))
    return trades


def _persist_fills(*, book: OrderBook, taker: MarketOrder, fills, now: datetime) -> list[Trade]:
    if not fills:
        return []
    ids = {f.maker_id for f in fills} | {taker.pk}
    orders = {o.pk: o for o in MarketOrder.objects.filter(pk__in=ids)}
    trades: list[Trade] = []
    awards: list[Award] = []
    for f in fills:
        maker = orders[f.maker_id]
        taker_o = orders[taker.pk]
        buy, sell = (maker, taker_o) if maker.side == MarketOrder.Side.BUY else (taker_o, maker)
        kw = w_to_kw(f.qty)
        trade = Trade.objects.create(
            book=book, buy_order=buy, sell_order=sell, kw=kw, price_per_mwh=ticks_to_price(f.price), executed_at=now
        )
        trades.append(trade)
        for o in (buy, sell):
            o.remaining_kw -= kw
            o.status = MarketOrder.Status.FILLED if o.remaining_kw == 0 else o.status
        awards += _member_awards(
            sell=sell, buyer_id=buy.organisation_id, kw_w=f.qty, price=trade.price_per_mwh, trade=trade
        )
    for o in orders.values():
        o.save(update_fields=["remaining_kw", "status"])
    Award.objects.bulk_create(awards)
    _enqueue_activation(awards)
    return trades


def _member_awards(
    *,
    sell: MarketOrder,
    buyer_id: int,
    kw_w: int,
    price: Decimal,
    trade: Trade | None = None,
    clearing_run=None,
    start: datetime | None = None,
    end: datetime | None = None,
    consume: bool = True,
) -> list[Award]:
    """Disaggregate ``kw_w`` watts of a sell order to its members pro rata to their offered kW."""
    members = list(OrderMember.objects.filter(order=sell).select_related("premise").order_by("premise_id"))
    caps = [(m.pk, kw_to_w(m.kw), kw_to_w(m.remaining_kw if consume else m.kw)) for m in members]
    shares = pro_rata(kw_w, caps)
    out = []
    for m in members:
        w = shares.get(m.pk, 0)
        if not w:
            continue
        if consume:
            m.remaining_kw -= w_to_kw(w)
            m.save(update_fields=["remaining_kw"])
        out.append(
            Award(
                clearing_run=clearing_run,
                trade=trade,
                order=sell,
                premise_id=m.premise_id,
                seller_id=sell.organisation_id,
                buyer_id=buyer_id,
                kw=w_to_kw(w),
                clearing_price_per_mwh=price,
                window_start=start or sell.delivery_start,
                window_end=end or sell.delivery_end,
                market=sell.market,
                product=sell.product,
            )
        )
    return out


def _enqueue_activation(awards: list[Award]) -> None:
    if not awards:
        return
    from activation import tasks as activation_tasks

    keys = [(a.trade_id, a.clearing_run_id, a.order_id, a.premise_id, a.window_start) for a in awards]

    def enqueue():
        for trade_id, run_id, order_id, premise_id, start in keys:
            award = Award.objects.filter(
                trade_id=trade_id, clearing_run_id=run_id, order_id=order_id, premise_id=premise_id, window_start=start
            ).first()
            if award is not None:
                activation_tasks.create_event_for_award.delay(award.pk)

    transaction.on_commit(enqueue)


def _locked_order(order_id: int, by: Organisation) -> tuple[MarketOrder, OrderBook | None, Auction | None]:
    order = MarketOrder.objects.get(pk=order_id)
    # Lock order: container (book or auction) first, then the order: the same order order_submit takes.
    book = OrderBook.objects.select_for_update().get(pk=order.book_id) if order.book_id else None
    auction = Auction.objects.select_for_update().get(pk=order.auction_id) if order.auction_id else None
    order = MarketOrder.objects.select_for_update().get(pk=order_id)
    if order.organisation_id != by.pk:
        raise NotPermitted("Only the order's owner may change it.")
    if order.status != MarketOrder.Status.OPEN:
        raise ApplicationError(f"An order that is {order.status} cannot be changed.", code="invalid_state")
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
    order, book, _ = _locked_order(order_id, by)
    if book is None:
        raise ApplicationError(
            "Only continuous-market orders are modified; cancel and re-enter an auction order.", code="invalid_state"
        )
    if book.status != OrderBook.Status.OPEN or now >= book.gate_closure:
        raise GateClosed("Gate closure for this delivery interval has passed.")
    kw, price_per_mwh = Decimal(kw), Decimal(price_per_mwh)
    _check_basics(kw, price_per_mwh, order.delivery_start, order.delivery_end)
    filled = order.kw - order.remaining_kw
    members = list(OrderMember.objects.filter(order=order).select_related("premise").order_by("premise_id"))
    if order.side == MarketOrder.Side.SELL:
        shares = pro_rata(kw_to_w(kw), [(m.pk, kw_to_w(m.kw), kw_to_w(kw)) for m in members])
        spec = PRODUCTS[order.product]
        if filled + kw < spec.min_size_kw:
            raise ApplicationError(
                f"At least {spec.min_size_kw} kW.", code="below_minimum_size", fields={"kw": ["Too small."]}
            )
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
    engine = _load_book(book)
    result = engine.modify(order.pk, price_to_ticks(price_per_mwh), kw_to_w(kw))
    keeps_priority = price_per_mwh == order.price_per_mwh and kw <= order.remaining_kw
    order.kw, order.remaining_kw, order.price_per_mwh = filled + kw, kw, price_per_mwh
    if not keeps_priority:
        order.priority_at = now
    order.save(update_fields=["kw", "remaining_kw", "price_per_mwh", "priority_at"])
    for m in members:
        new = w_to_kw(shares.get(m.pk, 0)) if order.side == MarketOrder.Side.SELL else Decimal("0")
        m.kw, m.remaining_kw = (m.kw - m.remaining_kw) + new, new
        if m.kw > 0:
            m.save(update_fields=["kw", "remaining_kw"])
    return OrderOutcome(order=order, trades=_match(book=book, order=order, now=now, result=result))


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
