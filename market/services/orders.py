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
  lock; trades become awards per member resource at the maker's price. Only the opposite side's orders that
  cross the incoming price are read (one indexed query, price-time order, with their members) and put in the
  pure engine; the new order is then inserted with its final state, and trades, awards and the makers'
  updates are written in bulk (docs/adr/0007-market-engine.md).
* The governed parameter ``minimum_offer_kw`` (``settlement.selectors.market_parameter``) is a floor on every
  sell order's kW besides the product's own minimum size.
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
    ZoneIndex,
    premise_offer_refusals,
    wholesale_aggregation_refusal,
)
from flexplatform import inserts, transactions
from flexplatform.errors import ApplicationError, Conflict, NotPermitted

from ..engine import book as engine_book
from ..engine import kw_to_w, price_to_ticks, ticks_to_price, w_to_kw
from ..engine.allocation import pro_rata
from ..engine.products import PRODUCTS, MarketType, ProductSpec
from ..models import Auction, Award, MarketOrder, OrderBook, OrderMember, ResourceQualification, Trade
from . import eligibility, order_queries
from .capacity import check_capacity, lock_premises

#: crossing orders read per query; more only when these do not cover the incoming order.
CROSSING_BATCH = 50

RT_INTERVALS = (5, 15)


class GateClosed(Conflict):
    code = "gate_closed"


@dataclass
class OrderOutcome:
    order: MarketOrder
    trades: list[Trade] = field(default_factory=list)
    #: the order's members as written (a new order's: no query needed to show them)
    members: list[OrderMember] | None = None


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


def minimum_sell_kw(spec: ProductSpec, *, parameters: dict | None = None) -> tuple[Decimal, str]:
    """The smallest sell order of a product: its own minimum size or the governed ``minimum_offer_kw``,
    whichever is larger, and a sentence saying which rule it is. ``parameters``: the governed parameters when
    the caller has them."""
    from settlement.selectors import market_parameter

    governed = parameters["minimum_offer_kw"] if parameters is not None else market_parameter("minimum_offer_kw")
    if governed > spec.min_size_kw:
        return governed, f"the market's minimum offer (governed parameter minimum_offer_kw) is {governed} kW"
    return spec.min_size_kw, f"{spec.label} needs at least {spec.min_size_kw} kW per order"


def _check_minimum(spec: ProductSpec, kw: Decimal, *, parameters: dict | None = None) -> None:
    minimum, rule = minimum_sell_kw(spec, parameters=parameters)
    if kw < minimum:
        raise ApplicationError(
            f"{rule[0].upper()}{rule[1:]}; pool resources in a portfolio offer.",
            code="below_minimum_size",
            fields={"kw": [f"At least {minimum} kW."]},
        )


def _lock_offerable(organisation: Organisation, ids: list[int], facts: eligibility.OrderFacts) -> dict[int, Premise]:
    """Lock the member premises (pk order) in one query, if the seller may offer them all
    (``premises_offerable_by``: consent, enrolment, owner's verification, validated meter; as the process's
    copy in ``facts`` has it); refuse the others with the reasons."""
    offerable = facts.organisation.offerable
    allowed = [pid for pid in ids if pid in offerable and facts.profiles[pid].meter_validated]
    found = {}
    if len(allowed) == len(ids):
        found = {p.pk: p for p in order_queries.premises_lock(ids)}
    missing = set(ids) - set(found)
    if missing:
        known = list(Premise.objects.filter(pk__in=missing).order_by("pk"))
        unknown = sorted(missing - {p.pk for p in known})
        if unknown:
            raise ApplicationError(
                f"Unknown premises {unknown}.", fields={"members": [f"Unknown premises: {unknown}."]}
            )
        refusals = premise_offer_refusals(organisation, known)
        reasons = [r for rs in refusals.values() for r in rs]
        raise NotPermitted(
            "This seller may not offer these premises: " + " ".join(reasons),
            fields={"members": [f"Not yours to offer: {sorted(missing)}.", *reasons]},
        )
    return found


