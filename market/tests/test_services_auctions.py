"""Day-ahead and seasonal auctions through the services and the Celery task; re-running a stored clearing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from flexplatform.errors import ApplicationError, NotPermitted
from market import tasks
from market.models import Auction, Award, ClearingRun, MarketOrder, OrderMember
from market.services.auctions import auction_clear, auction_open, clearing_rerun
from market.services.orders import GateClosed, order_cancel, order_submit

from .factories import DAY


def _da(mw, interval=60, product="congestion", zone=None):
    return auction_open(
        operator=mw.operator,
        market="day_ahead",
        product=product,
        zone=zone or mw.sub1,
        delivery_start=DAY,
        delivery_end=DAY + timedelta(days=1),
        interval_minutes=interval,
        gate_closure=DAY - timedelta(hours=12),
    )


def _o(mw, auction, side, h, kw=None, price="100", members=None, hours=1, block=False, org=None):
    start = DAY + timedelta(hours=h)
    return order_submit(
        organisation=org or (mw.operator if side == "buy" else members[0][0].organisation),
        market=auction.market,
        product=auction.product,
        side=side,
        zone=auction.zone,
        kw=None if kw is None else Decimal(kw),
        members=members,
        price_per_mwh=Decimal(price),
        delivery_start=start,
        delivery_end=start + timedelta(hours=hours),
        auction=auction,
        is_block=block,
        now=mw.now,
    ).order


def test_day_ahead_clears_at_gate_closure_with_blocks_and_publishes_prices(mw):
    a = _da(mw)
    assert _da(mw).pk == a.pk  # idempotent
    p0, p4, p5 = mw.premise(0), mw.premise(4), mw.premise(5)  # all under sub-east-1
    o_cheap = _o(mw, a, "sell", 17, members=[(p0, Decimal("30"))], price="40")
    o_mid = _o(mw, a, "sell", 17, members=[(p4, Decimal("30"))], price="60")
    # block: 20 kW for 17:00-19:00 at 50, all or none; demand at 18:00 only 10 kW → rejected
    o_block = _o(mw, a, "sell", 17, members=[(p5, Decimal("20"))], price="50", hours=2, block=True)
    b17 = _o(mw, a, "buy", 17, kw="45", price="90")
    b18 = _o(mw, a, "buy", 18, kw="10", price="90")
    with pytest.raises(ApplicationError):  # not due before gate closure
        auction_clear(auction_id=a.pk, now=mw.now)
    tasks.clear_due_auctions.apply(kwargs={})  # the beat sweep on today's clock: gate (in 2030) not reached
    assert Auction.objects.get(pk=a.pk).status == Auction.Status.OPEN
    run = auction_clear(auction_id=a.pk, now=a.gate_closure)
    assert auction_clear(auction_id=a.pk, now=a.gate_closure).pk == run.pk  # idempotent
    # nothing stays reserved after the clearing: no member keeps a remainder (the capacity check relies on it)
    assert not OrderMember.objects.filter(order__auction=a, remaining_kw__gt=0).exists()
    prices = {i["interval"]: i for i in run.outputs["intervals"]}
    assert run.outputs["rejected_blocks"] == [o_block.pk]
    # 17:00: 30 @ 40 + 15 of 30 @ 60 → price 60, volume 45
    assert prices[17]["clearing_price_per_mwh"] == "60.00" and prices[17]["volume_kw"] == "45.000"
    assert prices[18]["clearing_price_per_mwh"] is None
    statuses = dict(MarketOrder.objects.values_list("pk", "status"))
    assert statuses[o_cheap.pk] == "filled" and statuses[o_mid.pk] == "partially_filled"
    assert statuses[o_block.pk] == "not_awarded" and statuses[b17.pk] == "filled" and statuses[b18.pk] == "not_awarded"
    awards = Award.objects.filter(clearing_run=run).order_by("premise_id")
    assert [(a_.premise_id, a_.kw, a_.clearing_price_per_mwh) for a_ in awards] == [
        (p0.pk, Decimal("30.000"), Decimal("60.00")),
        (p4.pk, Decimal("15.000"), Decimal("60.00")),
    ]
    assert all(a_.buyer_id == mw.operator.pk and a_.window_start == DAY + timedelta(hours=17) for a_ in awards)
    # auditable: the stored inputs re-run to the identical outputs
    rr = clearing_rerun(run=run)
    assert rr.identical and rr.recomputed == run.outputs
    assert run.rule_version == "uniform-auction-2" and len(run.inputs["orders"]) == 5
    # the block fits no selection (20 kW against 10 kW of demand at 18:00): solved without a solver call
    assert run.solver_status == "optimal" and run.solver_gap == 0.0
    # welfare over the hour: 30 kW × (90 − 40) + 15 kW × (90 − 60) = 1,950 kW·$/MWh = $1.95
    assert run.solver_objective == run.solver_bound == Decimal("1.95")


def test_rerun_detects_tampered_outputs(mw):
    a = _da(mw)
    _o(mw, a, "sell", 3, members=[(mw.premise(0), Decimal("10"))], price="40")
    _o(mw, a, "buy", 3, kw="5", price="90")
    run = auction_clear(auction_id=a.pk, now=a.gate_closure)
    ClearingRun.objects.filter(pk=run.pk).update(outputs={**run.outputs, "readmitted": 99})
    assert not clearing_rerun(run=ClearingRun.objects.get(pk=run.pk)).identical


def test_day_ahead_refusals(mw):
    a = _da(mw)
    p0 = mw.premise(0)
    with pytest.raises(ApplicationError):  # 90 minutes is not one hourly interval
        order_submit(
            organisation=p0.organisation,
            market="day_ahead",
            product="congestion",
            side="sell",
            zone=a.zone,
            members=[(p0, Decimal("5"))],
            price_per_mwh=Decimal("1"),
            delivery_start=DAY,
            delivery_end=DAY + timedelta(minutes=90),
            auction=a,
            now=mw.now,
        )
    with pytest.raises(ApplicationError):  # fill-or-kill has no meaning in an auction
        order_submit(
            organisation=p0.organisation,
            market="day_ahead",
            product="congestion",
            side="sell",
            zone=a.zone,
            members=[(p0, Decimal("5"))],
            price_per_mwh=Decimal("1"),
            kind="fok",
            delivery_start=DAY,
            delivery_end=DAY + timedelta(hours=1),
            auction=a,
            now=mw.now,
        )
    o = _o(mw, a, "sell", 1, members=[(p0, Decimal("5"))])
    with pytest.raises(GateClosed):
        order_submit(
            organisation=p0.organisation,
            market="day_ahead",
            product="congestion",
            side="sell",
            zone=a.zone,
            members=[(p0, Decimal("5"))],
            price_per_mwh=Decimal("1"),
            delivery_start=DAY,
            delivery_end=DAY + timedelta(hours=1),
            auction=a,
            now=a.gate_closure,
        )
    with pytest.raises(GateClosed):
        order_cancel(order_id=o.pk, by=p0.organisation, now=a.gate_closure)
    order_cancel(order_id=o.pk, by=p0.organisation, now=mw.now)
    with pytest.raises(NotPermitted):  # outside the operator's service area? no: consumers cannot open auctions
        auction_open(
            operator=p0.organisation,
            market="day_ahead",
            product="energy",
            zone=mw.iso,
            delivery_start=DAY,
            delivery_end=DAY + timedelta(days=1),
            interval_minutes=60,
            gate_closure=DAY - timedelta(hours=1),
        )
    with pytest.raises(ApplicationError):
        auction_open(
            operator=mw.operator,
            market="day_ahead",
            product="energy",
            zone=mw.iso,
            delivery_start=DAY,
            delivery_end=DAY + timedelta(days=1),
            interval_minutes=30,
            gate_closure=DAY - timedelta(hours=1),
        )


def test_quarter_hourly_day_ahead_has_96_intervals(mw):
    a = _da(mw, interval=15, product="energy", zone=mw.iso)
    p0, p4 = mw.premise(3), mw.premise(4)  # two businesses (KYB-verified); one owner sells both
    org = p0.organisation
    p4.organisation = org
    p4.save(update_fields=["organisation"])
    start = DAY + timedelta(hours=23, minutes=45)
    order_submit(
        organisation=org,
        market="day_ahead",
        product="energy",
        side="sell",
        zone=a.zone,
        members=[(p0, Decimal("60")), (p4, Decimal("60"))],
        price_per_mwh=Decimal("30"),
        delivery_start=start,
        delivery_end=start + timedelta(minutes=15),
        auction=a,
        now=mw.now,
    )
    order_submit(
        organisation=mw.operator,
        market="day_ahead",
        product="energy",
        side="buy",
        zone=a.zone,
        kw=Decimal("150"),
        price_per_mwh=Decimal("99"),
        delivery_start=start,
        delivery_end=start + timedelta(minutes=15),
        auction=a,
        now=mw.now,
    )
    run = auction_clear(auction_id=a.pk, now=a.gate_closure)
    assert run.inputs["auction"]["n_intervals"] == 96
    assert run.outputs["intervals"] == [{"interval": 95, "clearing_price_per_mwh": "30.00", "volume_kw": "120.000"}]
    assert sorted(Award.objects.values_list("kw", flat=True)) == [Decimal("60.000"), Decimal("60.000")]


def test_seasonal_capacity_auction_against_stepwise_demand_curve(mw):
    season = (DAY - timedelta(hours=12), DAY + timedelta(days=1))  # within the accredited window
    curve = [
        {"kw": "50", "price_per_mwh": "300"},
        {"kw": "50", "price_per_mwh": "150"},
        {"kw": "100", "price_per_mwh": "50"},
    ]
    a = auction_open(
        operator=mw.operator,
        market="seasonal",
        product="capacity",
        zone=mw.iso,
        delivery_start=season[0],
        delivery_end=season[1],
        gate_closure=season[0] - timedelta(days=1),
        demand_curve=curve,
    )
    p0, p4 = mw.premise(3), mw.premise(4)  # two businesses (KYB-verified) under one owner
    agg_org = p0.organisation
    for p in (p4,):
        p.organisation = agg_org
        p.save(update_fields=["organisation"])

    def offer(members, price):
        return order_submit(
            organisation=agg_org,
            market="seasonal",
            product="capacity",
            side="sell",
            zone=mw.iso,
            members=members,
            price_per_mwh=Decimal(price),
            delivery_start=season[0],
            delivery_end=season[1],
            auction=a,
            now=season[0] - timedelta(days=2),
        ).order

    o1 = offer([(p0, Decimal("60")), (p4, Decimal("60"))], "100")  # 120 kW @ 100
    with pytest.raises(ApplicationError):  # seasonal demand is the curve: no buy orders
        order_submit(
            organisation=mw.operator,
            market="seasonal",
            product="capacity",
            side="buy",
            zone=mw.iso,
            kw=Decimal("10"),
            price_per_mwh=Decimal("1"),
            delivery_start=season[0],
            delivery_end=season[1],
            auction=a,
            now=season[0] - timedelta(days=2),
        )
    run = auction_clear(auction_id=a.pk, now=a.gate_closure)
    # demand ≥ 100 $/MWh is 100 kW (steps at 300 and 150): 100 of 120 kW cleared at 100
    [interval] = run.outputs["intervals"]
    assert interval == {"interval": 0, "clearing_price_per_mwh": "100.00", "volume_kw": "100.000"}
    assert {a_.premise_id: a_.kw for a_ in Award.objects.filter(order=o1)} == {
        p0.pk: Decimal("50.000"),
        p4.pk: Decimal("50.000"),
    }
    assert all(a_.product == "capacity" and a_.market == "seasonal" for a_ in Award.objects.all())
    assert clearing_rerun(run=run).identical
    with pytest.raises(ApplicationError):  # the curve must step down in price
        auction_open(
            operator=mw.operator,
            market="seasonal",
            product="capacity",
            zone=mw.sub1,
            delivery_start=season[0],
            delivery_end=season[1],
            gate_closure=season[0],
            demand_curve=[{"kw": "5", "price_per_mwh": "10"}, {"kw": "5", "price_per_mwh": "20"}],
        )


@pytest.mark.django_db(transaction=True)
def test_legacy_request_run_reruns_identically(small_world):
    import demo

    demo.market_day_run(world=small_world, day=small_world.day)
    runs = list(ClearingRun.objects.exclude(request=None))
    assert runs and all(clearing_rerun(run=r).identical for r in runs)
    assert all(a.buyer_id == small_world.operator.pk for a in Award.objects.all())
