"""Meter statuses refreshed for many meters at once (``assessment.status_services``): the same statuses as the
one-meter refresh, in a number of statements that does not grow with the meters, safe to run again; imports
enqueue the refresh in chunks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from accounts import services as acc
from accounts.models import Meter
from assessment import quality
from assessment.ingest.services import readings_import
from assessment.ingest.types import ParsedReading, ParseResult
from assessment.models import MeterStatus
from assessment.services import meter_status_refresh
from assessment.status_services import STATUS_FIELDS, meter_statuses_refresh_many

NOW = datetime(2026, 3, 20, 4, 30, tzinfo=UTC)  # 00:30 local in New York
TODAY = date(2026, 3, 20)


def _load(meter_id: str, days: int, *, account: str = "", drop_every: int = 0, scale: str = "1") -> None:
    rows = []
    for n in range(days):
        start, end = quality.local_day_bounds(TODAY - timedelta(days=days - n), "America/New_York")
        t, i = start, 0
        while t < end:
            if not (drop_every and i % drop_every == 0):
                kwh = (Decimal("0.5") + Decimal(i % 4) / 10) * Decimal(scale)
                rows.append(ParsedReading(meter_id, t, kwh, f"{meter_id}.{n}.{i}"))
            t += timedelta(minutes=15)
            i += 1
    readings_import(user=None, source="json", parsed=ParseResult(rows=rows), account_number=account)


def _fields(status: MeterStatus) -> dict:
    return {name: getattr(status, name) for name in STATUS_FIELDS}


@pytest.fixture
def three_meters(meter_world):
    """Alice's validated-looking meter, Bob's with gaps, and a meter without data."""
    _load("A-1", 16, account="ACCT-ALICE-1")
    _load("B-1", 16, account="ACCT-BOB-1", drop_every=5, scale="3")
    empty = acc.meter_create(premise=meter_world.bob_site, meter_id="B-2", interval_minutes=15)
    return [meter_world.alice_meter, meter_world.bob_meter, empty]


def test_many_meters_get_the_statuses_each_gets_alone(three_meters):
    together = {
        s.meter_id: _fields(s) for s in meter_statuses_refresh_many(meter_ids=[m.pk for m in three_meters], now=NOW)
    }
    MeterStatus.objects.update(validated=False, validated_at=None, reasons=[], checked_at=None)
    alone = {m.pk: _fields(meter_status_refresh(meter=m, now=NOW)) for m in three_meters}
    assert together == alone
    a, b, empty = (together[m.pk] for m in three_meters)
    assert a["validated"] and a["completeness"] == Decimal("1.0000") and a["connectivity"] == "online"
    assert not b["validated"] and b["reasons"] == ["Completeness 79.2% is below 90%."]
    assert empty["connectivity"] == "never" and "Meter has sent no data yet." in empty["reasons"]
    assert a["year_intervals"] == 16 * 96 - 4 and b["year_kwh"] is not None  # 16 local days, one of 23 hours


@pytest.mark.postgres  # the statements of PostgreSQL's set-based reads; SQLite (the embedded default) reads per meter
def test_the_statements_do_not_grow_with_the_meters(meter_world):
    for i in range(6):
        acc.meter_create(premise=meter_world.bob_site, meter_id=f"X-{i}", interval_minutes=15)
        _load(f"X-{i}", 3)
    ids = list(Meter.objects.order_by("pk").values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as two:
        meter_statuses_refresh_many(meter_ids=ids[:2], now=NOW)
    with CaptureQueriesContext(connection) as eight:
        meter_statuses_refresh_many(meter_ids=ids, now=NOW)
    assert len(ids) == 8 and len(eight) == len(two) <= 10


@override_settings(METER_VALIDATION_MIN_DAYS=14)
def test_running_a_chunk_again_changes_nothing_and_unknown_meters_are_skipped(three_meters):
    ids = [m.pk for m in three_meters]
    first = [_fields(s) for s in meter_statuses_refresh_many(meter_ids=[*ids, 999_999], now=NOW)]
    again = [_fields(s) for s in meter_statuses_refresh_many(meter_ids=ids, now=NOW + timedelta(minutes=1))]
    assert len(first) == 3 and MeterStatus.objects.count() == 3
    assert first[0]["validated_at"] == again[0]["validated_at"] == NOW  # validated once, not again
    assert [{k: v for k, v in f.items() if k != "checked_at"} for f in first] == [
        {k: v for k, v in f.items() if k != "checked_at"} for f in again
    ]
    assert meter_statuses_refresh_many(meter_ids=[], now=NOW) == []


def test_an_import_enqueues_the_refresh_in_chunks(meter_world, monkeypatch, django_capture_on_commit_callbacks):
    from celery.signals import task_prerun

    from assessment import tasks

    ran = []

    def record(sender=None, args=None, **kwargs):
        if getattr(sender, "name", None) == tasks.refresh_meter_statuses_for.name:
            ran.append(list(args[0]))

    task_prerun.connect(record)
    monkeypatch.setattr(tasks, "STATUS_REFRESH_CHUNK", 1)
    rows = [ParsedReading(m, datetime(2026, 3, 18, 12, tzinfo=UTC), Decimal("1"), f"{m}.1") for m in ("B-1", "A-1")]
    try:
        with django_capture_on_commit_callbacks(execute=True):
            readings_import(user=None, source="json", parsed=ParseResult(rows=rows))
    finally:
        task_prerun.disconnect(record)
    assert ran == [[meter_world.alice_meter.pk], [meter_world.bob_meter.pk]]
    assert MeterStatus.objects.filter(checked_at__isnull=False).count() == 2