def _check_seller(
    *,
    organisation: Organisation,
    spec: ProductSpec,
    facts: eligibility.OrderFacts,
    zone: GridZone,
    members: list[tuple[int, Decimal]],
    kw: Decimal,
    start: datetime,
    end: datetime,
) -> list[tuple[Premise, Decimal]]:
    """Every seller rule; locks the member premises and returns them with their kW."""
    zones = facts.zones
    status = facts.organisation.trading
    if not status.allowed:
        raise NotPermitted("This participant may not trade: " + " ".join(status.reasons), code="trading_suspended")
    if not members:
        raise ApplicationError("A sell order needs at least one resource.", fields={"members": ["Give a premise."]})
    ids = [pid for pid, _ in members]
    if len(set(ids)) != len(ids):
        raise ApplicationError("A premise appears twice.", fields={"members": ["Each premise once."]})
    premises = _lock_offerable(organisation, ids, facts)
    if not spec.locational_only:  # wholesale: FERC Order 2222 minimum aggregation size in the ISO
        too_small = wholesale_aggregation_refusal(organisation=organisation, zone=zone, start=start, end=end, first=ids)
        if too_small:
            raise ApplicationError(
                f"{spec.label}: {too_small}", code="below_minimum_aggregation", fields={"members": [too_small]}
            )
    inside = zones.with_descendant_ids([zone.pk])
    outside = [pid for pid in ids if premises[pid].grid_zone_id not in inside]
    if outside:
        raise ApplicationError(
            f"Premises {outside} are not in zone {zone.code} or below it.",
            code="wrong_location",
            fields={"zone": [f"Premises {outside} are outside this zone."]},
        )
    if any(m_kw <= 0 for _, m_kw in members):
        raise ApplicationError("Every member offers a positive kW.", fields={"members": ["kW must be positive."]})
    _check_minimum(spec, kw, parameters=facts.parameters)
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
    out = []
    for pid, m_kw in members:
        check_capacity(premise=premises[pid], start=start, end=end, kw=m_kw, profile=facts.profiles[pid])
        out.append((premises[pid], m_kw))
    return out


def _check_buyer(
    *, organisation: Organisation, facts: eligibility.OrderFacts, zone: GridZone, spec: ProductSpec
) -> None:
    if organisation.kind != Organisation.Kind.GRID_OPERATOR:
        raise NotPermitted("Only grid operators buy flexibility.")
    if spec.locational_only and zone.kind == GridZone.Kind.ISO_ZONE:
        raise ApplicationError(
            f"{spec.label} is bought for a location in the distribution grid: a substation or feeder.",
            code="not_locational",
            fields={"zone": ["Name a substation or feeder, not an ISO zone."]},
        )
    if zone.pk not in facts.organisation.served_zone_ids:
        raise NotPermitted(f"Zone {zone.code} is outside the operator's service area.", fields={"zone": ["Not yours."]})


def _zone(zones: ZoneIndex, zone: GridZone | str) -> GridZone:
    code = zone if isinstance(zone, str) else zone.code
    found = zones.by_code.get(code)
    if found is None:
        raise ApplicationError(f"Unknown zone {code!r}.", fields={"zone": [f"Unknown zone {code!r}."]})
    return found


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


