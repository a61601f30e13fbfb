"""Verification -> reliability indicators, shortfall penalties, derating, suspension (with real meter data)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

import demo
from activation import selectors, services
from activation.models import Enrollment, EventPerformance, Penalty
from activation.tests.factories import commands_sent
from assessment.selectors import accredited_capacity_kw
from assessment.services import baseline_compute, flexibility_assess, meter_readings_record
from flexplatform.errors import Conflict

pytestmark = pytest.mark.django_db


def _run_event(program, premise, day, target_kw, delivered_share):
    start, end = demo.event_window(day)
    now0 = start - timedelta(hours=1)
    event = services.event_create(program=program, premise=premise, target_kw=target_kw, start=start, end=end, now=now0)
    commands_sent(event)
    services.event_activate(event_id=event.pk, now=start)
    services.event_complete(event_id=event.pk, now=end)
    meter = premise.meters.get()
    baseline = baseline_compute(meter=meter, window_start=start, window_end=end, now=now0)
    per_interval = target_kw * Decimal(meter.interval_minutes) / 60
    readings = [(i.start, max(i.kwh - per_interval * delivered_share, Decimal("0"))) for i in baseline.intervals.all()]
    meter_readings_record(meter=meter, readings=readings)
    return services.event_verify(event_id=event.pk, now=end + timedelta(hours=1)), event


def test_shortfall_penalty_then_derate_then_suspension(small_world, django_capture_on_commit_callbacks):
    premise = small_world.premises[3]  # a business
    program = services.program_create(
        code="strict",
        name="Strict",
        notice_minutes=0,
        penalty_rate_per_mwh=Decimal("100"),
        derate_after_failures=2,
        suspend_after_failures=3,
        derate_factor=Decimal("0.5"),
    )
    services.enrollment_create(program=program, premise=premise, committed_kw=Decimal("5"))
    day = small_world.day

    # 1. Full delivery: indicators good, no penalty.
    v, event = _run_event(program, premise, day - timedelta(days=0), Decimal("4"), Decimal("1"))
    perf = EventPerformance.objects.get(event=event)
    assert v.delivered_kwh == v.committed_kwh == Decimal("8.0000")
    assert perf.magnitude_achievement == Decimal("1.0000") and perf.duration_compliance == Decimal("1.0000")
    assert perf.response_seconds == 15 * 60  # the first 15-minute interval already delivered
    assert not Penalty.objects.exists()

    # 2. Half delivery (below 75 %): penalty = (8 - 4) kWh x $100/MWh = $0.40; one failure.
    with django_capture_on_commit_callbacks(execute=True):  # the tasks enqueued on commit run
        v, event = _run_event(program, premise, day + timedelta(days=1), Decimal("4"), Decimal("0.5"))
    penalty = Penalty.objects.get(event=event)
    assert v.delivered_kwh == Decimal("4.0000")
    assert penalty.shortfall_kwh == Decimal("4.0000") and penalty.amount == Decimal("0.40")
    assert penalty.payer == premise.organisation and penalty.reason == Penalty.Reason.SHORTFALL
    assert EventPerformance.objects.get(event=event).activated is False
    e = Enrollment.objects.get(program=program, premise=premise)
    assert e.consecutive_failures == 1 and e.status == Enrollment.Status.ACTIVE

    # 3. Second failure in a row: derated to 50 % (5 kW -> 2.5 kW available).
    with django_capture_on_commit_callbacks(execute=True):  # the tasks enqueued on commit run
        _run_event(program, premise, day + timedelta(days=2), Decimal("4"), Decimal("0"))
    e.refresh_from_db()
    assert e.status == Enrollment.Status.DERATED and e.derate == Decimal("0.500")
    assert selectors.resource_derate(premise) == Decimal("0.500")
    assert not selectors.resource_suspended(premise)

    # 4. Third failure: suspended; the market sees it and new events are refused.
    with django_capture_on_commit_callbacks(execute=True):  # the tasks enqueued on commit run
        _run_event(program, premise, day + timedelta(days=3), Decimal("2.5"), Decimal("0"))
    e.refresh_from_db()
    assert e.status == Enrollment.Status.SUSPENDED
    assert selectors.resource_suspended(premise) and selectors.resource_suspended(premise.pk)
    start, end = demo.event_window(day + timedelta(days=5))
    with pytest.raises(Conflict) as exc:
        services.event_create(
            program=program,
            premise=premise,
            target_kw=Decimal("1"),
            start=start,
            end=end,
            now=start - timedelta(hours=1),
        )
    assert exc.value.code == "resource_suspended"
    # ... and the market's capacity gate gives a suspended resource nothing to sell.
    assessed = flexibility_assess(premise=premise, window_start=start, window_end=end)
    assert assessed.capacity_kw > 0
    assert accredited_capacity_kw(premise=premise, start=start, end=end) == Decimal("0")

    # Settlement reads the penalties of a period.
    s, _ = demo.local_day_bounds(day)
    _, f = demo.local_day_bounds(day + timedelta(days=3))
    rows = list(selectors.penalties_for_period(start=s, end=f))
    assert len(rows) == 3 and sum(r.amount for r in rows) == Decimal("0.40") + Decimal("0.80") + Decimal("0.50")
    # ... and each penalty was charged to its payer in the ledger, once (the settlement task ran on commit).
    from settlement.models import SettlementItem
    from settlement.selectors import ledger_is_balanced

    charged = SettlementItem.objects.filter(business_key__startswith="penalty:activation:")
    assert charged.count() == 3 and {i.payee_id for i in charged} == {premise.organisation_id}
    assert sum(i.amount for i in charged) == Decimal("-1.70") and ledger_is_balanced()  # charges are negative
    rel = selectors.resource_reliability(premise)
    assert rel["events"] == 4 and rel["magnitude_achievement"] == Decimal("0.375")
    # No device ever acknowledged (the commands never left the outbox here): not available, so no success.
    assert rel["availability_factor"] == 0 and rel["success_rate"] == 0
