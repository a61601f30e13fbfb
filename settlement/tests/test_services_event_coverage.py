"""The event path settles each window once per batch of verifications (issue #21): a task whose verification a
run has settled already (``SettlementCoverage``) runs nothing, the unpaid and the no-rebound events included, and
pays exactly what running the window once per event (the path before the marker) paid.

World as in ``test_services_shifting``: 10 weekdays of flat 0.5 kWh quarter-hours, so the CAISO 10-in-10
baseline is 0.5 kWh per interval; each event is 1 h, 4 x 0.25 kWh delivered at 150/MWh; the recovery window is
4 h (default), the off-peak reference 40/MWh.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest

from assessment.models import MeterReading
from settlement.models import SettlementCoverage, SettlementItem, SettlementRun
from settlement.selectors import balance_mismatches, ledger_is_balanced
from settlement.services.event_settlement import event_settle, event_window
from settlement.services.runs import settlement_run_execute

from .factories import DAY, NOW, event_make, world_make
from .test_services_shifting import _shifting_device

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)

#: per premise: shifting device?, 16 recovery intervals (kWh), delivered per interval
PROFILES = [
    (True, [D("0.7")] * 4, D("0.25")),  # rebound 0.8 kWh: credit 0.8 x 110 / 1000 = 0.088 -> 0.09
    (True, [D("0.5")] * 16, D("0.25")),  # no rebound: no credit, nothing to recognise the recovery run by
    (True, [D("0.6")] * 16, D("0.25")),  # rebound 1.6 > 1.0 delivered: 1.0 x 110 / 1000 = 0.11
    (False, [D("0.7")] * 4, D("0.25")),  # no shifting device: sheds, no credit
    (True, [D("0.7")] * 4, D("0")),  # delivered nothing: nothing shifted, no performance item
]


def _history(premise, *, event_start, recovery_kwh, delivered):
    meter = premise.meters.get()
    days, d = [], DAY - timedelta(days=1)
    while len(days) < 10:
        if d.weekday() < 5:
            days.append(d)
        d -= timedelta(days=1)
    rows = [
        MeterReading(meter=meter, start=day + timedelta(minutes=15 * i), kwh=D("0.5"))
        for day in days
        for i in range(96)
    ]
    recovery = {event_start + HOUR + timedelta(minutes=15 * i): kwh for i, kwh in enumerate(recovery_kwh)}
    for i in range(96):
        s = DAY + timedelta(minutes=15 * i)
        kwh = D("0.5") - delivered if event_start <= s < event_start + HOUR else recovery.get(s, D("0.5"))
        rows.append(MeterReading(meter=meter, start=s, kwh=kwh))
    MeterReading.objects.bulk_create(rows)


def _world(tag: str, event_start):
    """Two premises per profile, every event starting at ``event_start``: several events per window."""
    w = world_make(n=2 * len(PROFILES), tag=tag)
    events = []
    for i, p in enumerate(w.premises):
        shifting, recovery_kwh, delivered = PROFILES[i % len(PROFILES)]
        if shifting:
            _shifting_device(p)
        _history(p, event_start=event_start, recovery_kwh=recovery_kwh, delivered=delivered)
        events.append(
            event_make(
                w, p, start=event_start, price=D("150"), target_kw=D("1"), delivered=[delivered] * 4, baseline=D("0.5")
            )
        )
    return w, events


def _paid(w, events):
    """Every event item, by the premise's position: comparable across two worlds."""
    position = {p.pk: i for i, p in enumerate(w.premises)}
    return sorted(
        (position[premise], kind, amount, qty)
        for premise, kind, amount, qty in SettlementItem.objects.filter(event__in=events).values_list(
            "premise_id", "kind", "amount", "quantity_kwh"
        )
    )


def _windows(event_start):
    return event_window(event_start), event_window(event_start + HOUR + timedelta(hours=4))


