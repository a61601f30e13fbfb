"""Delivery is netted over the event (NAESB WEQ-015 performance window), never floored per interval."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

import demo
from activation import services
from activation.models import VerificationInterval
from assessment.services import baseline_compute, meter_readings_record

pytestmark = pytest.mark.django_db


def _verify_with_offsets(program, premise, day, offsets):
    """An event whose meter reads baseline - offset per interval (the rest of the intervals: the baseline)."""
    start, end = demo.event_window(day)
    now0 = start - timedelta(hours=1)
    event = services.event_create(
        program=program, premise=premise, target_kw=Decimal("1"), start=start, end=end, now=now0
    )
    services.event_activate(event_id=event.pk, now=start)
    services.event_complete(event_id=event.pk, now=end)
    baseline = baseline_compute(meter=premise.meters.get(), window_start=start, window_end=end, now=now0)
    intervals = list(baseline.intervals.order_by("start"))
    assert len(intervals) >= len(offsets) and all(i.kwh >= Decimal("0.4") for i in intervals)
    readings = [(i.start, i.kwh - (offsets[k] if k < len(offsets) else Decimal("0"))) for k, i in enumerate(intervals)]
    meter_readings_record(meter=premise.meters.get(), readings=readings)
    return services.event_verify(event_id=event.pk, now=end + timedelta(hours=1))


def test_delivery_nets_over_the_event_and_keeps_intervals_signed(small_world):
    premise = small_world.premises[3]
    program = services.program_create(code="net", name="Net", notice_minutes=0)
    services.enrollment_create(program=program, premise=premise, committed_kw=Decimal("5"))
    offsets = [Decimal("0.4"), Decimal("-0.1"), Decimal("0.2"), Decimal("-0.3")]
    v = _verify_with_offsets(program, premise, small_world.day, offsets)
    # 0.4 - 0.1 + 0.2 - 0.3 = 0.2 kWh; flooring each interval would have paid 0.4 + 0.2 = 0.6 kWh
    assert v.delivered_kwh == Decimal("0.2000")
    assert v.baseline_kwh - v.actual_kwh == Decimal("0.2000")
    signed = list(
        VerificationInterval.objects.filter(verification=v).order_by("start").values_list("delivered_kwh", flat=True)
    )
    assert signed[:4] == offsets and all(d == 0 for d in signed[4:])


def test_net_negative_event_is_zero_unless_the_program_allows_negative_credit(small_world):
    premise = small_world.premises[3]
    offsets = [Decimal("-0.4"), Decimal("0.1")]  # net -0.3 kWh
    plain = services.program_create(code="plain", name="Plain", notice_minutes=0)
    services.enrollment_create(program=plain, premise=premise, committed_kw=Decimal("5"))
    v = _verify_with_offsets(plain, premise, small_world.day, offsets)
    assert v.delivered_kwh == Decimal("0")
    assert VerificationInterval.objects.get(verification=v, start=v.event.start).delivered_kwh == Decimal("-0.4")

    signed = services.program_create(code="signed", name="Signed", notice_minutes=0, allows_negative_credit=True)
    services.enrollment_create(program=signed, premise=premise, committed_kw=Decimal("5"))
    v = _verify_with_offsets(signed, premise, small_world.day + timedelta(days=1), offsets)
    assert v.delivered_kwh == Decimal("-0.3000")
