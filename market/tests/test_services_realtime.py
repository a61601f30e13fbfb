"""Real-time continuous market through the services: matching, awards per member, every seller rule."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import Organisation, Premise
from demo import verify_participant
from flexplatform.errors import ApplicationError, NotPermitted
from market.models import Award, MarketOrder, OrderBook, Trade
from market.services.orders import GateClosed, books_close_due, order_cancel, order_modify, order_submit
from settlement.services.staking import staked_collateral

from .factories import DAY, accredit, qualify, stake_deposit

S = DAY + timedelta(hours=17)
E = S + timedelta(minutes=15)


def sell(mw, org, members, price="100", product="energy", zone=None, kind="limit", start=S, end=E, now=None):
    return order_submit(
        organisation=org,
        market="real_time",
        product=product,
        side="sell",
        zone=zone or mw.iso,
        members=members,
        price_per_mwh=Decimal(price),
        delivery_start=start,
        delivery_end=end,
        kind=kind,
        now=now or mw.now,
    )


def buy(mw, kw, price="120", product="energy", zone=None, kind="limit", start=S, end=E):
    return order_submit(
        organisation=mw.operator,
        market="real_time",
        product=product,
        side="buy",
        zone=zone or mw.iso,
        kw=Decimal(kw),
        price_per_mwh=Decimal(price),
        delivery_start=start,
        delivery_end=end,
        kind=kind,
        now=mw.now,
    )


def test_portfolio_offer_pools_members_to_minimum_size_and_awards_pro_rata(mw):
    p1, p2 = mw.premise(1), mw.premise(2)
    # One household alone is below the 100 kW minimum (FERC Order 2222) …
    with pytest.raises(ApplicationError) as e:
        sell(mw, mw.aggregator, [(p1, Decimal("60"))])
    assert e.value.code == "below_minimum_size"
    # … pooled in the aggregator's portfolio it qualifies.
    out = sell(mw, mw.aggregator, [(p1, Decimal("60")), (p2, Decimal("40"))], price="90")
    assert out.order.kw == Decimal("100") and out.trades == []
    t = buy(mw, "50", price="120")
    assert len(t.trades) == 1 and t.trades[0].price_per_mwh == Decimal("90.00")  # at the maker's price
    awards = {a.premise_id: a for a in Award.objects.filter(trade=t.trades[0])}
    assert awards[p1.pk].kw == Decimal("30.000") and awards[p2.pk].kw == Decimal("20.000")
    for a in awards.values():
        assert a.buyer_id == mw.operator.pk and a.seller_id == mw.aggregator.pk and a.market == "real_time"
        assert (a.window_start, a.window_end) == (S, E)
    sello = MarketOrder.objects.get(pk=out.order.pk)
    assert sello.remaining_kw == Decimal("50") and sello.status == MarketOrder.Status.OPEN
    assert MarketOrder.objects.get(pk=t.order.pk).status == MarketOrder.Status.FILLED


def test_resource_never_sold_twice_across_products_and_markets(mw):
    p5 = mw.premise(5)  # 80 kW accredited; congestion product's minimum is 1 kW
    sell(mw, p5.organisation, [(p5, Decimal("50"))], product="congestion", zone=mw.sub1)
    buy(mw, "50", product="congestion", zone=mw.sub1)  # awarded 50 kW
    with pytest.raises(ApplicationError) as e:  # 30 left for that interval, in any product
        sell(mw, p5.organisation, [(p5, Decimal("31"))], product="congestion", zone=mw.sub1, price="10")
    assert e.value.code == "over_capacity"
    sell(mw, p5.organisation, [(p5, Decimal("30"))], product="congestion", zone=mw.sub1, price="10")
    # the next interval is free again
    sell(
        mw,
        p5.organisation,
        [(p5, Decimal("80"))],
        product="congestion",
        zone=mw.sub1,
        start=E,
        end=E + timedelta(minutes=15),
    )


def test_seller_rules_refused(mw):
    p0, p3 = mw.premise(0), mw.premise(3)
    with pytest.raises(NotPermitted):  # not the seller's premise
        sell(mw, p0.organisation, [(p3, Decimal("1"))], product="congestion")
    with pytest.raises(ApplicationError) as e:  # p3 is on feeder-e2b, not under sub-east-1
        sell(mw, p3.organisation, [(p3, Decimal("5"))], product="congestion", zone=mw.sub1)
    assert e.value.code == "wrong_location"
    with pytest.raises(NotPermitted):  # grid operators do not sell
        order_submit(
            organisation=mw.operator,
            market="real_time",
            product="energy",
            side="sell",
            zone=mw.iso,
            members=[(p0, Decimal("1"))],
            price_per_mwh=Decimal("1"),
            delivery_start=S,
            delivery_end=E,
            now=mw.now,
        )
    with pytest.raises(ApplicationError) as e:  # congestion is bought for a substation or feeder
        buy(mw, "5", product="congestion", zone=mw.iso)
    assert e.value.code == "not_locational"
    with pytest.raises(NotPermitted):  # consumers do not buy
        order_submit(
            organisation=p0.organisation,
            market="real_time",
            product="energy",
            side="buy",
            zone=mw.iso,
            kw=Decimal("1"),
            price_per_mwh=Decimal("1"),
            delivery_start=S,
            delivery_end=E,
            now=mw.now,
        )
    with pytest.raises(ApplicationError) as e:  # no accredited capacity for another day
        sell(
            mw,
            p3.organisation,
            [(p3, Decimal("5"))],
            product="congestion",
            start=S + timedelta(days=30),
            end=E + timedelta(days=30),
        )
    assert e.value.code == "not_assessed"
    with pytest.raises(ApplicationError) as e:  # capacity is not a real-time product
        sell(mw, p3.organisation, [(p3, Decimal("5"))], product="capacity")
    assert e.value.code == "market_product_mismatch"
    with pytest.raises(ApplicationError) as e:  # a 20-minute interval
        sell(mw, p3.organisation, [(p3, Decimal("5"))], product="congestion", end=S + timedelta(minutes=20))
    assert e.value.code == "bad_interval"
    assert MarketOrder.objects.count() == 0


def test_ancillary_needs_qualification_and_stake(mw):
    p3, p4 = mw.premise(3), mw.premise(4)
    biz = Organisation.objects.create(name="Two sites", kind=Organisation.Kind.CONSUMER)
    verify_participant(biz, user=None, number="BR-TWO-SITES", segment=Premise.Segment.COMMERCIAL)
    for p in (p3, p4):
        p.organisation = biz
        p.save(update_fields=["organisation"])
    members = [(p3, Decimal("60")), (p4, Decimal("60"))]
    with pytest.raises(ApplicationError) as e:
        sell(mw, biz, members, product="spinning_reserve")
    assert e.value.code == "not_qualified"
    qualify(p3, "spinning_reserve", response_seconds="300", sustain_minutes=30)
    qualify(p4, "spinning_reserve", response_seconds="900", sustain_minutes=30)  # too slow (10 min rule)
    with pytest.raises(ApplicationError) as e:
        sell(mw, biz, members, product="spinning_reserve")
    assert e.value.code == "not_qualified"
    p4.qualifications.update(response_seconds=Decimal("120"))
    with pytest.raises(ApplicationError) as e:  # premium market: 1 FLEX per kW staked
        sell(mw, biz, members, product="spinning_reserve")
    assert e.value.code == "insufficient_stake"
    assert stake_deposit(organisation=biz, amount=Decimal("100"), business_key="t1") == Decimal("100")
    with pytest.raises(ApplicationError):
        sell(mw, biz, members, product="spinning_reserve")
    stake_deposit(organisation=biz, amount=Decimal("20"), business_key="t2")
    stake_deposit(organisation=biz, amount=Decimal("20"), business_key="t2")  # idempotent
    assert staked_collateral(biz) == Decimal("120")
    sell(mw, biz, members, product="spinning_reserve")
    with pytest.raises(ApplicationError) as e:  # stake is committed to the open order
        sell(
            mw,
            biz,
            [(p3, Decimal("10")), (p4, Decimal("10"))],
            product="spinning_reserve",
            start=E,
            end=E + timedelta(minutes=15),
        )
    assert e.value.code in ("insufficient_stake", "below_minimum_size")


def test_order_types_cancel_modify(mw):
    p5 = mw.premise(5)
    org = p5.organisation
    a = sell(mw, org, [(p5, Decimal("10"))], product="congestion", zone=mw.sub1, price="50").order
    k = buy(mw, "20", price="60", product="congestion", zone=mw.sub1, kind="fok")
    assert k.trades == [] and k.order.status == MarketOrder.Status.KILLED
    f = buy(mw, "20", price="60", product="congestion", zone=mw.sub1, kind="fak")
    assert sum(t.kw for t in f.trades) == Decimal("10") and f.order.status == MarketOrder.Status.PARTIALLY_FILLED
    assert MarketOrder.objects.get(pk=a.pk).status == MarketOrder.Status.FILLED
    b = sell(mw, org, [(p5, Decimal("20"))], product="congestion", zone=mw.sub1, price="70").order
    with pytest.raises(NotPermitted):
        order_cancel(order_id=b.pk, by=mw.operator, now=mw.now)
    with pytest.raises(ApplicationError) as e:  # 70 kW left, 20 on offer: 51 more would exceed
        order_modify(order_id=b.pk, by=org, price_per_mwh=Decimal("70"), kw=Decimal("71"), now=mw.now)
    assert e.value.code == "over_capacity"
    order_modify(order_id=b.pk, by=org, price_per_mwh=Decimal("55"), kw=Decimal("70"), now=mw.now)
    t = buy(mw, "5", price="56", product="congestion", zone=mw.sub1)
    assert t.trades[0].price_per_mwh == Decimal("55.00")
    order_cancel(order_id=b.pk, by=org, now=mw.now)
    assert MarketOrder.objects.get(pk=b.pk).status == MarketOrder.Status.CANCELLED
    with pytest.raises(ApplicationError):
        order_cancel(order_id=b.pk, by=org, now=mw.now)
    # capacity is free again after cancel
    sell(mw, org, [(p5, Decimal("65"))], product="congestion", zone=mw.sub1, price="70")


def test_gate_closure(mw):
    p5 = mw.premise(5)
    sell(mw, p5.organisation, [(p5, Decimal("10"))], product="congestion", zone=mw.sub1)
    late = S - timedelta(minutes=4)  # gate closes 5 minutes before delivery
    with pytest.raises(GateClosed):
        order_submit(
            organisation=mw.operator,
            market="real_time",
            product="congestion",
            side="buy",
            zone=mw.sub1,
            kw=Decimal("1"),
            price_per_mwh=Decimal("500"),
            delivery_start=S,
            delivery_end=E,
            now=late,
        )
    assert books_close_due(now=late) == 1 and books_close_due(now=late) == 0
    assert OrderBook.objects.get().status == OrderBook.Status.CLOSED
    assert set(MarketOrder.objects.values_list("status", flat=True)) == {MarketOrder.Status.EXPIRED}
    assert Trade.objects.count() == 0


def test_forward_needs_lead_time(mw):
    p5 = mw.premise(5)
    org = Organisation.objects.create(name="Big", kind=Organisation.Kind.CONSUMER)
    verify_participant(org, user=None, number="BR-BIG", segment=Premise.Segment.INDUSTRIAL)
    p5.organisation = org
    p5.save(update_fields=["organisation"])
    accredit(p5, DAY + timedelta(days=5), DAY + timedelta(days=36), 150)
    month = (DAY + timedelta(days=5), DAY + timedelta(days=35))
    sell(mw, org, [(p5, Decimal("120"))], product="forward", start=month[0], end=month[1], price="80")
    t = order_submit(
        organisation=mw.operator,
        market="real_time",
        product="forward",
        side="buy",
        zone=mw.iso,
        kw=Decimal("120"),
        price_per_mwh=Decimal("80"),
        delivery_start=month[0],
        delivery_end=month[1],
        kind="fok",
        now=mw.now,
    )
    assert t.trades[0].kw == Decimal("120") and t.trades[0].price_per_mwh == Decimal("80.00")
    with pytest.raises(ApplicationError) as e:  # delivery starts in 2 hours: too late for a forward
        sell(
            mw,
            org,
            [(p5, Decimal("100"))],
            product="forward",
            start=S,
            end=S + timedelta(days=1),
            now=S - timedelta(hours=2),
        )
    assert MarketOrder.objects.filter(delivery_start=S).count() == 0
    assert e.value.code == "too_late"


def test_trading_gate_is_asked_again_once_a_verification_changes(mw):
    """The first order keeps the seller's facts in this process; expiring its verification refuses the next."""
    from accounts.selectors import current_verification

    p5 = mw.premise(5)
    sell(mw, p5.organisation, [(p5, Decimal("10"))], product="congestion", zone=mw.sub1)
    case = current_verification(p5.organisation)
    case.verified_until = timezone.now() - timedelta(days=1)
    case.save(update_fields=["verified_until"])
    with pytest.raises(NotPermitted) as e:
        sell(mw, p5.organisation, [(p5, Decimal("10"))], product="congestion", zone=mw.sub1)
    assert e.value.code == "trading_suspended"
    assert "expired" in str(e.value.detail)
    assert accounts_services  # the world was built through the accounts services


