"""Event lifecycle, refusals, caps, opt-out, emergency stop, emergency events, triggers."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from activation import services
from activation.models import (
    DispatchSignal,
    DREvent,
    EmergencyStop,
    Enrollment,
    OptOut,
    OutboxMessage,
    Penalty,
    TriggerRule,
)
from flexplatform.errors import ApplicationError, Conflict, NotPermitted

from .conftest import window

pytestmark = pytest.mark.django_db


def _event(w, premise, kw="2", minutes_ahead=60, program=None):
    start, end = window(w.now, minutes_ahead)
    return services.event_create(
        program=program or w.program, premise=premise, target_kw=Decimal(kw), start=start, end=end, now=w.now
    )


def test_lifecycle_scheduled_notified_active_completed(act_world):
    w = act_world
    event = _event(w, w.premises[0])
    # Created and dispatched: notified, one OpenADR signal, one outbox command per device within comfort limits.
    assert event.status == DREvent.Status.NOTIFIED and event.notified_at == w.now
    assert DispatchSignal.objects.filter(event=event).count() == 1
    rows = list(OutboxMessage.objects.filter(event=event))
    assert rows and all(r.status == OutboxMessage.Status.PENDING for r in rows)
    assert sum(Decimal(r.payload["shed_kw"]) for r in rows) >= Decimal("2")
    with pytest.raises(ApplicationError) as exc:
        services.event_activate(event_id=event.pk, now=w.now)
    assert exc.value.code == "not_started"
    with pytest.raises(ApplicationError) as exc:
        services.event_complete(event_id=event.pk, now=event.end)
    assert exc.value.code == "invalid_state"  # notified cannot complete directly by the service
    event = services.event_activate(event_id=event.pk, now=event.start)
    assert event.status == DREvent.Status.ACTIVE and event.activated_at == event.start
    with pytest.raises(ApplicationError) as exc:
        services.event_complete(event_id=event.pk, now=event.start + timedelta(minutes=5))
    assert exc.value.code == "not_ended"
    event = services.event_complete(event_id=event.pk, now=event.end)
    assert event.status == DREvent.Status.COMPLETED
    # Finished events cannot be cancelled, dispatched or opted out of.
    with pytest.raises(ApplicationError):
        services.event_cancel(event_id=event.pk, now=event.end)
    with pytest.raises(ApplicationError):
        services.event_dispatch(event=event, now=event.end)


def test_scheduled_event_is_notified_by_dispatch_and_dispatch_is_idempotent(act_world):
    w = act_world
    start, end = window(w.now)
    event = services.event_create(
        program=w.program,
        premise=w.premises[3],
        target_kw=Decimal("10"),
        start=start,
        end=end,
        now=w.now,
        dispatch=False,
    )
    assert event.status == DREvent.Status.SCHEDULED
    services.event_dispatch(event=event, now=w.now)
    n = OutboxMessage.objects.filter(event=event).count()
    services.event_dispatch(event=event, now=w.now)
    event.refresh_from_db()
    assert event.status == DREvent.Status.NOTIFIED
    assert OutboxMessage.objects.filter(event=event).count() == n
    assert DispatchSignal.objects.filter(event=event).count() == 1


def test_refusals_notice_capacity_window_enrollment(act_world):
    w = act_world
    with pytest.raises(ApplicationError) as exc:
        _event(w, w.premises[0], minutes_ahead=10)  # program needs 30 minutes' notice
    assert exc.value.code == "notice_too_short" and "start" in exc.value.fields
    with pytest.raises(ApplicationError) as exc:
        _event(w, w.premises[0], kw="3.5")  # committed 3 kW
    assert exc.value.code == "above_capacity"
    start, end = window(w.now)
    with pytest.raises(ApplicationError):
        services.event_create(
            program=w.program, premise=w.premises[0], target_kw=Decimal("1"), start=end, end=start, now=w.now
        )
    Enrollment.objects.filter(premise=w.premises[1], program=w.program).delete()
    with pytest.raises(ApplicationError) as exc:
        _event(w, w.premises[1])
    assert exc.value.code == "not_enrolled"
    assert DREvent.objects.count() == 0


def test_caps_per_day_and_per_month(act_world):
    w = act_world
    p = w.premises[0]
    _event(w, p)
    with pytest.raises(Conflict) as exc:
        _event(w, p, minutes_ahead=240)  # same local day, program max 1/day
    assert exc.value.code == "cap_per_day" and "already has 1 event(s) that day (program max 1)" in exc.value.detail
    _event(w, p, minutes_ahead=60 + 24 * 60)
    _event(w, p, minutes_ahead=60 + 48 * 60)
    with pytest.raises(Conflict) as exc:
        _event(w, p, minutes_ahead=60 + 72 * 60)  # 3 per month
    assert exc.value.code == "cap_per_month" and "already has 3 event(s) that month (program max 3)" in exc.value.detail
    # A cancelled event does not count.
    services.event_cancel(event_id=DREvent.objects.filter(premise=p).last().pk, now=w.now)
    _event(w, p, minutes_ahead=60 + 72 * 60)


def test_opt_out_before_records_penalty_and_restores_nothing_unsent(act_world):
    w = act_world
    event = _event(w, w.premises[0], kw="2")
    consumer = w.user("consumer01@demo.flex")
    opt = services.event_opt_out(event_id=event.pk, user=consumer, now=w.now)
    assert opt.phase == OptOut.Phase.BEFORE and opt.consequence == "penalty"
    event.refresh_from_db()
    assert event.status == DREvent.Status.CANCELLED
    assert not OutboxMessage.objects.filter(event=event, status=OutboxMessage.Status.PENDING).exists()
    penalty = Penalty.objects.get(event=event)
    # 2 kW x 2 h = 4 kWh x $200/MWh = $0.80
    assert penalty.shortfall_kwh == Decimal("4.0000") and penalty.amount == Decimal("0.80")
    assert services.event_opt_out(event_id=event.pk, user=consumer, now=w.now) == opt  # idempotent


def test_opt_out_during_event_charges_the_remaining_time(act_world):
    w = act_world
    event = _event(w, w.premises[0], kw="2")
    services.event_activate(event_id=event.pk, now=event.start)
    consumer = w.user("consumer01@demo.flex")
    opt = services.event_opt_out(event_id=event.pk, user=consumer, now=event.start + timedelta(minutes=30))
    assert opt.phase == OptOut.Phase.DURING
    assert Penalty.objects.get(event=event).shortfall_kwh == Decimal("3.0000")  # 1.5 h left x 2 kW


def test_opt_out_refused_for_others_and_after_the_event(act_world):
    w = act_world
    event = _event(w, w.premises[0])
    with pytest.raises(NotPermitted):
        services.event_opt_out(event_id=event.pk, user=w.user("consumer02@demo.flex"), now=w.now)
    with pytest.raises(ApplicationError):
        services.event_opt_out(event_id=event.pk, user=w.user("consumer01@demo.flex"), now=event.end)


def test_emergency_stop_halts_dispatch_is_audited_and_only_admin_lifts(act_world):
    w = act_world
    event = _event(w, w.premises[0])
    operator = w.user("operator@demo.flex")
    stop = services.emergency_stop_engage(user=operator, reason="SCADA alarm", now=w.now)
    assert services.emergency_stop_engage(user=operator, reason="again", now=w.now) == stop
    # No new events, no dispatch, the outbox holds everything.
    with pytest.raises(Conflict) as exc:
        _event(w, w.premises[3])
    assert exc.value.code == "emergency_stop"
    result = services.outbox_flush(now=w.now)
    assert result == {"sent": 0, "failed": 0, "held": OutboxMessage.objects.filter(event=event).count()}
    assert not OutboxMessage.objects.exclude(status=OutboxMessage.Status.PENDING).exists()
    with pytest.raises(NotPermitted):
        services.emergency_stop_engage(user=w.user("consumer01@demo.flex"), reason="x")
    with pytest.raises(NotPermitted):
        services.emergency_stop_lift(user=operator)
    services.emergency_stop_lift(user=w.user("admin@demo.flex"), reason="cleared", now=w.now)
    row = EmergencyStop.objects.get()
    assert row.engaged_by == operator and row.lifted_by.email == "admin@demo.flex" and row.reason == "SCADA alarm"
    assert services.emergency_stop_active() is None
    with pytest.raises(ApplicationError):
        services.emergency_stop_lift(user=w.user("admin@demo.flex"))


def test_emergency_event_dispatches_every_enrolled_resource_within_safety(act_world):
    w = act_world
    operator = w.user("operator@demo.flex")
    # One premise already has an (economic) event at the same time: dispatched anyway.
    _event(w, w.premises[0])
    from accounts.models import GridZone

    start, end = window(w.now, minutes_ahead=5)
    events = services.emergency_event_create(
        program=w.emergency, zone=GridZone.objects.get(code="iso-east"), start=start, end=end, user=operator, now=w.now
    )
    assert len(events) == 6
    for e in events:
        enrollment = Enrollment.objects.get(program=w.emergency, premise=e.premise)
        # Committed is 2x the safety limit: dispatched at the safety limit, never past it.
        assert e.target_kw == enrollment.safety_max_kw
        shed = sum(Decimal(r.payload["shed_kw"]) for r in OutboxMessage.objects.filter(event=e))
        assert shed <= enrollment.safety_max_kw
        assert all(r.payload["emergency"] for r in OutboxMessage.objects.filter(event=e))
    with pytest.raises(ApplicationError):
        services.emergency_event_create(
            program=w.program,
            zone=GridZone.objects.get(code="iso-east"),
            start=start,
            end=end,
            user=operator,
            now=w.now,
        )
    with pytest.raises(NotPermitted):
        services.emergency_event_create(
            program=w.emergency,
            zone=GridZone.objects.get(code="iso-east"),
            start=start,
            end=end,
            user=w.user("aggregator@demo.flex"),
            now=w.now,
        )


def test_an_emergency_call_records_the_resources_over_their_caps_as_not_dispatched(act_world):
    """The emergency program's caps skip a resource, not the call: its event is recorded cancelled with the
    reason (as an award over its cap), nothing is commanded, and calling again records nothing twice."""
    from accounts.models import GridZone
    from activation.selectors_emergency import emergency_not_dispatched

    w = act_world
    w.emergency.max_events_per_day = 1
    w.emergency.save(update_fields=["max_events_per_day"])
    _event(w, w.premises[0], minutes_ahead=180)  # the day's one event for this premise
    start, end = window(w.now, minutes_ahead=5)
    zone = GridZone.objects.get(code="iso-east")
    call = dict(program=w.emergency, zone=zone, start=start, end=end, user=w.user("operator@demo.flex"), now=w.now)
    events = services.emergency_event_create(**call)
    assert len(events) == 5 and w.premises[0].pk not in {e.premise_id for e in events}
    skipped = DREvent.objects.get(program=w.emergency, premise=w.premises[0], start=start)
    assert skipped.status == DREvent.Status.CANCELLED
    assert skipped.cancel_reason.startswith("not dispatched (cap_per_day): 1 events already counted")
    assert not OutboxMessage.objects.filter(event=skipped).exists()  # never commanded: never verified or charged
    assert emergency_not_dispatched(program=w.emergency, start=start, end=end) == 1
    assert services.emergency_event_create(**call) == []  # again: nothing dispatched or recorded twice
    assert DREvent.objects.filter(program=w.emergency, start=start).count() == 6


@pytest.mark.parametrize(
    ("kind", "threshold", "value", "fires"),
    [
        ("price", "300", "450", True),
        ("price", "300", "250", False),
        ("frequency", "59.9", "59.85", True),
        ("frequency", "59.9", "60.0", False),
        ("forecast_load", "900", "950", True),
    ],
)
def test_trigger_rules_fire_a_cascade_once(act_world, kind, threshold, value, fires):
    from accounts.models import GridZone

    w = act_world
    zone = GridZone.objects.get(code="sub-east-1")
    w.program.notice_minutes = 0
    w.program.save()
    TriggerRule.objects.create(
        kind=kind,
        zone=zone,
        program=w.program,
        threshold=Decimal(threshold),
        target_kw=Decimal("20"),
        duration_minutes=60,
        operator=w.world.operator,
    )
    signal, fired = services.grid_signal_post(
        operator=w.world.operator, zone=zone, kind=kind, at=w.now, value=Decimal(value), now=w.now
    )
    assert bool(fired) == fires
    if fires:
        assert fired[0].cascade is not None and fired[0].cascade.events.exists()
        assert all(e.source == DREvent.Source.CASCADE for e in fired[0].cascade.events.all())
        _, again = services.grid_signal_post(
            operator=w.world.operator, zone=zone, kind=kind, at=w.now, value=Decimal(value), now=w.now
        )
        assert again == []


def test_award_events_created_under_the_stop_wait_and_go_out_when_it_lifts(act_world):
    w = act_world
    start, end = window(w.now)
    event = services.event_create(
        program=w.program,
        premise=w.premises[3],
        target_kw=Decimal("10"),
        start=start,
        end=end,
        now=w.now,
        dispatch=False,
    )
    services.emergency_stop_engage(user=w.user("operator@demo.flex"), reason="drill", now=w.now)
    assert services.events_dispatch_pending(now=w.now) == []
    services.emergency_stop_lift(user=w.user("admin@demo.flex"), now=w.now)
    assert services.events_dispatch_pending(now=w.now) == [event.pk]
    event.refresh_from_db()
    assert event.status == DREvent.Status.NOTIFIED and OutboxMessage.objects.filter(event=event).exists()


def test_an_event_is_created_only_in_a_status_one_move_from_scheduled():
    from datetime import UTC, datetime

    from activation.models import DREvent
    from activation.services.lifecycle import created_as

    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    assert created_as(DREvent.Status.NOTIFIED, now=now) == {"status": DREvent.Status.NOTIFIED, "notified_at": now}
    for status in (DREvent.Status.ACTIVE, DREvent.Status.COMPLETED, "bogus"):
        with pytest.raises(ValueError, match="cannot be created"):
            created_as(status, now=now)