def test_each_window_runs_once_and_pays_what_one_run_per_event_paid():
    first, second = DAY + timedelta(hours=12), DAY + timedelta(hours=13)
    w_new, new = _world("cov-new", first)
    w_old, old = _world("cov-old", second)
    for e in new:  # the tasks, one per verification
        event_settle(event_id=e.pk, now=NOW)
    for _ in old:  # the path before the marker: every event's task ran its event window and its recovery window
        for start, end in _windows(second):
            settlement_run_execute(window_start=start, window_end=end, trigger=SettlementRun.Trigger.EVENT, now=NOW)
    assert _paid(w_new, new) == _paid(w_old, old)
    kinds = {(pos % len(PROFILES), kind, amount) for pos, kind, amount, _ in _paid(w_new, new)}
    assert {(0, "shift_credit", D("0.09")), (2, "shift_credit", D("0.11"))} <= kinds
    assert not {k for k in kinds if k[0] in (1, 3, 4) and k[1] in ("shift_credit", "energy_credit")}
    # one attempt per window, though one event in five earns no credit and one in five is not paid at all
    for start, end in _windows(first):
        assert SettlementRun.objects.get(window_start=start, window_end=end).attempts == 1
    assert SettlementCoverage.objects.filter(verification__event__in=new, role="event").count() == len(new)
    # the recovery role: every event of a shifting premise, credited or not
    assert SettlementCoverage.objects.filter(verification__event__in=new, role="recovery").count() == 8
    # the daily sweep finds nothing left to pay for either world
    daily = settlement_run_execute(window_start=DAY, window_end=DAY + timedelta(days=1), now=NOW)
    assert not SettlementItem.objects.filter(run=daily, event__in=new + old).exists()
    assert ledger_is_balanced() and balance_mismatches() == []


def test_a_task_delivered_twice_pays_nothing_twice_and_runs_nothing():
    start = DAY + timedelta(hours=15)
    _w, events = _world("cov-twice", start)
    for e in events:
        event_settle(event_id=e.pk, now=NOW)
    items = sorted(SettlementItem.objects.values_list("business_key", "amount"))
    attempts = sorted(SettlementRun.objects.values_list("window_start", "attempts"))
    for e in events:  # every task delivered again (acks_late: a worker lost after the run, before the ack)
        run = event_settle(event_id=e.pk, now=NOW)
        assert (run.window_start, run.window_end) == event_window(start)
    assert sorted(SettlementItem.objects.values_list("business_key", "amount")) == items
    assert sorted(SettlementRun.objects.values_list("window_start", "attempts")) == attempts


def test_a_recovery_not_yet_metered_is_not_covered_and_a_later_task_pays_it():
    """Coverage is written only for a conclusive settlement: an event whose recovery intervals are not all metered
    is left uncovered, so the next task of that window (or the daily sweep) pays its credit."""
    start = DAY + timedelta(hours=16)
    w = world_make(n=2, tag="cov-late")
    events = []
    for p in w.premises:
        _shifting_device(p)
        _history(p, event_start=start, recovery_kwh=[D("0.7")] * 4, delivered=D("0.25"))
        events.append(
            event_make(
                w, p, start=start, price=D("150"), target_kw=D("1"), delivered=[D("0.25")] * 4, baseline=D("0.5")
            )
        )
    late = MeterReading.objects.get(meter__premise=w.premises[1], start=start + HOUR + timedelta(hours=3, minutes=45))
    kwh = late.kwh
    late.delete()
    event_settle(event_id=events[0].pk, now=NOW)
    assert SettlementItem.objects.filter(event=events[0], kind="shift_credit").exists()
    assert not SettlementItem.objects.filter(event=events[1], kind="shift_credit").exists()
    assert not SettlementCoverage.objects.filter(verification__event=events[1], role="recovery").exists()
    MeterReading.objects.create(meter=w.premises[1].meters.get(), start=late.start, kwh=kwh)
    event_settle(event_id=events[1].pk, now=NOW)
    assert SettlementItem.objects.get(event=events[1], kind="shift_credit").amount == D("0.09")
    recovery = SettlementRun.objects.get(window_start=_windows(start)[1][0])
    assert recovery.attempts == 2 and SettlementItem.objects.filter(kind="shift_credit").count() == 2


def test_a_covered_task_costs_a_few_statements_whatever_the_window_holds(django_assert_max_num_queries):
    start = DAY + timedelta(hours=10)
    _w, events = _world("cov-cheap", start)
    event_settle(event_id=events[0].pk, now=NOW)  # the first task runs both windows for all ten events
    for e in events[1:]:
        # the verification, its event marker, the window's run, the shifting-device check, the recovery
        # parameter, its recovery marker, the recovery run: never the window's run again
        with django_assert_max_num_queries(8):
            event_settle(event_id=e.pk, now=NOW)
