"""Awards into events a chunk at a time (``activation.services.awards.events_create_for_awards``, ADR 0043): a
chunk gives exactly what taking its awards one by one in id order gives (events, caps, commands, notifications),
a chunk delivered twice does nothing twice, and a premise's awards always travel in one chunk."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import transaction

from accounts.models import Notification
from activation import services
from activation.models import DeviceDispatch, DispatchSignal, DREvent, Enrollment, OutboxMessage
from activation.services.awards import award_chunks
from assessment.models import ProgramEnrolment
from market.models import Award

from .test_services_award_limits import _award

pytestmark = pytest.mark.django_db


class _Rollback(Exception):
    pass


def _awards(w):
    """Two premises with a day's worth of awards: consecutive hours (one curtailment), a third event over the
    daily cap, and a third premise with one award."""
    p0, p1, p2 = w.premises[0], w.premises[3], w.premises[5]
    morning = w.now + timedelta(hours=2)
    out = []
    for p in (p0, p1):
        for h in (0, 1, 3, 6, 9):
            out.append(_award(w, p, start=morning + timedelta(hours=h), kw="1.5" if h else "2"))
    out.append(_award(w, p2, start=morning + timedelta(hours=1), kw="40"))
    return out


def _outcome(awards) -> dict:
    """What the awards became, keyed by award (ids of other rows left out: they differ between two runs)."""
    out = {}
    for a in awards:
        e = DREvent.objects.get(award_id=a.pk)
        out[a.pk] = {
            "event": (e.premise_id, e.zone_id, e.program_id, e.target_kw, e.start, e.end, e.status, e.cancel_reason,
                      e.price_per_mwh, e.buyer_id, e.source, e.notified_at, e.cancelled_at),
            "signals": sorted(
                (p, c, {k: v for k, v in payload.items() if k != "eventName"})
                for p, c, payload in DispatchSignal.objects.filter(event=e).values_list("premise_id", "channel", "payload")
            ),
            "devices": sorted(
                DeviceDispatch.objects.filter(event=e).values_list(
                    "device_id", "channel", "kind", "command", "value", "shed_kw", "local_day"
                )
            ),
            "outbox": sorted(
                (c, d, t, {k: v for k, v in p.items() if k not in ("event_id", "event", "message_id")})
                for c, d, t, p in OutboxMessage.objects.filter(event=e).values_list(
                    "channel", "destination", "topic", "payload"
                )
            ),
            "notes": sorted(
                Notification.objects.filter(key__endswith=f":{e.pk}").values_list("kind", "title", "body")
            ),
        }  # fmt: skip
    out["enrollments"] = sorted(
        Enrollment.objects.filter(program=services.market_program()).values_list(
            "premise_id", "committed_kw", "safety_max_kw", "tier", "status"
        )
    )
    out["baseline"] = sorted(ProgramEnrolment.objects.values_list("premise_id", "program__code"))
    return out


def test_a_chunk_gives_what_one_by_one_gives(act_world):
    w = act_world
    awards = _awards(w)
    services.market_program()  # made once, outside the rolled-back run
    try:
        with transaction.atomic():
            for a in sorted(awards, key=lambda a: a.pk):
                services.award_activate(award_id=a.pk, now=w.now)
            one_by_one = _outcome(awards)
            raise _Rollback
    except _Rollback:
        pass
    assert not DREvent.objects.exists()
    made = services.events_create_for_awards(award_ids=[a.pk for a in reversed(awards)], now=w.now)
    assert len(made) == len(awards)
    chunk = _outcome(awards)
    # notifications name the event's id in their text: compare them without it
    for o in (one_by_one, chunk):
        for a in awards:
            o[a.pk]["notes"] = [(k, t) for k, t, _ in o[a.pk]["notes"]]
    assert chunk == one_by_one
    statuses = [chunk[a.pk]["event"][6] for a in awards[:5]]
    # hours 0 and 1 are one curtailment, 3 the second event of the day, 6 and 9 over the daily cap of 2
    assert statuses == ["notified", "notified", "notified", "cancelled", "cancelled"]
    assert "(cap_per_day)" in chunk[awards[3].pk]["event"][7]
    # the enrollment commits the kW of the resource's first award
    assert (w.premises[0].pk, D("2.000")) in [(p, kw) for p, kw, *_ in chunk["enrollments"]]


def test_a_repeated_chunk_does_nothing_twice(act_world, django_capture_on_commit_callbacks):
    w = act_world
    awards = _awards(w)
    ids = [a.pk for a in awards]
    services.awards_activate(award_ids=ids, now=w.now)
    counts = (
        DREvent.objects.count(), DispatchSignal.objects.count(), DeviceDispatch.objects.count(),
        OutboxMessage.objects.count(), Notification.objects.count(), Enrollment.objects.count(),
    )  # fmt: skip
    assert services.events_create_for_awards(award_ids=ids, now=w.now) == []
    services.awards_activate(award_ids=ids[3:], now=w.now)  # an overlapping chunk
    assert services.awards_activate_pending(now=w.now) == []
    assert counts == (
        DREvent.objects.count(), DispatchSignal.objects.count(), DeviceDispatch.objects.count(),
        OutboxMessage.objects.count(), Notification.objects.count(), Enrollment.objects.count(),
    )  # fmt: skip


def test_an_engaged_emergency_stop_leaves_the_chunk_scheduled(act_world):
    w = act_world
    services.emergency_stop_engage(user=w.user("operator@demo.flex"), reason="drill", now=w.now)
    awards = _awards(w)
    services.events_create_for_awards(award_ids=[a.pk for a in awards], now=w.now)
    assert set(DREvent.objects.values_list("status", flat=True)) == {"scheduled", "cancelled"}
    assert not OutboxMessage.objects.exists() and not DispatchSignal.objects.exists()


def test_a_premises_awards_stay_in_one_chunk(act_world):
    w = act_world
    awards = _awards(w)
    chunks = award_chunks([a.pk for a in awards], size=3)
    assert sorted(pk for c in chunks for pk in c) == sorted(a.pk for a in awards)
    premise_of = dict(Award.objects.values_list("pk", "premise_id"))
    owners = [{premise_of[pk] for pk in c} for c in chunks]
    assert len(chunks) == 3 and all(len(o) == 1 for o in owners)


def test_the_hook_sends_one_task_per_chunk(act_world, monkeypatch):
    from activation import tasks

    w = act_world
    awards = _awards(w)
    sent = []
    monkeypatch.setattr(tasks.create_events_for_awards, "delay", lambda ids: sent.append(ids))
    from market import hooks as market_hooks

    market_hooks.awards_committed.send(sender=None, award_ids=[a.pk for a in awards])
    assert sorted(pk for c in sent for pk in c) == sorted(a.pk for a in awards) and len(sent) == 1
