"""Settlement of every event source and of reservations, with hand-computed numbers (rounding half-up, once).

Each event is paid at the price and by the buyer fixed on it when it was created: a called reservation at the
reservation's energy price, an operator, emergency or cascade event at its program's energy rate, paid by the
zone's operator. Reservations are paid for availability: reserved kW x hours x availability factor x price.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest

from accounts import services as accounts_services
from activation import services as activation
from activation.models import Program
from activation.tests.factories import verification_make
from market.models import Award, ClearingRun
from settlement.models import JournalEntry, LedgerAccount, SettlementItem
from settlement.selectors import balances_match_postings, ledger_is_balanced
from settlement.services.payments import settlement_create_for_event
from settlement.services.runs import settlement_run_execute

from .factories import DAY, NOW, readings_make, world_make

pytestmark = pytest.mark.django_db
K = LedgerAccount.Kind
STAMP = DAY.date().isoformat()


def _run():
    return settlement_run_execute(window_start=DAY, window_end=DAY + timedelta(days=1), now=NOW)


def _item(key):
    return SettlementItem.objects.get(business_key=key)


def _payer_of(business_key):
    entry = JournalEntry.objects.get(business_key=business_key)
    [debit] = [p for p in entry.postings.select_related("account") if p.amount < 0]
    assert debit.account.kind == K.OPERATOR_PAYABLE
    return debit.account.organisation


def _world(n=2):
    w = world_make(n=n)
    w.operator.service_zones.add(w.zone)
    w.user = accounts_services.user_create(email="op@t.flex", password="x-pass-123", organisation=w.operator)
    return w


def _reservation(w, premise, *, kw="25", price="31.00", energy_rate="180.00"):
    """A capacity award of the market (17:00-19:00 on DAY) handed to activation: a reservation."""
    Program.objects.filter(pk=activation.market_program().pk).update(energy_rate_per_mwh=D(energy_rate))
    run = ClearingRun.objects.create(rule_version="t", awarded_kw=D(kw), inputs={}, outputs={}, cleared_at=DAY)
    award = Award.objects.create(
        clearing_run=run,
        premise=premise,
        seller=premise.organisation,
        buyer=w.operator,
        market="day_ahead",
        product="capacity",
        kw=D(kw),
        clearing_price_per_mwh=D(price),
        window_start=DAY + timedelta(hours=17),
        window_end=DAY + timedelta(hours=19),
    )
    return activation.award_activate(award_id=award.pk)


def test_reservation_availability_payment_and_called_energy_at_the_reservation_price():
    w = _world()
    p = w.premises[0]
    readings_make(p, day=DAY, missing=6)  # 90 of 96 intervals metered
    r = _reservation(w, p)
    # the program's rate may change later: the reservation keeps the energy price it was made with
    Program.objects.filter(pk=activation.market_program().pk).update(energy_rate_per_mwh=D("999"))
    start = DAY + timedelta(hours=17, minutes=30)
    event = activation.reservation_call(
        reservation_id=r.pk, user=w.user, target_kw=D("20"), start=start, end=start + timedelta(minutes=30), now=DAY
    )
    verification_make(event, [D("4.1234"), D("4.0")], available=True)
    run = _run()
    # availability: 25 kW x 2 h x (90/96 = 0.9375 metered x 1/1 calls available) x 31.00 / 1000 = 1.453125 -> 1.45
    avail = _item(f"availability_payment:reservation:{r.pk}:day:{STAMP}")
    assert (avail.kind, avail.amount, avail.payee, avail.award_id) == (
        "capacity",
        D("1.45"),
        p.organisation,
        r.award_id,
    )
    assert avail.quantity_kwh == D("50.0000") and avail.price_per_mwh == D("31.00")
    assert _payer_of(avail.business_key) == w.operator
    # energy of the call: 8.1234 kWh x 180.00 / 1000 = 1.462212 -> 1.46, paid by the reservation's buyer
    perf = _item(f"performance:event:{event.pk}")
    assert (perf.amount, perf.price_per_mwh, perf.payee) == (D("1.46"), D("180.00"), p.organisation)
    assert _payer_of(perf.business_key) == w.operator
    assert balances_match_postings() and ledger_is_balanced()
    # running everything again pays once
    n, balances = SettlementItem.objects.count(), list(LedgerAccount.objects.values_list("pk", "balance"))
    again = _run()
    assert again.pk == run.pk and again.last_attempt_items == 0
    assert SettlementItem.objects.count() == n
    assert list(LedgerAccount.objects.values_list("pk", "balance")) == balances


def test_reservation_availability_forfeited_when_unavailable_on_a_call_and_zero_outside_its_day():
    w = _world()
    p = w.premises[0]
    readings_make(p, day=DAY)
    r = _reservation(w, p, kw="10", price="20.00")
    start = DAY + timedelta(hours=18)
    event = activation.reservation_call(
        reservation_id=r.pk, user=w.user, target_kw=D("10"), start=start, end=start + timedelta(minutes=15), now=DAY
    )
    verification_make(event, [D("1.0")], available=False)  # did not acknowledge: not available when called
    _run()
    # availability factor 96/96 x 0/1 = 0: no availability payment; the energy delivered is still paid:
    # 1.0 kWh x 180.00 / 1000 = 0.18
    assert not SettlementItem.objects.filter(business_key__startswith="availability_payment:").exists()
    assert _item(f"performance:event:{event.pk}").amount == D("0.18")
    # the next day's run finds no reservation overlapping it
    settlement_run_execute(window_start=DAY + timedelta(days=1), window_end=DAY + timedelta(days=2), now=NOW)
    assert not SettlementItem.objects.filter(business_key__startswith="availability_payment:").exists()


def test_operator_event_paid_at_the_program_rate_once_by_task_and_run():
    w = _world()
    p = w.premises[0]
    program = activation.program_create(code="peak", name="Peak", notice_minutes=30, energy_rate_per_mwh=D("120.00"))
    activation.enrollment_create(program=program, premise=p, committed_kw=D("5"))
    event = activation.event_create(
        program=program,
        premise=p,
        target_kw=D("4"),
        start=DAY + timedelta(hours=10),
        end=DAY + timedelta(hours=11),
        created_by=w.user,
        now=DAY,
    )
    assert (event.source, event.price_per_mwh, event.buyer) == ("operator", D("120.00"), w.operator)
    verification_make(event, [D("0.9")] * 4)
    # the settle_event task's path first: 3.6 kWh x 120.00 / 1000 = 0.432 -> 0.43
    item = settlement_create_for_event(event_id=event.pk, now=NOW)
    assert (item.amount, item.price_per_mwh, item.payee) == (D("0.43"), D("120.00"), p.organisation)
    assert _payer_of(item.business_key) == w.operator
    # then the daily run: the same performance item, not a second one
    _run()
    assert SettlementItem.objects.filter(kind="performance", event=event).count() == 1
    assert balances_match_postings()


def test_emergency_and_cascade_events_paid_by_the_zone_operator():
    w = _world(n=3)
    emergency = activation.program_create(
        code="emergency-w",
        name="Emergency",
        kind=Program.Kind.EMERGENCY,
        notice_minutes=0,
        max_events_per_day=3,
        energy_rate_per_mwh=D("250.00"),
    )
    activation.enrollment_create(program=emergency, premise=w.premises[1], committed_kw=D("2"))
    [e_event] = activation.emergency_event_create(
        program=emergency,
        zone=w.zone,
        start=DAY + timedelta(hours=12),
        end=DAY + timedelta(hours=12, minutes=30),
        user=w.user,
        now=DAY,
    )
    cascade_program = activation.program_create(
        code="cascade-w", name="Cascade", notice_minutes=0, energy_rate_per_mwh=D("75.50")
    )
    activation.enrollment_create(program=cascade_program, premise=w.premises[2], committed_kw=D("3"), tier=1)
    # a trigger rule's cascade has no user: the zone's operator buys it
    cascade = activation.cascade_start(
        program=cascade_program,
        zone=w.zone,
        target_kw=D("3"),
        start=DAY + timedelta(hours=14),
        end=DAY + timedelta(hours=14, minutes=15),
        source="trigger",
        now=DAY,
    )
    [c_event] = cascade.events.all()
    assert (e_event.source, e_event.price_per_mwh, e_event.buyer) == ("emergency", D("250.00"), w.operator)
    assert (c_event.source, c_event.price_per_mwh, c_event.buyer) == ("cascade", D("75.50"), w.operator)
    verification_make(e_event, [D("0.6"), D("0.55")])
    verification_make(c_event, [D("0.7")])
    _run()
    # emergency: 1.15 kWh delivered, paid up to the dispatched 2 kW x 0.5 h = 1 kWh: 1 x 250.00 / 1000 = 0.25;
    # cascade: 0.7 kWh (dispatched 3 kW x 0.25 h = 0.75) x 75.50 / 1000 = 0.05285 -> 0.05
    e_perf, c_perf = _item(f"performance:event:{e_event.pk}"), _item(f"performance:event:{c_event.pk}")
    assert (e_perf.amount, e_perf.quantity_kwh, e_perf.payee) == (D("0.25"), D("1.0000"), w.consumers[1])
    assert (c_perf.amount, c_perf.payee) == (D("0.05"), w.consumers[2])
    assert _payer_of(e_perf.business_key) == w.operator == _payer_of(c_perf.business_key)
    assert ledger_is_balanced() and balances_match_postings()
    n, balances = SettlementItem.objects.count(), list(LedgerAccount.objects.values_list("pk", "balance"))
    assert _run().last_attempt_items == 0  # running everything again pays once
    assert SettlementItem.objects.count() == n
    assert list(LedgerAccount.objects.values_list("pk", "balance")) == balances


def test_reservation_availability_waits_until_every_call_of_the_day_is_verified():
    """A failed call not yet verified must not let the day be paid in full (the item's key makes it final)."""
    w = _world()
    p = w.premises[0]
    readings_make(p, day=DAY)
    r = _reservation(w, p, kw="10", price="20.00")
    start = DAY + timedelta(hours=18)
    event = activation.reservation_call(
        reservation_id=r.pk, user=w.user, target_kw=D("10"), start=start, end=start + timedelta(minutes=15), now=DAY
    )
    _run()
    assert not SettlementItem.objects.filter(business_key__startswith="availability_payment:").exists()
    verification_make(event, [D("1.0")], available=True)
    _run()
    # 10 kW x 2 h x (96/96 x 1/1) x 20.00 / 1000 = 0.40
    assert _item(f"availability_payment:reservation:{r.pk}:day:{STAMP}").amount == D("0.40")


def test_request_awards_stored_before_award_buyer_existed_name_the_request_operator():
    """market 0004 backfills Award.buyer, so the event's buyer (activation 0003) and the payment's payer need no
    fallback: an award without a buyer is paid by its request's operator, once the migration has run."""
    import importlib

    from django.apps import apps

    from market.models import FlexibilityRequest

    w = _world()
    p = w.premises[0]
    request = FlexibilityRequest.objects.create(
        operator=w.operator, zone=w.zone, kw=D("5"), max_price_per_mwh=D("90"), window_start=DAY, window_end=NOW
    )
    award = Award.objects.create(
        request=request, premise=p, seller=p.organisation, kw=D("5"), clearing_price_per_mwh=D("80"),
        window_start=DAY + timedelta(hours=17), window_end=DAY + timedelta(hours=18),
    )  # fmt: skip
    assert award.buyer_id is None
    importlib.import_module("market.migrations.0004_award_buyer_backfill").buyer_from_request(apps, None)
    award.refresh_from_db()
    assert award.buyer_id == w.operator.pk


def test_event_payment_paid_up_to_the_dispatched_quantity_then_the_run_pays_only_the_capped_bonus():
    """performance-2: energy is paid up to the dispatch (CAISO PDR); the excess only through the capped bonus."""
    w = _world()
    p = w.premises[0]
    program = activation.program_create(code="cap", name="Cap", notice_minutes=30, energy_rate_per_mwh=D("150.00"))
    activation.enrollment_create(program=program, premise=p, committed_kw=D("5"))
    event = activation.event_create(
        program=program,
        premise=p,
        target_kw=D("2"),
        start=DAY + timedelta(hours=10),
        end=DAY + timedelta(hours=11),
        created_by=w.user,
        now=DAY,
    )
    verification_make(event, [D("1.5")] * 4)  # 6 kWh delivered on a 2 kW x 1 h = 2 kWh dispatch
    item = settlement_create_for_event(event_id=event.pk, now=NOW)
    # 2 kWh x 150.00 / 1000 = 0.30 (the uncapped rule paid 6 x 150 / 1000 = 0.90)
    assert (item.amount, item.quantity_kwh) == (D("0.30"), D("2.0000"))
    assert item.memo.startswith("Performance payment (performance-2)")
    _run()
    # excess 4 kWh capped at 20 % x 2 = 0.4 kWh: 0.4 x 150 / 1000 x 0.10 = 0.006 -> 0.01
    assert _item(f"over_delivery:event:{event.pk}").amount == D("0.01")
    assert SettlementItem.objects.get(kind="performance", event=event).amount == D("0.30")