def _locked_book(*, spec: ProductSpec, zone: GridZone, start: datetime, end: datetime) -> OrderBook:
    """The interval's book, locked (one statement once it exists): its lock serialises matching in the book."""
    found = order_queries.book_lock(product=spec.code, zone_id=zone.pk, start=start, end=end)
    if found is None:
        gate = start - timedelta(minutes=spec.gate_closure_minutes)
        # INSERT … ON CONFLICT DO NOTHING: a concurrent first order for the same book is waited for, not an error.
        OrderBook.objects.bulk_create(
            [OrderBook(product=spec.code, zone=zone, delivery_start=start, delivery_end=end, gate_closure=gate)],
            ignore_conflicts=True,
        )
        found = order_queries.book_lock(product=spec.code, zone_id=zone.pk, start=start, end=end)
    pk, status, gate_closure = found
    return OrderBook(
        pk=pk,
        product=spec.code,
        zone=zone,
        delivery_start=start,
        delivery_end=end,
        gate_closure=gate_closure,
        status=status,
    )


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
    created_by=None,
    now: datetime | None = None,
) -> OrderOutcome:
    """Enter an order. A sell order names its resources (``members``: premise or premise id, and kW; several
    for an aggregator's portfolio); its kW is their sum. ``zone`` is a zone or its code."""
    now = now or timezone.now()
    spec = _spec(product, market)
    member_kw = [(getattr(p, "pk", p), Decimal(k)) for p, k in members or []]
    if side == MarketOrder.Side.SELL:
        kw = sum((k for _, k in member_kw), Decimal("0"))
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
    member_ids = list(dict.fromkeys(pid for pid, _ in member_kw)) if side == MarketOrder.Side.SELL else []
    facts = eligibility.order_facts(organisation=organisation, premise_ids=member_ids)
    zone = _zone(facts.zones, zone)
    if side == MarketOrder.Side.SELL:
        checked = _check_seller(
            organisation=organisation,
            spec=spec,
            facts=facts,
            zone=zone,
            members=member_kw,
            kw=kw,
            start=delivery_start,
            end=delivery_end,
        )
    else:
        if member_kw:
            raise ApplicationError("A buy order names no resources.", fields={"members": ["Not for buy orders."]})
        _check_buyer(organisation=organisation, facts=facts, zone=zone, spec=spec)
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
        created_by=created_by,
    )
    if market == MarketType.REAL_TIME:
        book = _locked_book(spec=spec, zone=zone, start=delivery_start, end=delivery_end)
        if book.status != OrderBook.Status.OPEN or now >= book.gate_closure:
            raise GateClosed("Gate closure for this delivery interval has passed.")
        return _enter_continuous(book=book, fields=fields, members=checked, now=now)
    if auction is None:
        raise ApplicationError("Name the auction.", fields={"auction": ["Required for auction markets."]})
    auction = Auction.objects.select_for_update().filter(pk=getattr(auction, "pk", auction)).first()
    if auction is None:
        raise ApplicationError("Unknown auction.", fields={"auction": ["Unknown auction."]})
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
            for p, k in sorted(checked, key=_by_premise)
        ]
    )
    return OrderOutcome(order=order, members=rows)


def _by_premise(member: tuple[Premise, Decimal]) -> int:
    return member[0].pk


# -- continuous matching --------------------------------------------------------------------------------------


@dataclass
class _Member:
    key: int  # tie-break id for the pro-rata split: the OrderMember pk (a new order's: its premise id)
    premise_id: int
    kw: Decimal
    remaining: Decimal
    pk: int | None = None


@dataclass
class _Side:
    """One order's state while fills are applied to it (a resting maker or the incoming taker)."""

    pk: int
    side: str
    organisation_id: int
    kw: Decimal
    remaining: Decimal
    status: str = MarketOrder.Status.OPEN
    members: list[_Member] = field(default_factory=list)
    price: Decimal = Decimal("0")


@dataclass
class _Fill:
    maker: _Side
    buy: _Side
    sell: _Side
    kw: Decimal
    price: Decimal
    shares: list[tuple[_Member, Decimal]]


def _engine_side(side: str) -> int:
    return engine_book.BUY if side == MarketOrder.Side.BUY else engine_book.SELL


def _makers(book: OrderBook, *, side: str, price: Decimal, need: Decimal) -> list[_Side]:
    """The resting orders on the other side of ``side`` that cross ``price``, best first (price, then time, then
    id), with their members: one query, widened only if the first ``CROSSING_BATCH`` rows do not cover ``need``.
    Under the book's lock nothing else changes them."""
    rows = order_queries.crossing_rows(book_id=book.pk, incoming_side=side, price=price, limit=CROSSING_BATCH)
    if len(rows) == CROSSING_BATCH:
        last = rows[-1][0]
        complete = [r for r in rows if r[0] != last]  # the last order's members may be cut off
        if sum({r[0]: r[4] for r in complete}.values(), Decimal("0")) >= need:
            rows = complete
        else:
            rows = order_queries.crossing_rows(book_id=book.pk, incoming_side=side, price=price, limit=None)
    return _sides(rows)


_SIDE_COLUMNS = (
    "pk",
    "side",
    "organisation_id",
    "kw",
    "remaining_kw",
    "status",
    "price_per_mwh",
    "members__pk",
    "members__premise_id",
    "members__kw",
    "members__remaining_kw",
)


