"""The status refresh an import enqueues reads each meter's window as integer arrays (issue #21, ADR 0047): the
statuses it stores are those of the refresh it replaced (one ``(datetime, Decimal)`` pair per reading,
``quality.assess_quality``, the year summed by the database), in a fixed number of statements."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count, Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Meter
from assessment import quality
from assessment.models import MeterReading, MeterStatus
from assessment.status_services import STATUS_FIELDS, meter_statuses_refresh_many, readings_arrays, status_apply
from demo.world import TZ
from flexplatform import plausible

NY = "America/New_York"


def _stored_like(rng, first: date, days: int, *, minutes: int):
    """Readings as the table holds them: in start order, no start twice, none negative; with gaps, zeros, a stuck
    register for 15 hours, spikes, over a daylight-saving change."""
    start, _ = quality.local_day_bounds(first, NY)
    n = days * 1440 // minutes
    units = rng.integers(100, 9_000, n)
    units[rng.random(n) < 0.05] = 0
    units[500 % n : 500 % n + 60] = 4321
    units[rng.integers(0, n, 4)] = 900_000
    epoch = int(start.timestamp()) + np.arange(n, dtype=np.int64) * minutes * 60
    keep = rng.random(n) > 0.04
    keep[n // 2 : n // 2 + 40] = False
    return epoch[keep], units[keep]


@pytest.mark.parametrize("seed", [4, 5, 6])
@pytest.mark.parametrize(
    ("first", "minutes"), [(date(2026, 10, 25), 15), (date(2026, 3, 1), 15), (date(2026, 2, 25), 60)]
)
def test_the_array_checks_on_readings_in_start_order_match_the_checks_on_readings(seed, first, minutes):
    """Stored readings take the path that neither sorts nor de-duplicates: the same report as the pairs give."""
    epoch, units = _stored_like(np.random.default_rng(seed), first, 21, minutes=minutes)
    readings = [
        (datetime.fromtimestamp(int(e), UTC), Decimal(int(u)) / Decimal(10_000))
        for e, u in zip(epoch, units, strict=True)
    ]
    window = {"first_day": first + timedelta(days=2), "last_day": first + timedelta(days=18), "tz": NY}
    expected = quality.assess_quality(readings, interval_minutes=minutes, **window)
    assert quality.assess_quality_arrays(epoch, units, interval_minutes=minutes, **window) == expected
    assert expected.spikes and expected.gaps and not expected.duplicates
    assert {d.expected for d in expected.days} != {1440 // minutes}  # a 23- or 25-hour day in the window
    empty = quality.assess_quality_arrays(epoch[:0], units[:0], interval_minutes=minutes, **window)
    assert empty == quality.assess_quality([], interval_minutes=minutes, **window)


def _reference(meters: list[Meter], now: datetime) -> dict[int, dict]:
    """The statuses the refresh stored before ADR 0047, computed (not saved) from the statuses as stored: per meter
    its window's readings as (datetime, Decimal), ``quality.assess_quality``, its plausible ends and its year by
    the ORM."""
    low, high = plausible.datetime_bounds()
    out = {}
    for meter in meters:
        status = MeterStatus.objects.filter(meter=meter).first() or MeterStatus(meter=meter)
        tz = meter.local_timezone
        last_day = now.astimezone(ZoneInfo(tz)).date() - timedelta(days=1)
        first_day = last_day - timedelta(days=settings.METER_VALIDATION_MIN_DAYS - 1)
        start, end = quality.local_day_bounds(first_day, tz)[0], quality.local_day_bounds(last_day, tz)[1]
        readings = list(
            MeterReading.objects.filter(meter=meter, start__gte=start, start__lt=end).values_list("start", "kwh")
        )
        report = quality.assess_quality(
            readings, first_day=first_day, last_day=last_day, tz=tz, interval_minutes=meter.interval_minutes
        )
        plausible_rows = MeterReading.objects.filter(meter=meter, start__gte=low, start__lt=high)
        year = MeterReading.objects.filter(meter=meter, start__gte=now - timedelta(days=365), start__lt=now).aggregate(
            kwh=Sum("kwh"), n=Count("id")
        )
        status_apply(
            status, meter=meter, report=report, first_day=first_day, last_day=last_day, tz=tz, now=now,
            earliest=plausible_rows.order_by("start").values_list("start", flat=True).first(),
            latest=plausible_rows.order_by("-start").values_list("start", flat=True).first(),
            year=(None if year["kwh"] is None else Decimal(year["kwh"]).quantize(Decimal("0.0001")), year["n"]),
        )  # fmt: skip
        out[meter.pk] = {name: getattr(status, name) for name in STATUS_FIELDS}
    return out


@pytest.fixture
def uneven(small_world):
    """The small world's meters with the flaws a utility's data has: a missing week, a spike, a stuck register,
    readings before the window (in the year and before it), one after ``now``, one before the plausible window;
    plus an hourly meter in another zone and a meter without data."""
    meters = [p.meters.order_by("id").first() for p in small_world.premises]
    zone = ZoneInfo(TZ)
    day = small_world.day

    def local(d, h):
        return datetime(d.year, d.month, d.day, h, tzinfo=zone).astimezone(UTC)

    MeterReading.objects.filter(
        meter=meters[0], start__gte=local(day - timedelta(days=12), 0), start__lt=local(day - timedelta(days=5), 0)
    ).delete()
    MeterReading.objects.filter(meter=meters[1], start=local(day - timedelta(days=4), 12)).update(kwh=Decimal("90"))
    MeterReading.objects.filter(
        meter=meters[2], start__gte=local(day - timedelta(days=3), 2), start__lt=local(day - timedelta(days=3), 16)
    ).update(kwh=Decimal("1.2345"))
    oldest = MeterReading.objects.filter(meter=meters[3]).order_by("start").first().start
    MeterReading.objects.bulk_create(
        [
            MeterReading(meter=meters[3], start=oldest - timedelta(days=200), kwh=Decimal("1.2345")),
            MeterReading(meter=meters[3], start=oldest - timedelta(days=400), kwh=Decimal("9.9")),
            MeterReading(meter=meters[3], start=timezone.now() + timedelta(days=2), kwh=Decimal("7.7")),
            MeterReading(meter=meters[4], start=datetime(1999, 12, 31, 23, 45, tzinfo=UTC), kwh=Decimal("99999.9999")),
        ]
    )
    hourly = Meter.objects.create(
        premise=small_world.premises[5], meter_id="HOURLY-1", interval_minutes=60, timezone="Europe/Berlin"
    )
    rows = MeterReading.objects.filter(meter=meters[5], start__minute=0)
    MeterReading.objects.bulk_create(MeterReading(meter=hourly, start=r.start, kwh=r.kwh * 4) for r in rows)
    empty = Meter.objects.create(premise=small_world.premises[1], meter_id="EMPTY-1", interval_minutes=15)
    MeterStatus.objects.filter(meter=meters[1]).update(validated=True, validated_at=timezone.now() - timedelta(days=3))
    return [*meters, hourly, empty]


def test_the_refresh_stores_what_the_per_reading_refresh_stored(uneven):
    now = timezone.now().replace(microsecond=0)
    expected = _reference(uneven, now)
    got = {s.meter_id: {n: getattr(s, n) for n in STATUS_FIELDS} for s in meter_statuses_refresh_many(
        meter_ids=[m.pk for m in uneven], now=now
    )}  # fmt: skip
    assert got == expected
    stored = {r["meter_id"]: r for r in MeterStatus.objects.values("meter_id", *STATUS_FIELDS)}
    assert {pk: {n: stored[pk][n] for n in STATUS_FIELDS} for pk in got} == got
    flags = [row["issues"] for row in got.values()]
    assert any(f["spikes"] for f in flags) and any(f["flat_intervals"] for f in flags) and any(f["gaps"] for f in flags)
    assert len({row["validated"] for row in got.values()}) == 2
    assert got[uneven[-1].pk]["connectivity"] == "never"


def test_the_arrays_hold_each_reading_exactly_in_whole_seconds_and_units(uneven):
    meter = uneven[4]
    lo, hi = datetime(1990, 1, 1, tzinfo=UTC), timezone.now() + timedelta(days=30)
    epoch, units = readings_arrays({meter.pk: [lo, hi], uneven[-1].pk: [lo, hi]})[meter.pk]
    rows = list(MeterReading.objects.filter(meter=meter).order_by("start").values_list("start", "kwh"))
    assert epoch.tolist() == [int(s.timestamp()) for s, _ in rows]
    assert units.tolist() == [int(k * 10_000) for _, k in rows]
    assert epoch[0] < 946_684_800 and units[0] == 999_999_999  # before 2000-01-01 (sent as negative), large
    assert readings_arrays({uneven[-1].pk: [lo, hi]})[uneven[-1].pk][0].size == 0


@pytest.mark.postgres  # the statements of PostgreSQL's set-based reads; SQLite (the embedded default) reads per meter
def test_the_refresh_costs_the_same_statements_for_two_meters_as_for_all(uneven):
    ids = [m.pk for m in uneven]
    now = timezone.now()
    with CaptureQueriesContext(connection) as two:
        meter_statuses_refresh_many(meter_ids=ids[:2], now=now)
    with CaptureQueriesContext(connection) as every:
        meter_statuses_refresh_many(meter_ids=ids, now=now)
    # meters, statuses created, locked, readings, ends, the year's rest, the update (+ the savepoint and release)
    assert len(every) == len(two) <= 9
    reads = [q["sql"] for q in every.captured_queries if "assessment_meterreading" in q["sql"]]
    assert len(reads) == 3
