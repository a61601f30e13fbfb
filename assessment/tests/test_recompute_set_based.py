"""The nightly recompute's chunk reads set-based (issue #21): a fixed number of statements whatever the chunk's size,
and the revenue meters' year summed from the readings already read plus the rest of the year, as the status
refresh sums it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Device, Meter, Organisation
from assessment import services
from assessment.models import AvailabilityDeclaration, FlexibilityProfile, MeterReading, MeterStatus

pytestmark = pytest.mark.django_db


def _statements(ids, now) -> int:
    with CaptureQueriesContext(connection) as queries:
        services.assessment_recompute_meters(meter_ids=ids, now=now)
    return len(queries.captured_queries)


@pytest.mark.postgres  # the statements of PostgreSQL's set-based reads; SQLite (the embedded default) reads per meter
def test_a_chunk_costs_the_same_statements_for_two_meters_as_for_all(small_world):
    now = timezone.now()
    ids = services.meters_with_data_ids()
    assert len(ids) >= 6
    assert _statements(ids[:2], now) == _statements(ids, now) <= 30


def test_the_batched_profiles_match_the_per_premise_profiles_with_declarations_and_devices(small_world):
    """A premise with a declared state of charge, one with a device switched off: the batch reads the same
    declarations and devices as the per-premise store."""
    now = timezone.now().replace(microsecond=0)
    premises = small_world.premises
    AvailabilityDeclaration.objects.create(
        premise=premises[0], declared_by=Organisation.objects.order_by("pk").first(), available_kw=Decimal("2"),
        soc_percent=Decimal("35"), valid_from=now - timedelta(hours=1), valid_until=now + timedelta(hours=3),
        created_at=now,
    )  # fmt: skip
    Device.objects.filter(pk=Device.objects.filter(premise=premises[1]).order_by("pk").first().pk).update(active=False)
    ids = services.meters_with_data_ids()
    for meter_id in ids:
        services.assessment_recompute_meter(meter_id=meter_id, now=now)
    one_by_one = sorted(FlexibilityProfile.objects.values_list("premise_id", "as_of", "peak_shaving_kw", "drivers"))
    FlexibilityProfile.objects.all().delete()
    services.assessment_recompute_meters(meter_ids=ids, now=now)
    assert sorted(FlexibilityProfile.objects.values_list("premise_id", "as_of", "peak_shaving_kw", "drivers")) == (
        one_by_one
    )


def test_the_year_counts_readings_older_than_the_read_range_and_not_those_after_now(small_world):
    now = timezone.now().replace(microsecond=0)
    meter = Meter.objects.filter(kind="ami", pk__in=services.meters_with_data_ids()).order_by("pk").first()
    assert meter is not None
    oldest = MeterReading.objects.filter(meter=meter).order_by("start").first()
    extra = [
        MeterReading(meter=meter, start=oldest.start - timedelta(days=200), kwh=Decimal("1.2345")),  # in the year
        MeterReading(meter=meter, start=oldest.start - timedelta(days=300, seconds=7), kwh=Decimal("0.5001")),
        MeterReading(meter=meter, start=now - timedelta(days=366), kwh=Decimal("9.9")),  # before the year
        MeterReading(meter=meter, start=now + timedelta(minutes=15), kwh=Decimal("7.7")),  # after now
    ]
    MeterReading.objects.bulk_create(extra)
    services.meter_status_refresh(meter=meter, now=now)
    expected = MeterStatus.objects.values_list("year_kwh", "year_intervals").get(meter=meter)
    MeterStatus.objects.filter(meter=meter).update(year_kwh=None, year_intervals=0)
    services.assessment_recompute_meters(meter_ids=[meter.pk], now=now)
    assert MeterStatus.objects.values_list("year_kwh", "year_intervals").get(meter=meter) == expected
    assert expected[1] == MeterReading.objects.filter(meter=meter, start__lt=now).count() - 1