def _sides(rows) -> list[_Side]:
    """Orders with their members from rows of ``_SIDE_COLUMNS`` (one row per member), in row order."""
    out: dict[int, _Side] = {}
    for pk, side, org_id, kw, remaining, status, price, m_pk, m_premise, m_kw, m_remaining in rows:
        order = out.get(pk)
        if order is None:
            order = out[pk] = _Side(pk, side, org_id, kw, remaining, status, price=price)
        if m_pk is not None:
            order.members.append(_Member(m_pk, m_premise, m_kw, m_remaining, pk=m_pk))
    return list(out.values())


def _apply_fills(taker: _Side, fills, makers: dict[int, _Side]) -> list[_Fill]:
    """Apply engine fills to the orders' state: remaining kW and status of both sides, and each fill split over
    the sell order's members pro rata to their offered kW (``market.engine.allocation``)."""
    out = []
    for f in fills:
        maker = makers[f.maker_id]
        kw = w_to_kw(f.qty)
        buy, sell = (maker, taker) if maker.side == MarketOrder.Side.BUY else (taker, maker)
        for o in (buy, sell):
            o.remaining -= kw
            if o.remaining == 0:
                o.status = MarketOrder.Status.FILLED
        out.append(_Fill(maker, buy, sell, kw, ticks_to_price(f.price), member_shares(sell.members, f.qty)))
    return out


def member_shares(members: list[_Member], watts: int) -> list[tuple[_Member, Decimal]]:
    """The one rule that splits what a sell order sold (a continuous fill, or an auction's accepted kW in one
    interval) over its members: pro rata to their offered kW, capped at what each still has open, largest
    remainder in integer watts, ties to the lower ``key`` (``market.engine.allocation.pro_rata``). Each member's
    ``remaining`` is reduced by its share. Returns (member, kW) for the members with a share, in ``members``'
    order."""
    split = pro_rata(watts, [(m.key, kw_to_w(m.kw), kw_to_w(m.remaining)) for m in members])
    shares = []
    for m in members:
        w = split.get(m.key, 0)
        if w:
            m.remaining -= w_to_kw(w)
            shares.append((m, w_to_kw(w)))
    return shares


def _enter_continuous(
    *, book: OrderBook, fields: dict, members: list[tuple[Premise, Decimal]], now: datetime
) -> OrderOutcome:
    """Match the incoming order against the crossing part of the book, then write it with its final state."""
    side, kind, kw = fields["side"], fields["kind"], fields["kw"]
    makers = _makers(book, side=side, price=fields["price_per_mwh"], need=kw)
    engine = engine_book.OrderBook()
    for m in makers:
        engine.add_resting(m.pk, _engine_side(m.side), price_to_ticks(m.price), kw_to_w(m.remaining))
    result = engine.submit(0, _engine_side(side), price_to_ticks(fields["price_per_mwh"]), kw_to_w(kw), kind)
    taker = _Side(
        0,
        side,
        fields["organisation"].pk,
        kw,
        kw,
        members=[_Member(p.pk, p.pk, k, k) for p, k in sorted(members, key=_by_premise)],
    )
    fills = _apply_fills(taker, result.fills, {m.pk: m for m in makers})
    if result.killed_qty and taker.status == MarketOrder.Status.OPEN:
        taker.status = MarketOrder.Status.KILLED if taker.remaining == kw else MarketOrder.Status.PARTIALLY_FILLED
        taker.remaining = Decimal("0")
        for m in taker.members:
            m.remaining = Decimal("0")
    order = MarketOrder(book=book, remaining_kw=taker.remaining, status=taker.status, **fields)
    rows = [
        OrderMember(
            premise_id=m.premise_id,
            kw=m.kw,
            remaining_kw=m.remaining,
            delivery_start=order.delivery_start,
            delivery_end=order.delivery_end,
        )
        for m in taker.members
    ]
    inserts.insert_with_children(order, rows, fk="order", match_on="premise")  # one statement on PostgreSQL
    taker.pk = order.pk
    trades = _write_fills(book=book, taker=order, fills=fills, now=now)
    return OrderOutcome(order=order, trades=trades, members=rows)