def test_only_open_orders_members_keep_a_remainder(mw):
    """The capacity check reads members' remainders alone: every way an order closes zeroes its members'."""
    from market.models import OrderMember

    p5 = mw.premise(5)
    filled = sell(mw, p5.organisation, [(p5, Decimal("2"))], product="congestion", zone=mw.sub1, price="10")
    buy(mw, "2", product="congestion", zone=mw.sub1, price="50", kind="fak")  # fills it
    killed = sell(mw, p5.organisation, [(p5, Decimal("3"))], product="congestion", zone=mw.sub1, kind="fak")
    cancelled = sell(mw, p5.organisation, [(p5, Decimal("4"))], product="congestion", zone=mw.sub1, price="90")
    order_cancel(order_id=cancelled.order.pk, by=p5.organisation)
    resting = sell(mw, p5.organisation, [(p5, Decimal("6"))], product="congestion", zone=mw.sub1, price="95")
    statuses = {o.order.pk: MarketOrder.objects.get(pk=o.order.pk).status for o in (filled, killed, cancelled)}
    assert statuses == {
        filled.order.pk: MarketOrder.Status.FILLED,
        killed.order.pk: MarketOrder.Status.KILLED,
        cancelled.order.pk: MarketOrder.Status.CANCELLED,
    }
    books_close_due(now=S)  # gate closure: the resting order expires
    assert MarketOrder.objects.get(pk=resting.order.pk).status == MarketOrder.Status.EXPIRED
    assert not OrderMember.objects.filter(remaining_kw__gt=0).exclude(order__status=MarketOrder.Status.OPEN).exists()
    assert not OrderMember.objects.filter(remaining_kw__gt=0).exists()
