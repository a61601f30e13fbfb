"""Races on real PostgreSQL: parallel transactions in threads, each with its own connection."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.utils import timezone

from flexplatform.errors import ApplicationError
from market import tasks
from market.models import Auction, Award, MarketOrder, Trade
from market.services import auctions as auction_services
from market.services.auctions import auction_open
from market.services.orders import order_submit

from .factories import DAY

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
S = DAY + timedelta(hours=10)


def run_parallel(fns):
    barrier = threading.Barrier(len(fns))
    results: list = [None] * len(fns)

    def wrap(i, fn):
        try:
            barrier.wait()
            results[i] = fn()
        except Exception as exc:  # noqa: BLE001 - the refusal is the result under test
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=wrap, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_a_resource_is_never_sold_twice_by_parallel_orders_in_two_markets(mw):
    assert connection.vendor == "postgresql"
    p5 = mw.premise(5)  # 80 kW accredited
    a = auction_open(
        operator=mw.operator,
        market="day_ahead",
        product="congestion",
        zone=mw.sub1,
        delivery_start=DAY,
        delivery_end=DAY + timedelta(days=1),
        interval_minutes=60,
        gate_closure=DAY - timedelta(hours=12),
    )

    def rt():
        return order_submit(
            organisation=p5.organisation,
            market="real_time",
            product="congestion",
            side="sell",
            zone=mw.sub1,
            members=[(p5, Decimal("60"))],
            price_per_mwh=Decimal("10"),
            delivery_start=S,
            delivery_end=S + timedelta(minutes=15),
            now=mw.now,
        )

    def da():
        return order_submit(
            organisation=p5.organisation,
            market="day_ahead",
            product="congestion",
            side="sell",
            zone=mw.sub1,
            members=[(p5, Decimal("60"))],
            price_per_mwh=Decimal("10"),
            delivery_start=S,
            delivery_end=S + timedelta(hours=1),
            auction=a,
            now=mw.now,
        )

    results = run_parallel([rt, da, rt, da])
    ok = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, ApplicationError)]
    assert len(ok) == 1 and len(refused) == 3, results
    assert all(r.code == "over_capacity" for r in refused)
    assert MarketOrder.objects.filter(side="sell").count() == 1


def test_parallel_buyers_never_fill_a_sell_order_twice(mw):
    p5 = mw.premise(5)
    end = S + timedelta(minutes=15)
    order_submit(
        organisation=p5.organisation,
        market="real_time",
        product="congestion",
        side="sell",
        zone=mw.sub1,
        members=[(p5, Decimal("70"))],
        price_per_mwh=Decimal("10"),
        delivery_start=S,
        delivery_end=end,
        now=mw.now,
    )

    def buyer():
        return order_submit(
            organisation=mw.operator,
            market="real_time",
            product="congestion",
            side="buy",
            zone=mw.sub1,
            kw=Decimal("20"),
            price_per_mwh=Decimal("50"),
            delivery_start=S,
            delivery_end=end,
            kind="fak",
            now=mw.now,
        )

    results = run_parallel([buyer] * 6)
    assert not [r for r in results if isinstance(r, Exception)], results
    traded = sum(Trade.objects.values_list("kw", flat=True))
    assert traded == Decimal("70.000")
    assert sum(Award.objects.values_list("kw", flat=True)) == Decimal("70.000")
    assert MarketOrder.objects.get(side="sell").remaining_kw == 0


def test_orders_arriving_during_a_clearing_run_are_never_lost_or_double_awarded(mw, monkeypatch):
    a = auction_open(
        operator=mw.operator,
        market="day_ahead",
        product="congestion",
        zone=mw.sub1,
        delivery_start=DAY,
        delivery_end=DAY + timedelta(days=1),
        interval_minutes=60,
        gate_closure=DAY - timedelta(hours=12),
    )
    p0, p4, p5 = mw.premise(0), mw.premise(4), mw.premise(5)
    order_submit(
        organisation=mw.operator,
        market="day_ahead",
        product="congestion",
        side="buy",
        zone=mw.sub1,
        kw=Decimal("500"),
        price_per_mwh=Decimal("90"),
        delivery_start=S,
        delivery_end=S + timedelta(hours=1),
        auction=a,
        now=mw.now,
    )
    slow = auction_services._run_engine
    started = threading.Event()

    def slow_engine(inputs):
        started.set()
        time.sleep(1.0)  # orders keep arriving while the run holds the auction
        return slow(inputs)

    monkeypatch.setattr(auction_services, "_run_engine", slow_engine)
    # The gate closes (the clock says so), the clearing starts; orders stamped just before the gate arrive late.
    Auction.objects.filter(pk=a.pk).update(gate_closure=timezone.now())

    def clear():
        return tasks.clear_due_auctions.apply().get()

    def late(premise, kw):
        def fn():
            started.wait(10)
            return order_submit(
                organisation=premise.organisation,
                market="day_ahead",
                product="congestion",
                side="sell",
                zone=mw.sub1,
                members=[(premise, Decimal(kw))],
                price_per_mwh=Decimal("20"),
                delivery_start=S,
                delivery_end=S + timedelta(hours=1),
                auction=a,
                now=mw.now,
            )

        return fn

    results = run_parallel([clear, late(p0, "10"), late(p4, "11"), late(p5, "12")])
    late_results = results[1:]
    # Every late order was refused with "gate closed" (nothing half-entered), none awarded.
    assert all(isinstance(r, ApplicationError) and r.code == "gate_closed" for r in late_results), results
    assert not MarketOrder.objects.filter(side="sell").exists()
    assert not MarketOrder.objects.filter(auction=a, status="open").exists()
    assert Auction.objects.get(pk=a.pk).status == Auction.Status.CLEARED


def test_orders_submitted_before_the_clearing_locks_are_in_its_inputs(mw, monkeypatch):
    a = auction_open(
        operator=mw.operator,
        market="day_ahead",
        product="congestion",
        zone=mw.sub1,
        delivery_start=DAY,
        delivery_end=DAY + timedelta(days=1),
        interval_minutes=60,
        gate_closure=DAY - timedelta(hours=12),
    )
    p0, p4, p5 = mw.premise(0), mw.premise(4), mw.premise(5)
    order_submit(
        organisation=mw.operator,
        market="day_ahead",
        product="congestion",
        side="buy",
        zone=mw.sub1,
        kw=Decimal("500"),
        price_per_mwh=Decimal("90"),
        delivery_start=S,
        delivery_end=S + timedelta(hours=1),
        auction=a,
        now=mw.now,
    )

    def seller(premise, kw):
        def fn():
            return order_submit(
                organisation=premise.organisation,
                market="day_ahead",
                product="congestion",
                side="sell",
                zone=mw.sub1,
                members=[(premise, Decimal(kw))],
                price_per_mwh=Decimal("20"),
                delivery_start=S,
                delivery_end=S + timedelta(hours=1),
                auction=a,
                now=mw.now,
            )

        return fn

    def clear():
        time.sleep(0.05)
        return auction_services.auction_clear(auction_id=a.pk, now=a.gate_closure)

    results = run_parallel([seller(p0, "10"), seller(p4, "11"), seller(p5, "12"), clear])
    entered = {r.order.pk for r in results[:3] if not isinstance(r, Exception)}
    refused = [r for r in results[:3] if isinstance(r, Exception)]
    assert all(getattr(r, "code", None) == "gate_closed" for r in refused), refused
    run = results[3]
    in_run = {o["id"] for o in run.inputs["orders"] if o["side"] == "sell"}
    assert in_run == entered  # every accepted order was cleared, none after
    awarded = dict(Award.objects.values_list("order_id", "kw"))
    assert set(awarded) == entered and len(Award.objects.all()) == len(entered)


def test_parallel_sellers_and_buyers_in_one_book_match_once_at_the_makers_price(mw):
    """Order entry reads only the crossing orders under the book's row lock: whatever the interleaving, every
    order is stored once, none trades beyond its kW, every trade is at the resting (earlier) order's price and
    has its awards, and the book is never left crossed."""
    end = S + timedelta(minutes=15)
    p0, p4, p5 = mw.premise(0), mw.premise(4), mw.premise(5)

    def seller(premise, kw, price):
        return lambda: order_submit(
            organisation=premise.organisation,
            market="real_time",
            product="congestion",
            side="sell",
            zone=mw.sub1,
            members=[(premise, Decimal(kw))],
            price_per_mwh=Decimal(price),
            delivery_start=S,
            delivery_end=end,
            now=mw.now,
        )

    def buyer(kw, price, kind="limit"):
        return lambda: order_submit(
            organisation=mw.operator,
            market="real_time",
            product="congestion",
            side="buy",
            zone=mw.sub1,
            kw=Decimal(kw),
            price_per_mwh=Decimal(price),
            delivery_start=S,
            delivery_end=end,
            kind=kind,
            now=mw.now,
        )

    fns = [
        seller(p0, "10", "10"),
        seller(p4, "10", "20"),
        seller(p5, "10", "30"),
        seller(p5, "5", "40"),
        buyer("8", "25"),
        buyer("8", "25"),
        buyer("8", "35", kind="fak"),
        buyer("6", "15"),
    ]
    results = run_parallel(fns)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert MarketOrder.objects.count() == len(fns)
    for o in MarketOrder.objects.all():
        traded = sum(Trade.objects.filter(**{f"{o.side}_order": o}).values_list("kw", flat=True), Decimal("0"))
        assert traded <= o.kw
        if o.status in (MarketOrder.Status.OPEN, MarketOrder.Status.FILLED):
            assert traded == o.kw - o.remaining_kw, o
    for t in Trade.objects.select_related("buy_order", "sell_order"):
        maker = min((t.buy_order, t.sell_order), key=lambda o: o.pk)  # the one already resting in the book
        assert t.price_per_mwh == maker.price_per_mwh
        assert sum(a.kw for a in t.awards.all()) == t.kw
    open_orders = MarketOrder.objects.filter(status=MarketOrder.Status.OPEN, remaining_kw__gt=0)
    best_bid = max((o.price_per_mwh for o in open_orders if o.side == "buy"), default=None)
    best_ask = min((o.price_per_mwh for o in open_orders if o.side == "sell"), default=None)
    assert best_bid is None or best_ask is None or best_bid < best_ask  # never crossed
    assert sum(Trade.objects.values_list("kw", flat=True), Decimal("0")) > 0


def test_parallel_repeats_of_one_idempotency_key_enter_one_order(mw):
    from rest_framework.test import APIClient

    p5 = mw.premise(5)
    user = p5.organisation.memberships.first().user
    body = {
        "market": "real_time",
        "product": "congestion",
        "side": "sell",
        "zone": "sub-east-1",
        "members": [{"premise": p5.pk, "kw": "80"}],  # all of its capacity: a second run would be refused
        "price_per_mwh": "50",
        "delivery_start": S.isoformat(),
        "delivery_end": (S + timedelta(minutes=15)).isoformat(),
    }

    def post():
        client = APIClient()
        client.force_authenticate(user)
        r = client.post("/api/v1/market/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="same-key")
        return r.status_code, r.json()

    results = run_parallel([post] * 4)
    assert {status for status, _ in results} == {201}, results
    assert len({body["id"] for _, body in results}) == 1
    assert MarketOrder.objects.count() == 1
