"""Every market outcome reaches activation on commit: energy-type awards of the real-time book and the day-ahead
auction become events per member resource and interval (paid at the trade or clearing price), capacity and
ancillary awards become reservations. Running the hand-off twice creates nothing new."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

from activation import tasks as activation_tasks
from activation.models import DREvent, Reservation
from activation.services import awards_activate_pending, market_program
from activation.tests.factories import verification_make
from market.models import Award
from market.services.auctions import auction_clear, auction_open
from market.services.orders import order_submit
from settlement.models import JournalEntry, LedgerAccount, SettlementItem
from settlement.services.runs import settlement_run_execute

from .factories import DAY

S = DAY + timedelta(hours=17)
E = S + timedelta(minutes=15)


def _rt(mw, org, side, *, members=None, kw=None, price, product="energy", start=S, end=E):
    return order_submit(
        organisation=org,
        market="real_time",
        product=product,
        side=side,
        zone=mw.iso,
        members=members,
        kw=None if kw is None else D(kw),
        price_per_mwh=D(price),
        delivery_start=start,
        delivery_end=end,
        now=mw.now,
    )


def _settle(day=DAY):
    return settlement_run_execute(window_start=day, window_end=day + timedelta(days=1), now=day + timedelta(days=3))


def _payer_of(business_key: str):
    """The organisation debited by an entry (the operator paying it)."""
    entry = JournalEntry.objects.get(business_key=business_key)
    [debit] = [p for p in entry.postings.select_related("account") if p.amount < 0]
    assert debit.account.kind == LedgerAccount.Kind.OPERATOR_PAYABLE
    return debit.account.organisation


def test_trade_becomes_events_per_member_paid_at_the_trade_price(mw, django_capture_on_commit_callbacks):
    p1, p2 = mw.premise(1), mw.premise(2)
    _rt(mw, mw.aggregator, "sell", members=[(p1, D("60")), (p2, D("40"))], price="90")
    with django_capture_on_commit_callbacks(execute=True):
        out = _rt(mw, mw.operator, "buy", kw="50", price="120")
    [trade] = out.trades
    # 50 kW at the maker's 90/MWh, pro rata 30 + 20 kW: one event per member resource for the interval
    events = {e.premise_id: e for e in DREvent.objects.filter(award__trade=trade)}
    assert {pid: e.target_kw for pid, e in events.items()} == {p1.pk: D("30.000"), p2.pk: D("20.000")}
    for e in events.values():
        assert (e.start, e.end, e.source) == (S, E, DREvent.Source.AWARD)
        assert e.price_per_mwh == D("90.00") and e.buyer == mw.operator
        assert e.status == DREvent.Status.NOTIFIED
    # handing the awards over again (task redelivered, beat sweep) creates nothing new
    for a in Award.objects.filter(trade=trade):
        activation_tasks.create_event_for_award.apply(args=(a.pk,))
    assert awards_activate_pending(now=mw.now) == []
    assert DREvent.objects.count() == 2
    # delivered: 7.5 kWh committed for p1 (30 kW x 15 min), 6.8 delivered -> 6.8 x 90 / 1000 = 0.612 -> 0.61;
    # p2: 5.0 kWh x 90 / 1000 = 0.45
    verification_make(events[p1.pk], [D("6.8")])
    verification_make(events[p2.pk], [D("5.0")])
    _settle()
    e1, e2 = events[p1.pk].pk, events[p2.pk].pk
    # sold by the aggregator's portfolio: split under the demo aggregator's terms the members accepted (15 % of
    # revenue, ADR 0024): 0.61 -> fee 0.0915 -> 0.09, member 0.52; 0.45 -> fee 0.0675 -> 0.07, member 0.38
    perf1 = SettlementItem.objects.get(business_key=f"member_share:event:{e1}")
    perf2 = SettlementItem.objects.get(business_key=f"member_share:event:{e2}")
    assert (perf1.amount, perf1.price_per_mwh, perf1.payee) == (D("0.52"), D("90.00"), p1.organisation)
    assert (perf2.amount, perf2.payee) == (D("0.38"), p2.organisation)
    fees = SettlementItem.objects.filter(kind="aggregator_fee", event__in=[e1, e2])
    assert {f.event_id: (f.amount, f.payee_id) for f in fees} == {
        e1: (D("0.09"), p1.aggregator_id),
        e2: (D("0.07"), p2.aggregator_id),
    }
    assert _payer_of(f"member_share:event:{e1}") == mw.operator == _payer_of(f"member_share:event:{e2}")


def test_day_ahead_auction_awards_become_events_paid_at_the_clearing_price(mw, django_capture_on_commit_callbacks):
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
    p0 = mw.premise(0)

    def order(side, **kw):
        return order_submit(
            organisation=kw.pop("org"),
            market="day_ahead",
            product="congestion",
            side=side,
            zone=mw.sub1,
            delivery_start=S,
            delivery_end=S + timedelta(hours=1),
            auction=a,
            now=mw.now,
            **kw,
        )

    order("sell", org=p0.organisation, members=[(p0, D("30"))], price_per_mwh=D("40"))
    order("buy", org=mw.operator, kw=D("20"), price_per_mwh=D("90"))
    with django_capture_on_commit_callbacks(execute=True):
        run = auction_clear(auction_id=a.pk, now=a.gate_closure)
    [event] = DREvent.objects.filter(award__clearing_run=run)
    # uniform price: the marginal (only) offer's 40/MWh, 20 kW for the 17:00 interval
    assert (event.premise_id, event.target_kw, event.start, event.end) == (
        p0.pk,
        D("20.000"),
        S,
        S + timedelta(hours=1),
    )
    assert event.price_per_mwh == D("40.00") and event.buyer == mw.operator
    with django_capture_on_commit_callbacks(execute=True):
        auction_clear(auction_id=a.pk, now=a.gate_closure)  # cleared again: the stored run, nothing new
    assert DREvent.objects.count() == 1
    # 4 x 4.1234 = 16.4936 kWh x 40 / 1000 = 0.659744 -> 0.66
    verification_make(event, [D("4.1234")] * 4)
    _settle()
    perf = SettlementItem.objects.get(business_key=f"performance:event:{event.pk}")
    assert (perf.amount, perf.quantity_kwh, perf.payee) == (D("0.66"), D("16.4936"), p0.organisation)
    assert _payer_of(f"performance:event:{event.pk}") == mw.operator


def test_seasonal_capacity_awards_become_reservations_not_events(mw, django_capture_on_commit_callbacks):
    season = (DAY - timedelta(hours=12), DAY + timedelta(days=1))
    a = auction_open(
        operator=mw.operator,
        market="seasonal",
        product="capacity",
        zone=mw.iso,
        delivery_start=season[0],
        delivery_end=season[1],
        gate_closure=season[0] - timedelta(days=1),
        demand_curve=[{"kw": "100", "price_per_mwh": "300"}],
    )
    p3, p4 = mw.premise(3), mw.premise(4)
    p4.organisation = p3.organisation
    p4.save(update_fields=["organisation"])
    order_submit(
        organisation=p3.organisation,
        market="seasonal",
        product="capacity",
        side="sell",
        zone=mw.iso,
        members=[(p3, D("60")), (p4, D("60"))],
        price_per_mwh=D("100"),
        delivery_start=season[0],
        delivery_end=season[1],
        auction=a,
        now=season[0] - timedelta(days=2),
    )
    with django_capture_on_commit_callbacks(execute=True):
        auction_clear(auction_id=a.pk, now=a.gate_closure)
    assert not DREvent.objects.exists()
    reservations = {r.premise_id: r for r in Reservation.objects.all()}
    assert {pid: r.reserved_kw for pid, r in reservations.items()} == {p3.pk: D("50.000"), p4.pk: D("50.000")}
    for r in reservations.values():
        assert (r.window_start, r.window_end) == season
        assert r.availability_price_per_mwh == D("100.00") and r.buyer == mw.operator
        assert r.energy_price_per_mwh == market_program().energy_rate_per_mwh and r.notice_minutes == 30
    assert awards_activate_pending(now=mw.now) == [] and Reservation.objects.count() == 2


def test_real_time_ancillary_trade_becomes_reservations_called_and_paid(mw, django_capture_on_commit_callbacks):
    from django.contrib.auth import get_user_model

    from accounts.models import Organisation, Premise
    from activation.services import reservation_call
    from demo import verify_participant

    from .factories import qualify
    from .test_services_realtime import stake_deposit

    p3, p4 = mw.premise(3), mw.premise(4)
    biz = Organisation.objects.create(name="Two sites", kind=Organisation.Kind.CONSUMER)
    verify_participant(biz, user=None, number="BR-TWO-SITES", segment=Premise.Segment.COMMERCIAL)
    for p in (p3, p4):
        p.organisation = biz
        p.save(update_fields=["organisation"])
        qualify(p, "spinning_reserve", response_seconds="120", sustain_minutes=30)
    stake_deposit(organisation=biz, amount=D("120"), business_key="rt-spin")
    _rt(mw, biz, "sell", members=[(p3, D("60")), (p4, D("60"))], price="14.40", product="spinning_reserve")
    with django_capture_on_commit_callbacks(execute=True):
        _rt(mw, mw.operator, "buy", kw="120", price="20", product="spinning_reserve")
    assert not DREvent.objects.exists()
    reservations = {r.premise_id: r for r in Reservation.objects.all()}
    assert {pid: (r.reserved_kw, r.window_start, r.window_end) for pid, r in reservations.items()} == {
        p3.pk: (D("60.000"), S, E),
        p4.pk: (D("60.000"), S, E),
    }
    r = reservations[p3.pk]
    assert (r.availability_price_per_mwh, r.notice_minutes, r.buyer) == (D("14.40"), 10, mw.operator)
    operator = get_user_model().objects.get(email="operator@demo.flex")
    event = reservation_call(reservation_id=r.pk, user=operator, target_kw=D("40"), start=S, end=E, now=mw.now)
    verification_make(event, [D("9.5")])
    _settle()
    # the call's energy: 9.5 kWh x 100.00 / 1000 = 0.95; p3 has no meter data that day: no availability payment
    perf = SettlementItem.objects.get(business_key=f"performance:event:{event.pk}")
    assert (perf.amount, perf.price_per_mwh, perf.payee) == (D("0.95"), D("100.00"), biz)
    assert _payer_of(perf.business_key) == mw.operator
    assert not SettlementItem.objects.filter(business_key__startswith="availability_payment:").exists()
