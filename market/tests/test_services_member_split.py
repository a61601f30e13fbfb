"""One rule splits a sell order's sale over its members: a continuous fill and an auction clearing agree."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from market.models import Award, OrderMember
from market.services.auctions import auction_clear, auction_open
from market.services.awards import Member, member_shares
from market.services.orders import order_submit

from .factories import DAY, one_owner

RT = (DAY + timedelta(hours=17), DAY + timedelta(hours=17, minutes=15))
RT_NEXT = (RT[1], RT[1] + timedelta(minutes=15))
DA_HOUR = (DAY + timedelta(hours=18), DAY + timedelta(hours=19))
# 50 kW over 33 + 33 + 41 kW: floors 15.420, 15.420, 19.158 kW; the 2 W left go to the largest remainders,
# 19.158… (p5) then the tie 15.420… of p3 and p4 to the lower key (p3's member).
EXPECTED = {3: Decimal("15.421"), 4: Decimal("15.420"), 5: Decimal("19.159")}


def _order(mw, org, side, window, *, kw=None, members=None, price, market="real_time", auction=None):
    return order_submit(
        organisation=org,
        market=market,
        product="energy",
        side=side,
        zone=mw.iso,
        kw=None if kw is None else Decimal(kw),
        members=members,
        price_per_mwh=Decimal(price),
        delivery_start=window[0],
        delivery_end=window[1],
        auction=auction,
        now=mw.now,
    )


def _split(mw, awards) -> dict[int, Decimal]:
    index = {mw.premise(i).pk: i for i in (3, 4, 5)}
    return {index[a.premise_id]: a.kw for a in awards}


def test_auction_award_and_continuous_fill_split_a_sell_order_the_same_way(mw):
    org, premises = one_owner(mw, (3, 4, 5))
    members = list(zip(premises, (Decimal("33"), Decimal("33"), Decimal("41")), strict=True))
    # Continuous, the sell order resting (maker): a 50 kW buy takes part of it.
    maker = _order(mw, org, "sell", RT, members=members, price="90").order
    taker_buy = _order(mw, mw.operator, "buy", RT, kw="50", price="120")
    continuous = _split(mw, Award.objects.filter(trade__in=taker_buy.trades))
    # Continuous, the sell order arriving (taker) against a resting 50 kW buy.
    _order(mw, mw.operator, "buy", RT_NEXT, kw="50", price="120")
    taker_sell = _order(mw, org, "sell", RT_NEXT, members=members, price="90")
    as_taker = _split(mw, Award.objects.filter(trade__in=taker_sell.trades))
    # Day-ahead auction: the same shape, 50 kW of it cleared in one hourly interval.
    auction = auction_open(
        operator=mw.operator,
        market="day_ahead",
        product="energy",
        zone=mw.iso,
        delivery_start=DAY,
        delivery_end=DAY + timedelta(days=1),
        interval_minutes=60,
        gate_closure=DAY - timedelta(hours=12),
    )
    cleared = _order(mw, org, "sell", DA_HOUR, members=members, price="40", market="day_ahead", auction=auction).order
    _order(mw, mw.operator, "buy", DA_HOUR, kw="50", price="90", market="day_ahead", auction=auction)
    run = auction_clear(auction_id=auction.pk, now=auction.gate_closure)
    auctioned = _split(mw, Award.objects.filter(clearing_run=run, order=cleared))

    assert continuous == as_taker == auctioned == EXPECTED
    assert sum(EXPECTED.values()) == Decimal("50")
    # the continuous maker's members keep what was not sold; the auction's have nothing left open
    left = dict(OrderMember.objects.filter(order=maker).values_list("premise_id", "remaining_kw"))
    assert left == {p.pk: kw - EXPECTED[i] for (p, kw), i in zip(members, (3, 4, 5), strict=True)}
    assert set(OrderMember.objects.filter(order=cleared).values_list("remaining_kw", flat=True)) == {Decimal("0")}


def test_member_shares_consumes_remaining_and_caps_at_it():
    members = [Member(1, 11, Decimal("10"), Decimal("10")), Member(2, 12, Decimal("30"), Decimal("3"))]
    shares = member_shares(members, 8000)
    # pro rata 2 + 6 kW, but the second has only 3 kW open: it gets 3, the first the other 5
    assert [(m.key, kw) for m, kw in shares] == [(1, Decimal("5")), (2, Decimal("3"))]
    assert [m.remaining for m in members] == [Decimal("5"), Decimal("0")]
    assert member_shares(members, 0) == []
