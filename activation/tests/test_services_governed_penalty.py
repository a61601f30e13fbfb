"""The penalty of a market event uses the governed penalty rate in force when it is recorded."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

import demo
from activation import services
from activation.models import DREvent, Penalty
from activation.tests.factories import commands_sent
from assessment.services import baseline_compute, meter_readings_record
from market.models import Award, ClearingRun, FlexibilityOffer, FlexibilityRequest
from settlement.models import SettlementItem
from settlement.selectors import market_parameter
from settlement.tests.factories import parameter_govern

pytestmark = pytest.mark.django_db
PRICE = Decimal("120.00")


def _award(world, premise, day) -> Award:
    start, end = demo.event_window(day)
    kw = Decimal("4")
    offer = FlexibilityOffer.objects.create(
        seller=premise.organisation, premise=premise, zone=premise.grid_zone, kw=kw, price_per_mwh=PRICE,
        window_start=start, window_end=end,
    )  # fmt: skip
    request = FlexibilityRequest.objects.create(
        operator=world.operator, zone=premise.grid_zone, kw=kw, max_price_per_mwh=PRICE,
        window_start=start, window_end=end,
    )  # fmt: skip
    run = ClearingRun.objects.create(
        request=request, rule_version="t", clearing_price_per_mwh=PRICE, awarded_kw=kw, inputs={}, outputs={},
        cleared_at=start - timedelta(days=1),
    )  # fmt: skip
    return Award.objects.create(
        clearing_run=run, request=request, offer=offer, premise=premise, seller=premise.organisation,
        buyer=world.operator, kw=kw, clearing_price_per_mwh=PRICE, window_start=start, window_end=end,
    )  # fmt: skip


def _half_delivered_award_event(world, premise, day, capture) -> DREvent:
    """A 4 kW, 2 h market event (8 kWh committed) delivered at 50 %: a 4 kWh shortfall."""
    award = _award(world, premise, day)
    start, end = award.window_start, award.window_end
    event = services.event_create_for_award(award_id=award.pk, now=start - timedelta(hours=2))
    commands_sent(event)
    services.event_activate(event_id=event.pk, now=start)
    services.event_complete(event_id=event.pk, now=end)
    meter = premise.meters.get()
    baseline = baseline_compute(meter=meter, window_start=start, window_end=end, now=start - timedelta(hours=2))
    per_interval = award.kw * Decimal(meter.interval_minutes) / 60 / 2
    meter_readings_record(meter=meter, readings=[(i.start, i.kwh - per_interval) for i in baseline.intervals.all()])
    with capture(execute=True):  # the settlement task charging the penalty runs on commit
        services.event_verify(event_id=event.pk, now=end + timedelta(hours=1))
    return event


def test_executed_proposal_changes_the_next_penalty_and_not_the_earlier_one(
    small_world, django_capture_on_commit_callbacks
):
    premise = small_world.premises[3]
    day = small_world.day
    # governed penalty_rate 1.5 x cleared 120.00 = 180.00/MWh; 4 kWh short x 180 / 1000 = 0.72
    first = _half_delivered_award_event(small_world, premise, day, django_capture_on_commit_callbacks)
    p1 = Penalty.objects.get(event=first)
    assert (p1.shortfall_kwh, p1.rate_per_mwh, p1.amount) == (Decimal("4.0000"), Decimal("180.00"), Decimal("0.72"))

    voter = small_world.premises[0].organisation
    parameter_govern(voter, "penalty_rate", Decimal("2.5"), now=demo.event_window(day)[1] + timedelta(hours=2))
    assert market_parameter("penalty_rate") == Decimal("2.5")

    # the next event: 2.5 x 120.00 = 300.00/MWh; 4 kWh x 300 / 1000 = 1.20
    second = _half_delivered_award_event(
        small_world, premise, day + timedelta(days=1), django_capture_on_commit_callbacks
    )
    p2 = Penalty.objects.get(event=second)
    assert (p2.rate_per_mwh, p2.amount) == (Decimal("300.00"), Decimal("1.20"))
    p1.refresh_from_db()
    assert p1.amount == Decimal("0.72")  # recorded before: unchanged
    charged = dict(SettlementItem.objects.filter(kind="penalty").values_list("event_id", "amount"))
    assert charged == {first.pk: Decimal("-0.72"), second.pk: Decimal("-1.20")}


def test_program_events_keep_the_programs_own_rate(small_world, django_capture_on_commit_callbacks):
    """An event nobody cleared (an operator program) is charged at the program's contracted rate."""
    premise = small_world.premises[3]
    program = services.program_create(
        code="own-rate", name="Own rate", notice_minutes=0, penalty_rate_per_mwh=Decimal("90")
    )
    services.enrollment_create(program=program, premise=premise, committed_kw=Decimal("5"))
    start, end = demo.event_window(small_world.day)
    event = services.event_create(
        program=program, premise=premise, target_kw=Decimal("4"), start=start, end=end, now=start - timedelta(hours=1)
    )
    assert services.penalty_rate_per_mwh(event=event, program=program) == Decimal("90")
