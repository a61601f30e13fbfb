"""Events from market awards meet the same limits as every other event (``activation.services.event_rules``): the
market program's per-day / per-month caps for the resource, counted once for consecutive awards, and the owner's
limits per device at dispatch. Refusals first: an award over its resource's cap is not dispatched, the reason is
recorded on its event, and nothing of it is the consumer's to answer for; a called reservation follows its own
terms but counts towards the caps."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest

from accounts.models import Device
from activation import services
from activation.models import (
    DeviceDispatch,
    DispatchSignal,
    DREvent,
    EventPerformance,
    EventVerification,
    OutboxMessage,
    Penalty,
    Program,
)
from activation.selectors import event_accountable_kw
from activation.services.performance import event_performance_record
from flexplatform.errors import ApplicationError, Conflict
from market.models import Award, ClearingRun

pytestmark = pytest.mark.django_db


def _award(w, premise, *, start, hours=1, kw="2", product="energy"):
    run = ClearingRun.objects.create(
        rule_version="t", awarded_kw=D(kw), inputs={}, outputs={}, cleared_at=w.now - timedelta(hours=12)
    )
    return Award.objects.create(
        clearing_run=run, premise=premise, seller=premise.organisation, buyer=w.world.operator, market="day_ahead",
        product=product, kw=D(kw), clearing_price_per_mwh=D("90.00"), window_start=start,
        window_end=start + timedelta(hours=hours),
    )  # fmt: skip


def _nothing_went_out(event):
    assert not DispatchSignal.objects.filter(event=event).exists()
    assert not OutboxMessage.objects.filter(event=event).exists()
    assert not DeviceDispatch.objects.filter(event=event).exists()


def test_an_award_over_the_daily_cap_is_not_dispatched_and_the_reason_is_recorded(act_world):
    w = act_world
    p = w.premises[0]
    program = services.market_program()
    assert program.max_events_per_day == 2
    morning = w.now + timedelta(hours=2)  # 14:00 UTC, same local day
    first = services.award_activate(award_id=_award(w, p, start=morning).pk, now=w.now)
    second = services.award_activate(award_id=_award(w, p, start=morning + timedelta(hours=3)).pk, now=w.now)
    assert first.status == second.status == DREvent.Status.NOTIFIED
    over = services.award_activate(award_id=_award(w, p, start=morning + timedelta(hours=6)).pk, now=w.now)
    assert over.status == DREvent.Status.CANCELLED and over.cancelled_at == w.now
    assert over.cancel_reason.startswith("not dispatched (cap_per_day):")
    assert "already has 2 event(s) that day (program max 2)" in over.cancel_reason
    _nothing_went_out(over)
    # The same rule refuses an operator's event in that program, with the same words.
    with pytest.raises(Conflict) as exc:
        services.event_create(
            program=program, premise=p, target_kw=D("1"), start=morning + timedelta(hours=8),
            end=morning + timedelta(hours=9), now=w.now,
        )  # fmt: skip
    assert exc.value.code == "cap_per_day" and exc.value.detail in over.cancel_reason
    # Recorded once: the award is activated, so neither a redelivered task nor the sweep makes another event.
    assert services.award_activate(award_id=over.award_id, now=w.now).pk == over.pk
    assert services.awards_activate_pending(now=w.now) == []
    # Nothing to answer for: the event is never verified (so never penalised), and cannot be dispatched later.
    with pytest.raises(ApplicationError):
        services.event_verify(event_id=over.pk, now=over.end + timedelta(hours=1))
    with pytest.raises(ApplicationError):
        services.event_dispatch(event=over, now=w.now)
    assert not Penalty.objects.filter(event=over).exists()
    # Another premise is not concerned.
    other = services.award_activate(award_id=_award(w, w.premises[1], start=morning + timedelta(hours=6)).pk, now=w.now)
    assert other.status == DREvent.Status.NOTIFIED


def test_an_award_over_the_monthly_cap_is_not_dispatched(act_world):
    w = act_world
    p = w.premises[2]
    Program.objects.filter(pk=services.market_program().pk).update(max_events_per_month=2)
    start = w.now + timedelta(hours=2)
    for day in range(2):
        event = services.award_activate(award_id=_award(w, p, start=start + timedelta(days=day)).pk, now=w.now)
        assert event.status == DREvent.Status.NOTIFIED
    over = services.award_activate(award_id=_award(w, p, start=start + timedelta(days=5)).pk, now=w.now)
    assert over.status == DREvent.Status.CANCELLED
    assert over.cancel_reason.startswith("not dispatched (cap_per_month):")
    _nothing_went_out(over)


def test_a_called_reservation_follows_its_own_terms_and_counts_towards_the_caps(act_world):
    w = act_world
    p = w.premises[3]
    start = w.now + timedelta(hours=2)
    services.award_activate(award_id=_award(w, p, start=start).pk, now=w.now)
    reservation = services.award_activate(
        award_id=_award(w, p, start=w.now + timedelta(hours=1), hours=10, product="spinning_reserve").pk, now=w.now
    )
    call = services.reservation_call(
        reservation_id=reservation.pk, user=w.user("operator@demo.flex"), target_kw=D("1"),
        start=start + timedelta(hours=3), end=start + timedelta(hours=4), now=w.now,
    )  # fmt: skip
    assert call.status == DREvent.Status.NOTIFIED  # the buyer's call, within the reservation's terms
    # The award and the call are the resource's 2 events that day: a later award is not dispatched.
    over = services.award_activate(award_id=_award(w, p, start=start + timedelta(hours=6)).pk, now=w.now)
    assert over.status == DREvent.Status.CANCELLED and "(cap_per_day)" in over.cancel_reason
    _nothing_went_out(over)


def test_consecutive_awards_are_one_event_for_the_caps(act_world):
    """A day-ahead block: four consecutive hourly awards of one resource are one curtailment, all dispatched."""
    w = act_world
    p = w.premises[1]
    start = w.now + timedelta(hours=2)
    events = [
        services.award_activate(award_id=_award(w, p, start=start + timedelta(hours=h)).pk, now=w.now) for h in range(4)
    ]
    assert [e.status for e in events] == [DREvent.Status.NOTIFIED] * 4
    # The block counts as one: one more separate event fits the cap of 2, a third does not.
    later = services.award_activate(award_id=_award(w, p, start=start + timedelta(hours=6)).pk, now=w.now)
    assert later.status == DREvent.Status.NOTIFIED
    over = services.award_activate(award_id=_award(w, p, start=start + timedelta(hours=9)).pk, now=w.now)
    assert over.status == DREvent.Status.CANCELLED and "(cap_per_day)" in over.cancel_reason


def test_an_award_respects_the_owners_device_limits_and_the_uncommanded_kw_is_not_the_consumers(act_world):
    w = act_world
    p = w.premises[0]
    devices = list(Device.objects.filter(premise=p, active=True))
    assert devices
    Device.objects.filter(premise=p).update(max_events_per_day=1)  # the owner's limit: one event a day per device
    start = w.now + timedelta(hours=2)
    first = services.event_create(
        program=w.program, premise=p, target_kw=D("2"), start=start, end=start + timedelta(hours=1), now=w.now
    )
    assert DeviceDispatch.objects.filter(event=first).exists()
    award_event = services.award_activate(award_id=_award(w, p, start=start + timedelta(hours=3)).pk, now=w.now)
    # Dispatched (under the program's caps), but no device past its own limit is commanded.
    assert award_event.status == DREvent.Status.NOTIFIED
    assert DispatchSignal.objects.filter(event=award_event).exists()
    assert not DeviceDispatch.objects.filter(event=award_event).exists()
    assert not OutboxMessage.objects.filter(event=award_event).exclude(channel="webhook").exists()
    # M&V: the premise answers for what was commanded, 0 kW; delivering nothing is then no failure, no penalty.
    assert event_accountable_kw(award_event) == D("0.000")
    verification = EventVerification.objects.create(
        event=award_event, baseline_kwh=D("5"), actual_kwh=D("5"), delivered_kwh=D("0"), committed_kwh=D("2"),
        verified_at=award_event.end,
    )  # fmt: skip
    event_performance_record(event=award_event, verification=verification, rows=[], now=award_event.end)
    assert EventPerformance.objects.get(event=award_event).magnitude_achievement == D("1")
    assert not Penalty.objects.filter(event=award_event).exists()