def _write_fills(*, book: OrderBook, taker: MarketOrder, fills: list[_Fill], now: datetime) -> list[Trade]:
    """Trades, awards per sell member, and the makers' new state, in bulk. The taker is written by the caller."""
    if not fills:
        return []
    trades = [
        Trade(
            book=book, buy_order_id=f.buy.pk, sell_order_id=f.sell.pk, kw=f.kw, price_per_mwh=f.price, executed_at=now
        )
        for f in fills
    ]
    inserts.insert(trades)  # the awards need the trades' ids
    awards = [
        Award(
            trade=trade,
            order_id=f.sell.pk,
            premise_id=m.premise_id,
            seller_id=f.sell.organisation_id,
            buyer_id=f.buy.organisation_id,
            kw=share,
            clearing_price_per_mwh=f.price,
            window_start=taker.delivery_start,
            window_end=taker.delivery_end,
            market=taker.market,
            product=taker.product,
        )
        for trade, f in zip(trades, fills, strict=True)
        for m, share in f.shares
    ]
    inserts.insert(awards)
    makers = {f.maker.pk: f.maker for f in fills}
    order_queries.resting_update(
        orders=[(m.pk, m.remaining, m.status) for m in makers.values()],
        members=[(m.pk, m.remaining) for maker in makers.values() for m in maker.members if m.pk is not None],
    )
    _enqueue_activation(awards)
    return trades


def _load_book(book: OrderBook, *, exclude: int | None = None) -> engine_book.OrderBook:
    """The whole open book in the pure engine (order modification; entry reads only the crossing orders)."""
    engine = engine_book.OrderBook()
    resting = (
        MarketOrder.objects.filter(book=book, status=MarketOrder.Status.OPEN, remaining_kw__gt=0)
        .exclude(pk=exclude)
        .order_by("priority_at", "pk")
        .values_list("pk", "side", "price_per_mwh", "remaining_kw")
    )
    for pk, side, price, remaining in resting:
        engine.add_resting(pk, _engine_side(side), price_to_ticks(price), kw_to_w(remaining))
    return engine


def _enqueue_activation(awards: list[Award]) -> None:
    """Once committed, each scheduled award becomes an activation event (a Celery task per award id)."""
    if not awards:
        return
    from activation import tasks as activation_tasks

    ids = [a.pk for a in awards if a.pk is not None]
    keys = [(a.trade_id, a.clearing_run_id, a.order_id, a.premise_id, a.window_start) for a in awards if a.pk is None]

    def enqueue():
        for trade_id, run_id, order_id, premise_id, start in keys:  # a backend that returns no ids from bulk inserts
            award = Award.objects.filter(
                trade_id=trade_id, clearing_run_id=run_id, order_id=order_id, premise_id=premise_id, window_start=start
            ).first()
            if award is not None:
                ids.append(award.pk)
        for pk in ids:
            activation_tasks.create_event_for_award.delay(pk)

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
    shares: dict[int, int] = {}
    if order.side == MarketOrder.Side.SELL:
        shares = pro_rata(kw_to_w(kw), [(m.pk, kw_to_w(m.kw), kw_to_w(kw)) for m in members])
        _check_minimum(PRODUCTS[order.product], filled + kw)
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
    for m in members:
        new = w_to_kw(shares.get(m.pk, 0))
        m.kw, m.remaining_kw = (m.kw - m.remaining_kw) + new, new
    kept = [m for m in members if m.kw > 0]
    taker = _Side(
        order.pk,
        order.side,
        order.organisation_id,
        order.kw,
        order.remaining_kw,
        members=[_Member(m.pk, m.premise_id, m.kw, m.remaining_kw, pk=m.pk) for m in kept],
    )
    maker_ids = sorted({f.maker_id for f in result.fills})
    makers = _sides(MarketOrder.objects.filter(pk__in=maker_ids).order_by("pk").values_list(*_SIDE_COLUMNS))
    fills = _apply_fills(taker, result.fills, {m.pk: m for m in makers})
    order.remaining_kw, order.status = taker.remaining, taker.status
    order.save(update_fields=["kw", "remaining_kw", "price_per_mwh", "priority_at", "status"])
    for m, state in zip(kept, taker.members, strict=True):
        m.remaining_kw = state.remaining
    if kept:
        OrderMember.objects.bulk_update(kept, ["kw", "remaining_kw"])
    trades = _write_fills(book=book, taker=order, fills=fills, now=now)
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
