"""The nightly recompute of a chunk, set-based (``assessment.recompute``), stores exactly the statuses, baseline
accuracy rows and flexibility profiles that the per-meter recompute stores (issue #21)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Meter
from activation.models import DREvent, EventVerification
from assessment import services
from assessment.models import Baseline, BaselineAccuracy, FlexibilityProfile, MeterReading, MeterStatus
from demo.world import TZ

pytestmark = pytest.mark.django_db

STATUS_FIELDS = (
    "connectivity",
    "latest_reading_start",
    "quality_score",
    "completeness",
    "clean_days",
    "issues",
    "validated",
    "validated_at",
    "reasons",
    "year_kwh",
    "year_intervals",
)


def _snapshot(ids):
    return {
        "accuracy": sorted(
            BaselineAccuracy.objects.filter(meter_id__in=ids).values_list(
                "meter_id",
                "method",
                "as_of",
                "days",
                "intervals",
                "relative_error_pct",
                "nmbe_pct",
                "cvrmse_pct",
                "meets_guideline14",
                "recommended",
                "computed_at",
            )
        ),
        "profiles": sorted(
            (p.premise_id, p.as_of, p.availability_scores, str(p.seasonal), p.peak_shaving_kw, p.load_shift_kwh)
            + (p.reliability_factor, p.score, str(p.drivers), p.computed_at)
            for p in FlexibilityProfile.objects.all()
        ),
        "statuses": sorted(MeterStatus.objects.filter(meter_id__in=ids).values_list("meter_id", *STATUS_FIELDS)),
    }


def _statuses(ids):
    return {r["meter_id"]: r for r in MeterStatus.objects.filter(meter_id__in=ids).values("meter_id", *STATUS_FIELDS)}


def _forget(ids, statuses):
    """Back to before the recompute: no accuracy rows or profiles, the statuses as they were (none for a meter
    that had none)."""
    BaselineAccuracy.objects.all().delete()
    FlexibilityProfile.objects.all().delete()
    MeterStatus.objects.filter(meter_id__in=ids).exclude(meter_id__in=statuses).delete()
    for meter_id, row in statuses.items():
        MeterStatus.objects.filter(meter_id=meter_id).update(**{f: row[f] for f in STATUS_FIELDS})


@pytest.fixture
def varied(small_world):
    """The small world made uneven: readings missing (a week of one meter, a peak window of another), a spike, an
    event day, a second meter on a premise (its profile is its first meter's), a meter without data, a meter in
    another time zone and one at 60 minutes."""
    premises = small_world.premises
    meters = [p.meters.order_by("id").first() for p in premises]
    day = small_world.day
    zone = ZoneInfo(TZ)

    def local(d, h):
        return datetime(d.year, d.month, d.day, h, tzinfo=zone).astimezone(UTC)

    MeterReading.objects.filter(
        meter=meters[0], start__gte=local(day - timedelta(days=12), 0), start__lt=local(day - timedelta(days=5), 0)
    ).delete()
    MeterReading.objects.filter(
        meter=meters[3], start__gte=local(day - timedelta(days=3), 16), start__lt=local(day - timedelta(days=3), 18)
    ).delete()
    MeterReading.objects.filter(meter=meters[1], start=local(day - timedelta(days=4), 12)).update(kwh=Decimal("90"))
    for n, (committed, delivered) in enumerate([("4", "3.1"), ("2", "2.5"), ("3", "0.7")]):  # events, verified
        event = DREvent.objects.create(
            premise=premises[2], zone=premises[2].grid_zone, target_kw=Decimal("1"),
            start=local(day - timedelta(days=6 + 2 * n), 17), end=local(day - timedelta(days=6 + 2 * n), 19),
            status=DREvent.Status.COMPLETED, source=DREvent.Source.OPERATOR,
        )  # fmt: skip
        baseline = Baseline.objects.create(
            meter=meters[2], method="caiso-10in10", window_start=event.start, window_end=event.end,
            total_kwh=Decimal("8"), computed_at=event.end,
        )  # fmt: skip
        EventVerification.objects.create(
            event=event, baseline=baseline, baseline_kwh=Decimal("8"), actual_kwh=Decimal("5"),
            committed_kwh=Decimal(committed), delivered_kwh=Decimal(delivered), verified_at=event.end,
        )  # fmt: skip
    second = Meter.objects.create(premise=premises[4], meter_id="SECOND-1", interval_minutes=15)
    MeterReading.objects.bulk_create(
        MeterReading(meter=second, start=r.start, kwh=r.kwh / 2) for r in MeterReading.objects.filter(meter=meters[4])
    )
    hourly = Meter.objects.create(
        premise=premises[5], meter_id="HOURLY-1", interval_minutes=60, timezone="Europe/Berlin"
    )
    rows = MeterReading.objects.filter(meter=meters[5], start__minute=0)
    MeterReading.objects.bulk_create(MeterReading(meter=hourly, start=r.start, kwh=r.kwh * 4) for r in rows)
    empty = Meter.objects.create(premise=premises[1], meter_id="EMPTY-1", interval_minutes=15)
    return [*(m.pk for m in meters), second.pk, hourly.pk, empty.pk]


def test_the_batched_recompute_stores_what_the_per_meter_recompute_stores(varied):
    now = timezone.now().replace(microsecond=0)
    before = _statuses(varied)
    for meter_id in varied:
        services.assessment_recompute_meter(meter_id=meter_id, now=now)
    one_by_one = _snapshot(varied)
    assert len({row[0] for row in one_by_one["accuracy"]}) == len(varied) - 1  # every meter with data
    assert len({row[1] for row in one_by_one["accuracy"]}) >= 5
    reliability = {p[6] for p in one_by_one["profiles"]}
    assert len(reliability) == 2 and Decimal("1.0000") in reliability  # one premise fell short on its events
    assert any(row[7] for row in one_by_one["statuses"]) and not all(row[7] for row in one_by_one["statuses"])

    _forget(varied, before)
    assert services.assessment_recompute_meters(meter_ids=varied, now=now) == len(varied)
    assert _snapshot(varied) == one_by_one

    with CaptureQueriesContext(connection) as twice:  # again: the same rows, none added
        services.assessment_recompute_meters(meter_ids=varied, now=now)
    assert _snapshot(varied) == one_by_one
    # The readings, the latest/earliest of each meter and the year come in three reads, whatever the chunk's size.
    reading_reads = [q for q in twice.captured_queries if "assessment_meterreading" in q["sql"]]
    if connection.vendor == "postgresql":  # one range read per chunk; SQLite (the embedded default) reads per meter
        assert len(reading_reads) <= 3
