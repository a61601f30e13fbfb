"""The set-based verification chunk (issue #21, ADR 0046) stores what verifying its events one by one stores: the
same verifications, intervals, baselines and baseline choices, performance rows, penalties (with their
notifications) and enrollment changes; its statements do not grow with the events; a chunk run twice records
nothing twice."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

import demo
from accounts.models import Notification
from activation import services
from activation.models import (
    DeviceDispatch,
    DispatchSignal,
    DREvent,
    Enrollment,
    EventPerformance,
    EventVerification,
    Penalty,
    VerificationInterval,
)
from activation.services import verification
from activation.services.programs import market_baseline_program
from assessment.choice_services import program_enrol
from assessment.models import Baseline, BaselineChoice, BaselineInterval, MeterReading
from assessment.services import baseline_compute, meter_readings_record

pytestmark = pytest.mark.django_db(transaction=False)

#: share of the baseline each premise reads during its event (1 = no response: a shortfall, a penalty)
RESPONSE = (Decimal("0.2"), Decimal("1"), Decimal("0.6"), Decimal("1.05"), Decimal("0"), Decimal("1"))


def _events(world) -> list[DREvent]:
    """One completed event per premise, in two programs (one that derates after a failure and has a failure
    counted already), half the premises in the market's baseline program (a choice made per meter), readings
    that answer the event by ``RESPONSE``; the last premise's data are missing (left to the one-by-one path)."""
    start, end = demo.event_window(world.day)
    now0 = start - timedelta(hours=1)
    strict = services.program_create(
        code="strict", name="Strict", notice_minutes=0, derate_after_failures=1, penalty_rate_per_mwh=Decimal("80")
    )
    lenient = services.program_create(code="lenient", name="Lenient", notice_minutes=0)
    events = []
    for n, premise in enumerate(world.premises):
        program = strict if n % 2 else lenient
        enrollment = services.enrollment_create(program=program, premise=premise, committed_kw=Decimal("2"))
        if n == 1:
            Enrollment.objects.filter(pk=enrollment.pk).update(consecutive_failures=1)
        if n < 3:
            program_enrol(premise=premise, program=market_baseline_program(), now=now0)
        event = services.event_create(
            program=program, premise=premise, target_kw=Decimal("1.5"), start=start, end=end, now=now0
        )
        services.event_activate(event_id=event.pk, now=start)
        services.event_complete(event_id=event.pk, now=end)
        events.append(event)
        if n in (1, 3):  # not dispatched to devices: the whole target is the measure (a shortfall, a penalty)
            DeviceDispatch.objects.filter(event=event).delete()
            DispatchSignal.objects.filter(event=event).delete()
        if n == len(world.premises) - 1:
            continue  # no data yet
        meter = premise.meters.order_by("id").first()
        forecast = baseline_compute(meter=meter, window_start=start, window_end=end, now=now0, method="pjm-cbl")
        meter_readings_record(
            meter=meter,
            readings=[
                (i.start, (i.kwh * RESPONSE[n % 6]).quantize(Decimal("0.0001"))) for i in forecast.intervals.all()
            ],
        )
    return events


