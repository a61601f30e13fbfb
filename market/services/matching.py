"""Continuous matching in the real-time books: the book row, the crossing resting orders, the pure engine's fills
applied to the orders' state, and trades and awards written in bulk.

Only the opposite side's orders that cross the incoming price are read (one indexed query, price-time order, with
their members) and put in the pure engine (``market.engine.book``); the new order is then inserted with its final
state, and trades, awards and the makers' updates are written in bulk (docs/adr/0007-market-engine.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from accounts.models import GridZone, Premise
from flexplatform import inserts

from ..engine import book as engine_book
from ..engine import kw_to_w, price_to_ticks, ticks_to_price, w_to_kw
from ..engine.products import ProductSpec
from ..models import Award, MarketOrder, OrderBook, OrderMember, Trade
from . import order_queries
from .awards import Member, awards_announce, member_shares

#: crossing orders read per query; more only when these do not cover the incoming order.
CROSSING_BATCH = 50


@dataclass
class OrderOutcome:
    order: MarketOrder
    trades: list[Trade] = field(default_factory=list)
    #: the order's members as written (a new order's: no query needed to show them)
    members: list[OrderMember] | None = None


def locked_book(*, spec: ProductSpec, zone: GridZone, start: datetime, end: datetime) -> OrderBook:
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


def by_premise(member: tuple[Premise, Decimal]) -> int:
    return member[0].pk


@dataclass
class OrderState:
    """One order's state while fills are applied to it (a resting maker or the incoming taker)."""

    pk: int
    side: str
    organisation_id: int
    kw: Decimal
    remaining: Decimal
    status: str = MarketOrder.Status.OPEN
    members: list[Member] = field(default_factory=list)
    price: Decimal = Decimal("0")


@dataclass
class Fill:
    maker: OrderState
    buy: OrderState
    sell: OrderState
    kw: Decimal
    price: Decimal
    shares: list[tuple[Member, Decimal]]


def engine_side(side: str) -> int:
    return engine_book.BUY if side == MarketOrder.Side.BUY else engine_book.SELL


def crossing_makers(book: OrderBook, *, side: str, price: Decimal, need: Decimal) -> list[OrderState]:
    """The resting orders on the other side of ``side`` that cross ``price``, best first (price, then staking
    tier, then time, then id), with their members: one query, widened only if the first ``CROSSING_BATCH`` rows do not cover ``need``.
    Under the book's lock nothing else changes them."""
    rows = order_queries.crossing_rows(book_id=book.pk, incoming_side=side, price=price, limit=CROSSING_BATCH)
    if len(rows) == CROSSING_BATCH:
        last = rows[-1][0]
        complete = [r for r in rows if r[0] != last]  # the last order's members may be cut off
        if sum({r[0]: r[4] for r in complete}.values(), Decimal("0")) >= need:
            rows = complete
        else:
            rows = order_queries.crossing_rows(book_id=book.pk, incoming_side=side, price=price, limit=None)
    return order_states(rows)


ORDER_STATE_COLUMNS = (
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


def order_states(rows) -> list[OrderState]:
    """Orders with their members from rows of ``ORDER_STATE_COLUMNS`` (one row per member), in row order."""
    out: dict[int, OrderState] = {}
    for pk, side, org_id, kw, remaining, status, price, m_pk, m_premise, m_kw, m_remaining in rows:
        order = out.get(pk)
        if order is None:
            order = out[pk] = OrderState(pk, side, org_id, kw, remaining, status, price=price)
        if m_pk is not None:
            order.members.append(Member(m_pk, m_premise, m_kw, m_remaining, pk=m_pk))
    return list(out.values())


def fills_apply(taker: OrderState, fills, makers: dict[int, OrderState]) -> list[Fill]:
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
        out.append(Fill(maker, buy, sell, kw, ticks_to_price(f.price), member_shares(sell.members, f.qty)))
    return out


def continuous_enter(
    *, book: OrderBook, fields: dict, members: list[tuple[Premise, Decimal]], now: datetime
) -> OrderOutcome:
    """Match the incoming order against the crossing part of the book, then write it with its final state."""
    side, kind, kw = fields["side"], fields["kind"], fields["kw"]
    makers = crossing_makers(book, side=side, price=fields["price_per_mwh"], need=kw)
    engine = engine_book.OrderBook()
    for m in makers:
        engine.add_resting(m.pk, engine_side(m.side), price_to_ticks(m.price), kw_to_w(m.remaining))
    result = engine.submit(0, engine_side(side), price_to_ticks(fields["price_per_mwh"]), kw_to_w(kw), kind)
    taker = OrderState(
        0,
        side,
        fields["organisation"].pk,
        kw,
        kw,
        members=[Member(p.pk, p.pk, k, k) for p, k in sorted(members, key=by_premise)],
    )
    fills = fills_apply(taker, result.fills, {m.pk: m for m in makers})
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
    trades = fills_write(book=book, taker=order, fills=fills, now=now)
    return OrderOutcome(order=order, trades=trades, members=rows)


def fills_write(*, book: OrderBook, taker: MarketOrder, fills: list[Fill], now: datetime) -> list[Trade]:
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
    awards_announce(awards)
    return trades


def book_load(book: OrderBook, *, exclude: int | None = None) -> engine_book.OrderBook:
    """The whole open book in the pure engine (order modification; entry reads only the crossing orders)."""
    engine = engine_book.OrderBook()
    resting = (
        MarketOrder.objects.filter(book=book, status=MarketOrder.Status.OPEN, remaining_kw__gt=0)
        .exclude(pk=exclude)
        .order_by("priority_at", "pk")
        .values_list("pk", "side", "price_per_mwh", "remaining_kw", "tier")
    )
    for pk, side, price, remaining, tier in resting:
        engine.add_resting(pk, engine_side(side), price_to_ticks(price), kw_to_w(remaining), tier)
    return engine
