"""Races on real PostgreSQL: the same chunk of awards delivered to two workers at once (a redelivered task, the
sweep beside the chunk task) makes each event, device command and notification once (ADR 0043)."""

from __future__ import annotations

import pytest
from django.db import connection

from accounts.models import Notification
from activation import services
from activation.models import DeviceDispatch, DispatchSignal, DREvent, Enrollment, OutboxMessage
from market.tests.test_concurrency import run_parallel

from .test_services_awards_chunks import _awards

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_workers_with_the_same_chunk_make_everything_once(act_world):
    assert connection.vendor == "postgresql"
    w = act_world
    ids = [a.pk for a in _awards(w)]
    services.market_program()
    results = run_parallel(
        [
            lambda: services.events_create_for_awards(award_ids=ids, now=w.now),
            lambda: services.events_create_for_awards(award_ids=list(reversed(ids)), now=w.now),
        ]
    )
    assert not [r for r in results if isinstance(r, Exception)]
    assert sorted(len(r) for r in results) == [0, len(ids)]  # one made them all, the other found them made
    assert sorted(DREvent.objects.values_list("award_id", flat=True)) == sorted(ids)
    events = DREvent.objects.exclude(status=DREvent.Status.CANCELLED)
    assert DispatchSignal.objects.count() == events.count()
    assert DeviceDispatch.objects.values("event_id", "device_id").distinct().count() == DeviceDispatch.objects.count()
    assert OutboxMessage.objects.filter(event__status=DREvent.Status.CANCELLED).count() == 0
    assert Notification.objects.filter(key__startswith="event_scheduled:").count() == (
        Notification.objects.filter(key__startswith="event_scheduled:").values("user", "key").distinct().count()
    )
    assert Enrollment.objects.filter(program=services.market_program()).count() == 3