def _stored() -> dict[str, list]:
    def rows(qs, *fields):
        return sorted(json.dumps([str(x) for x in r]) for r in qs.values_list(*fields))

    return {
        "verifications": rows(
            EventVerification.objects.all(),
            "event_id",
            "baseline__method",
            "baseline__choice__method",
            "baseline_source",
            "actual_source",
            "baseline_kwh",
            "actual_kwh",
            "delivered_kwh",
            "committed_kwh",
            "verified_at",
        ),  # fmt: skip
        "intervals": rows(
            VerificationInterval.objects.all(),
            "verification__event_id",
            "start",
            "baseline_kwh",
            "actual_kwh",
            "delivered_kwh",
            "actual_source",
        ),  # fmt: skip
        "baselines": rows(
            Baseline.objects.all(), "meter_id", "method", "parameters", "days_used", "window_start", "total_kwh"
        ),
        "baseline intervals": rows(
            BaselineInterval.objects.all(), "baseline__meter_id", "baseline__method", "start", "kwh"
        ),
        "choices": rows(
            BaselineChoice.objects.all(), "meter_id", "month", "day_type", "method", "policy", "evidence", "chosen_at"
        ),
        "performance": rows(
            EventPerformance.objects.all(),
            "event_id",
            "activated",
            "response_seconds",
            "duration_compliance",
            "magnitude_achievement",
            "available",
        ),  # fmt: skip
        "penalties": rows(
            Penalty.objects.all(), "event_id", "reason", "payer_id", "shortfall_kwh", "rate_per_mwh", "amount"
        ),
        "enrollments": rows(Enrollment.objects.all(), "premise_id", "status", "consecutive_failures", "derate"),
        "notifications": rows(Notification.objects.filter(kind="penalty"), "user_id", "title", "body", "url"),
    }


def _verify_one_by_one(monkeypatch, ids, now):
    with monkeypatch.context() as m:
        m.setattr(verification, "events_verify_chunk", lambda *, event_ids, now: ({}, list(event_ids)))
        return services.events_verify(event_ids=ids, now=now)


def test_the_chunk_stores_what_one_by_one_stores(small_world, monkeypatch):
    events = _events(small_world)
    ids = [e.pk for e in events]
    now = events[0].end + timedelta(hours=2)

    class Undo(Exception):
        pass

    try:
        with transaction.atomic():
            one_by_one = _verify_one_by_one(monkeypatch, ids, now)
            expected = _stored()
            raise Undo
    except Undo:
        pass
    assert not EventVerification.objects.exists()
    assert services.events_verify(event_ids=ids, now=now) == one_by_one == ids[:-1]
    got = _stored()
    assert len(got["verifications"]) == len(ids) - 1 and got["penalties"] and got["choices"]
    assert Enrollment.objects.filter(status=Enrollment.Status.DERATED).exists()
    for kind in expected:
        assert got[kind] == expected[kind], kind


def test_a_chunk_runs_twice_and_records_nothing_twice(small_world):
    events = _events(small_world)
    ids = [e.pk for e in events]
    now = events[0].end + timedelta(hours=2)
    services.events_verify(event_ids=ids, now=now)
    first = _stored()
    assert services.events_verify(event_ids=ids, now=now + timedelta(hours=1)) == ids[:-1]
    assert _stored() == first


@pytest.mark.postgres  # the statements of PostgreSQL's set-based reads; SQLite (the embedded default) reads per meter
def test_the_chunk_reads_once_per_kind_not_per_event(small_world):
    """A chunk's statements do not grow with its events (the per-event path made about 37 per event)."""
    events = _events(small_world)
    ids = [e.pk for e in events[:-1]]
    now = events[0].end + timedelta(hours=2)
    with CaptureQueriesContext(connection) as q:
        assert services.events_verify(event_ids=ids, now=now) == ids
    assert MeterReading.objects.exists()
    assert len(q.captured_queries) <= 34, "\n".join(x["sql"][:150] for x in q.captured_queries)


def test_a_chunk_that_loses_a_race_runs_again_set_based(small_world, monkeypatch):
    """A baseline choice stored meanwhile by another worker (its unique key refuses the chunk's insert): the chunk
    is rolled back and run again, set-based, not left to the one-by-one path."""
    from django.db import IntegrityError

    from activation.services import verification_chunk

    events = _events(small_world)
    ids = [e.pk for e in events[:-1]]
    now = events[0].end + timedelta(hours=2)
    save, calls = verification_chunk.baselines_save, []

    def racing(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise IntegrityError("duplicate key value violates unique constraint")
        return save(**kwargs)

    monkeypatch.setattr(verification_chunk, "baselines_save", racing)
    with CaptureQueriesContext(connection) as q:
        assert services.events_verify(event_ids=ids, now=now) == ids
    assert len(calls) == 2 and len(q.captured_queries) <= 64
