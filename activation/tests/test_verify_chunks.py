"""The verification sweep is split into chunks of due events that several workers share; a chunk is safe to run
twice (issue #21)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

import demo
from activation import services, tasks
from activation.models import DREvent, EventVerification
from assessment.services import baseline_compute, meter_readings_record

pytestmark = pytest.mark.django_db


def _completed_event(small_world, premise, *, with_data: bool) -> DREvent:
    start, end = demo.event_window(small_world.day)
    now0 = start - timedelta(hours=1)
    program = services.program_create(code=f"chunk-{premise.pk}", name="Chunks", notice_minutes=0)
    services.enrollment_create(program=program, premise=premise, committed_kw=Decimal("2"))
    event = services.event_create(
        program=program, premise=premise, target_kw=Decimal("1"), start=start, end=end, now=now0
    )
    services.event_activate(event_id=event.pk, now=start)
    services.event_complete(event_id=event.pk, now=end)
    if with_data:
        baseline = baseline_compute(meter=premise.meters.get(), window_start=start, window_end=end, now=now0)
        meter_readings_record(
            meter=premise.meters.get(), readings=[(i.start, i.kwh) for i in baseline.intervals.order_by("start")]
        )
    return event


def test_an_event_not_completed_is_not_due(small_world):
    start, end = demo.event_window(small_world.day)
    program = services.program_create(code="not-yet", name="Not yet", notice_minutes=0)
    premise = small_world.premises[0]
    services.enrollment_create(program=program, premise=premise, committed_kw=Decimal("2"))
    services.event_create(
        program=program, premise=premise, target_kw=Decimal("1"), start=start, end=end, now=start - timedelta(hours=1)
    )
    assert services.events_due_for_verification() == []
    assert tasks.verify_due_events.delay().get() == 0


def test_the_sweep_sends_one_task_per_chunk_and_every_due_event_once(small_world, monkeypatch):
    events = [_completed_event(small_world, p, with_data=False) for p in small_world.premises[:3]]
    sent: list[list[int]] = []
    monkeypatch.setattr(tasks, "VERIFY_CHUNK", 2)
    monkeypatch.setattr(tasks.verify_events, "delay", lambda ids: sent.append(ids))
    assert tasks.verify_due_events.delay().get() == 3
    assert sent == [[events[0].pk, events[1].pk], [events[2].pk]]


def test_a_chunk_skips_events_without_data_and_is_safe_to_run_twice(small_world):
    ready = _completed_event(small_world, small_world.premises[1], with_data=True)
    waiting = _completed_event(small_world, small_world.premises[2], with_data=False)
    end = ready.end + timedelta(hours=1)
    assert services.events_verify(event_ids=[waiting.pk, ready.pk], now=end) == [ready.pk]
    first = EventVerification.objects.get(event=ready)
    assert services.events_verify(event_ids=[waiting.pk, ready.pk], now=end + timedelta(hours=1)) == [ready.pk]
    assert list(EventVerification.objects.filter(event__in=[ready, waiting])) == [first]
    assert services.events_due_for_verification() == [waiting.pk]


def test_a_chunk_is_announced_once_with_its_penalties_and_a_repeat_announces_nothing(
    small_world, django_capture_on_commit_callbacks
):
    """Issue #21 (ADR 0044): one ``verifications_final`` per chunk, not one signal per event and per penalty."""
    from activation.models import Penalty
    from activation.signals import penalty_recorded, verification_final, verifications_final

    events = [_completed_event(small_world, p, with_data=True) for p in small_world.premises[1:3]]
    waiting = _completed_event(small_world, small_world.premises[3], with_data=False)
    sent: dict[str, list] = {"chunk": [], "one": []}

    def chunk(sender, event_ids, penalty_ids, **kwargs):
        sent["chunk"].append((event_ids, penalty_ids))

    def one(sender, **kwargs):
        sent["one"].append(kwargs)

    verifications_final.connect(chunk, dispatch_uid="test-chunk")
    verification_final.connect(one, dispatch_uid="test-one")
    penalty_recorded.connect(one, dispatch_uid="test-one-penalty")
    try:
        ids = [waiting.pk] + [e.pk for e in events]
        end = events[0].end + timedelta(hours=1)
        with django_capture_on_commit_callbacks(execute=True):
            assert services.events_verify(event_ids=ids, now=end) == [e.pk for e in events]
        penalties = list(Penalty.objects.filter(event__in=events).order_by("event_id").values_list("pk", flat=True))
        assert sent["chunk"] == [([e.pk for e in events], penalties)]
        assert sent["one"] == []
        with django_capture_on_commit_callbacks(execute=True):
            assert services.events_verify(event_ids=ids, now=end) == [e.pk for e in events]
        assert len(sent["chunk"]) == 1 and sent["one"] == []
        # one event verified on its own (the API, the demo) is still announced on its own
        with django_capture_on_commit_callbacks(execute=True):
            services.event_verify(event_id=events[0].pk, now=end)  # verified already: nothing new
        assert sent["one"] == []
    finally:
        verifications_final.disconnect(dispatch_uid="test-chunk")
        verification_final.disconnect(dispatch_uid="test-one")
        penalty_recorded.disconnect(dispatch_uid="test-one-penalty")
