"""One path per status change (``activation.services.lifecycle``): the guarded transitions, the clock's bulk
advance run as production runs it (the beat's task), and the penalty signal sent on commit."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from activation import services
from activation.errors import ActivationErrorCode
from activation.models import DREvent, Penalty
from activation.services.lifecycle import EVENT_TRANSITIONS
from activation.signals import penalty_recorded
from flexplatform.celery import app
from flexplatform.errors import ApplicationError

pytestmark = pytest.mark.django_db

Status = DREvent.Status


def _event(w, premise, *, created, start, hours=1, dispatch=True):
    return services.event_create(
        program=w.program,
        premise=premise,
        target_kw=Decimal("2"),
        start=start,
        end=start + timedelta(hours=hours),
        now=created,
        dispatch=dispatch,
    )


def test_events_advance_runs_through_the_beat_task_with_the_guarded_transitions(act_world):
    """The ``advance-events`` beat entry's task, with no arguments and the real clock, as the worker runs it."""
    w = act_world
    real = timezone.now()
    p = w.premises
    missed = _event(w, p[0], created=real - timedelta(hours=4), start=real - timedelta(hours=3))
    running = _event(w, p[1], created=real - timedelta(hours=2), start=real - timedelta(hours=1), hours=2)
    ahead = _event(w, p[2], created=real, start=real + timedelta(hours=1))
    undispatched = _event(
        w, p[3], created=real - timedelta(hours=2), start=real - timedelta(hours=1), hours=2, dispatch=False
    )
    cancelled = _event(w, p[4], created=real - timedelta(hours=2), start=real - timedelta(hours=1), hours=2)
    services.event_cancel(event_id=cancelled.pk, now=real - timedelta(minutes=30))
    ended = _event(w, p[5], created=real - timedelta(hours=4), start=real - timedelta(hours=3))
    services.event_activate(event_id=ended.pk, now=ended.start)

    app.loader.import_default_modules()  # as a worker starts: the apps' task modules autodiscovered
    task = app.tasks[settings.CELERY_BEAT_SCHEDULE["advance-events"]["task"]]
    assert task.name == "activation.tasks.advance_events"
    # missed: notified -> active -> completed (2); running: -> active (1); ended: active -> completed (1)
    assert task.delay().get() == 4
    got = {e.pk: e for e in DREvent.objects.all()}
    assert got[missed.pk].status == Status.COMPLETED
    assert got[missed.pk].activated_at == got[missed.pk].completed_at is not None
    assert got[running.pk].status == Status.ACTIVE and got[running.pk].completed_at is None
    assert got[ahead.pk].status == Status.NOTIFIED and got[ahead.pk].activated_at is None
    assert got[undispatched.pk].status == Status.SCHEDULED  # never activated without its dispatch
    assert got[cancelled.pk].status == Status.CANCELLED and got[cancelled.pk].activated_at is None
    assert got[ended.pk].status == Status.COMPLETED and got[ended.pk].activated_at == ended.start
    assert task.delay().get() == 0  # a second run (or a second worker) changes nothing


def test_bulk_and_single_transitions_refuse_the_same_moves(act_world):
    w = act_world
    real = timezone.now()
    done = _event(w, w.premises[0], created=real - timedelta(hours=4), start=real - timedelta(hours=3))
    services.event_activate(event_id=done.pk, now=done.start)
    services.event_complete(event_id=done.pk, now=done.end)
    waiting = _event(w, w.premises[1], created=real, start=real + timedelta(hours=1))
    # One event at a time: a completed event cannot be cancelled or activated; the refusal names the code.
    for call in (
        lambda: services.event_cancel(event_id=done.pk, now=real),
        lambda: services.event_activate(event_id=done.pk, now=real),
        lambda: services.event_complete(event_id=waiting.pk, now=waiting.end),  # notified: not active yet
    ):
        with pytest.raises(ApplicationError) as exc:
            call()
        assert exc.value.code == ActivationErrorCode.INVALID_STATE == "invalid_state"
    # In bulk, the same table: only rows whose current status leads to the new one move.
    everything = DREvent.objects.all()
    assert services.events_move(events=everything, to=Status.CANCELLED, now=real) == 1  # the notified one
    assert services.events_move(events=everything, to=Status.ACTIVE, now=real) == 0
    assert set(DREvent.objects.values_list("status", flat=True)) == {Status.COMPLETED, Status.CANCELLED}
    assert Status.COMPLETED not in sum(EVENT_TRANSITIONS.values(), ())  # completed and cancelled are final
    assert Status.CANCELLED not in sum(EVENT_TRANSITIONS.values(), ())


def test_penalty_recorded_is_sent_once_the_transaction_commits(act_world, django_capture_on_commit_callbacks):
    w = act_world
    event = _event(w, w.premises[0], created=w.now, start=w.now + timedelta(hours=1), hours=2)
    heard: list[int] = []

    def receiver(sender, penalty_id, **kwargs):
        heard.append(penalty_id)

    penalty_recorded.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            services.event_opt_out(event_id=event.pk, user=w.user("consumer01@demo.flex"), now=w.now)
        assert heard == []  # nothing before the commit
        for callback in callbacks:
            callback()
    finally:
        penalty_recorded.disconnect(receiver)
    assert heard == [Penalty.objects.get(event=event).pk]
