"""The continuous book reads the crossing orders in batches (``matching.CROSSING_BATCH`` rows, one per maker
member) and widens the read when a batch does not cover the incoming order: nothing is lost at the cut."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from market.models import Award, MarketOrder, OrderMember
from market.services import matching
from market.services.orders import order_submit

from .factories import DAY, one_owner

S = DAY + timedelta(hours=17)
E = S + timedelta(minutes=15)
ONE = Decimal("1")


def _sell(mw, org, premises, price, *, now):
    return order_submit(
        organisation=org,
        market="real_time",
        product="congestion",
        side="sell",
        zone=mw.sub1,
        members=[(p, ONE) for p in premises],
        price_per_mwh=Decimal(price),
        delivery_start=S,
        delivery_end=E,
        now=now,
    ).order


def _buy(mw, kw, kind="limit"):
    return order_submit(
        organisation=mw.operator,
        market="real_time",
        product="congestion",
        side="buy",
        zone=mw.sub1,
        kw=Decimal(kw),
        price_per_mwh=Decimal("500"),
        delivery_start=S,
        delivery_end=E,
        kind=kind,
        now=mw.now + timedelta(hours=1),
    )


def _crossing_reads(queries) -> list[str]:
    """The reads of the book's crossing orders with their members (``matching.crossing_makers``)."""
    return [
        q["sql"]
        for q in queries
        if q["sql"].startswith("SELECT")
        and "FROM market_marketorder o LEFT JOIN market_ordermember m" in q["sql"]
        and "o.book_id" in q["sql"]
    ]


def test_a_buy_needing_more_than_a_batch_of_maker_rows_trades_in_full_in_price_time_order(mw):
    assert matching.CROSSING_BATCH == 50
    org, premises = one_owner(mw, (0, 4, 5))  # all under sub-east-1
    n = 20  # 20 sell orders x 3 members = 60 maker rows; the first 50 hold 16 whole orders (48 kW)
    sells = []
    for i in range(n):
        # prices on five levels; within a level the later order (higher pk) has the earlier time priority
        sells.append(_sell(mw, org, premises, 50 + (i * 3) % 5, now=mw.now + timedelta(seconds=n - i)))
    with CaptureQueriesContext(connection) as ctx:
        out = _buy(mw, 3 * n, kind="fak")
    assert out.order.status == MarketOrder.Status.FILLED and sum(t.kw for t in out.trades) == 3 * n
    # the first read was the batch, cut; the second the widened one
    reads = _crossing_reads(ctx.captured_queries)
    assert len(reads) == 2 and "LIMIT 50" in reads[0] and "LIMIT" not in reads[1]
    expected = sorted(sells, key=lambda o: (o.price_per_mwh, o.priority_at, o.pk))
    assert [t.sell_order_id for t in out.trades] == [o.pk for o in expected]
    assert [t.price_per_mwh for t in out.trades] == [o.price_per_mwh for o in expected]
    awards = Award.objects.filter(trade__in=out.trades)
    assert sorted(awards.values_list("order_id", "premise_id", "kw")) == sorted(
        (o.pk, p.pk, ONE) for o in sells for p in premises
    )
    assert set(MarketOrder.objects.filter(side="sell").values_list("status", "remaining_kw")) == {
        (MarketOrder.Status.FILLED, Decimal("0"))
    }
    assert set(OrderMember.objects.values_list("remaining_kw", flat=True)) == {Decimal("0")}


def test_a_cut_inside_a_multi_member_maker_loses_no_member(mw, monkeypatch):
    monkeypatch.setattr(matching, "CROSSING_BATCH", 5)
    org, premises = one_owner(mw, (0, 4, 5))  # all under sub-east-1
    a, b, c = (_sell(mw, org, premises, price, now=mw.now) for price in ("10", "20", "30"))
    # 5 rows: a's three members and two of b's; a (3 kW) does not cover 5 kW: the read is widened and b's
    # third member, cut off in the batch, gets its share.
    with CaptureQueriesContext(connection) as ctx:
        first = _buy(mw, "5")
    assert len(_crossing_reads(ctx.captured_queries)) == 2
    assert [(t.sell_order_id, t.kw) for t in first.trades] == [(a.pk, Decimal("3")), (b.pk, Decimal("2"))]
    of_b = dict(Award.objects.filter(trade__in=first.trades, order=b).values_list("premise_id", "kw"))
    thirds = [Decimal("0.667"), Decimal("0.667"), Decimal("0.666")]  # 2000 W over three 1 kW members
    assert of_b == {p.pk: kw for p, kw in zip(premises, thirds, strict=True)}
    assert Award.objects.filter(trade__in=first.trades, order=a).count() == 3
    # b's whole (1 kW left) covers the next 1 kW: the batch minus c's cut members is enough, c is not read whole
    with CaptureQueriesContext(connection) as ctx:
        second = _buy(mw, "1")
    assert len(_crossing_reads(ctx.captured_queries)) == 1
    assert [(t.sell_order_id, t.kw) for t in second.trades] == [(b.pk, ONE)]
    assert dict(OrderMember.objects.filter(order=b).values_list("premise_id", "remaining_kw")) == {
        p.pk: Decimal("0") for p in premises
    }
    assert MarketOrder.objects.get(pk=b.pk).status == MarketOrder.Status.FILLED
    assert MarketOrder.objects.get(pk=c.pk).remaining_kw == Decimal("3")
