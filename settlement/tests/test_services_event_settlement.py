"""Event settlement within minutes of verification; the daily run is the sweep and pays nothing twice (ADR 0027)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest

import demo
from activation import services as activation
from activation.models import DREvent
from assessment.services import baseline_compute, meter_readings_record
from flexplatform.errors import ApplicationError
from settlement.models import SettlementItem, SettlementRun
from settlement.selectors import balance_mismatches, ledger_is_balanced
from settlement.services.event_settlement import event_settle, event_window
from settlement.services.runs import settlement_run_execute

from .factories import DAY, NOW, event_make, world_make

pytestmark = pytest.mark.django_db


def test_an_unverified_event_is_refused():
    w = world_make(n=1, tag="ev0")
    event = event_make(
        w, w.premises[0], start=DAY + timedelta(hours=9), price=D("100"), target_kw=D("1"), delivered=[D("0.5")]
    )
    event.verification.delete()
    with pytest.raises(ApplicationError) as exc:
        event_settle(event_id=event.pk, now=NOW)
    assert exc.value.code == "not_verified"
    assert not SettlementItem.objects.exists() and not SettlementRun.objects.exists()


def test_an_event_whose_window_has_not_ended_is_left_to_the_daily_run():
    w = world_make(n=1, tag="ev1")
    start = DAY + timedelta(hours=9, minutes=1)
    event = event_make(w, w.premises[0], start=start, price=D("100"), target_kw=D("1"), delivered=[D("0.5")])
    # its window is [09:00, 09:05): at 09:04 it has not ended
    assert event_window(start) == (DAY + timedelta(hours=9), DAY + timedelta(hours=9, minutes=5))
    assert event_settle(event_id=event.pk, now=DAY + timedelta(hours=9, minutes=4)) is None
    assert not SettlementItem.objects.exists()


def test_the_event_is_settled_alone_and_the_daily_sweep_pays_nothing_twice():
    w = world_make(n=2, tag="ev2")
    # 4 x 0.45 = 1.80 kWh delivered against 1 kW x 1 h = 1.00 kWh dispatched: paid 1.00 kWh x 123.45/MWh = 0.12345
    # -> 0.12; over-delivery 0.80 kWh; Governance tokens 1.80 / 10 = 0.18
    first = event_make(
        w,
        w.premises[0],
        start=DAY + timedelta(hours=9, minutes=2),
        price=D("123.45"),
        target_kw=D("1"),
        delivered=[D("0.45")] * 4,
    )
    other = event_make(
        w, w.premises[1], start=DAY + timedelta(hours=14), price=D("80"), target_kw=D("2"), delivered=[D("0.5")] * 4
    )
    run = event_settle(event_id=first.pk, now=NOW)
    assert run.trigger == SettlementRun.Trigger.EVENT
    assert (run.window_start, run.window_end) == (DAY + timedelta(hours=9), DAY + timedelta(hours=9, minutes=5))
    paid = dict(SettlementItem.objects.filter(event=first).values_list("kind", "amount"))
    assert paid["performance"] == D("0.12") and paid["governance_token"] == D("0.18")
    assert not SettlementItem.objects.filter(event=other).exists()  # another window: settled on its own
    before = sorted(SettlementItem.objects.filter(event=first).values_list("business_key", "amount"))

    daily = settlement_run_execute(window_start=DAY, window_end=DAY + timedelta(days=1), now=NOW)
    assert sorted(SettlementItem.objects.filter(event=first).values_list("business_key", "amount")) == before
    # the sweep pays the event the event path has not: 4 x 0.5 = 2.00 kWh x 80.00/MWh = 0.16
    assert SettlementItem.objects.get(event=other, kind="performance").amount == D("0.16")
    assert not SettlementItem.objects.filter(run=daily, event=first).exists()
    items = SettlementItem.objects.count()
    again = event_settle(event_id=first.pk, now=NOW)  # the task delivered again: no new attempt, nothing paid
    assert again.pk == run.pk and again.attempts == 1 and SettlementItem.objects.count() == items
    keys = list(SettlementItem.objects.values_list("business_key", flat=True))
    assert len(keys) == len(set(keys))
    assert ledger_is_balanced() and balance_mismatches() == []


def test_a_verification_settles_its_event_within_seconds_through_the_hook(
    small_world, django_capture_on_commit_callbacks
):
    """The real path: activation verifies (meter data netted over the event), commits, announces it; settlement's
    receiver runs the task (eager here, a worker in production) and the event is paid."""
    premise = small_world.premises[3]
    program = activation.program_create(
        code="ev", name="Event settlement", notice_minutes=0, energy_rate_per_mwh=D("150.00")
    )
    activation.enrollment_create(program=program, premise=premise, committed_kw=D("5"))
    start, end = demo.event_window(small_world.day)
    now0 = start - timedelta(hours=1)
    event = activation.event_create(program=program, premise=premise, target_kw=D("1"), start=start, end=end, now=now0)
    activation.event_activate(event_id=event.pk, now=start)
    activation.event_complete(event_id=event.pk, now=end)
    meter = premise.meters.get()
    intervals = list(
        baseline_compute(meter=meter, window_start=start, window_end=end, now=now0).intervals.order_by("start")
    )
    offsets = {0: D("0.4"), 1: D("0.2")}  # 0.6 kWh below the baseline, the rest on it
    meter_readings_record(
        meter=meter, readings=[(i.start, i.kwh - offsets.get(k, D("0"))) for k, i in enumerate(intervals)]
    )
    with django_capture_on_commit_callbacks(execute=True):
        verification = activation.event_verify(event_id=event.pk)
    item = SettlementItem.objects.get(event=event, kind="performance")
    # 0.6 kWh (below the dispatched 1 kW x the event's hours) x 150.00/MWh = 0.09
    assert (verification.delivered_kwh, item.amount) == (D("0.6000"), D("0.09"))
    assert item.run.trigger == SettlementRun.Trigger.EVENT
    assert timedelta(0) <= item.created_at - verification.verified_at < timedelta(minutes=1)
    assert DREvent.objects.get(pk=event.pk).settlements.count() >= 1


def test_events_of_one_window_are_paid_by_the_first_task_and_the_others_run_nothing():
    w = world_make(n=3, tag="ev9")
    start = DAY + timedelta(hours=17)
    events = [
        event_make(w, p, start=start, price=D("100"), target_kw=D("1"), delivered=[D("0.5")] * 4) for p in w.premises
    ]
    run = event_settle(event_id=events[0].pk, now=NOW)
    assert run.attempts == 1
    assert all(SettlementItem.objects.filter(event=e, run=run, kind="performance").exists() for e in events)
    items = SettlementItem.objects.count()
    for e in events[1:]:  # their own tasks, delivered after the first: the window's run has paid them
        assert event_settle(event_id=e.pk, now=NOW).pk == run.pk
    run.refresh_from_db()
    assert run.attempts == 1 and SettlementItem.objects.count() == items
    assert ledger_is_balanced() and balance_mismatches() == []
