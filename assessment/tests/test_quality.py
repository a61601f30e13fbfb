"""Data quality, connectivity and validation of meters; daylight-saving days in local time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import override_settings

from assessment import quality
from assessment.ingest.services import readings_import
from assessment.ingest.types import ParsedReading, ParseResult
from assessment.services import meter_status_refresh

NY = "America/New_York"
SPRING, FALL, PLAIN = date(2026, 3, 8), date(2026, 11, 1), date(2026, 1, 5)


def _day(day, *, tz=NY, minutes=15, kwh=None):
    """A local day of readings: varying values, or one constant ``kwh`` (a stuck register)."""
    start, end = quality.local_day_bounds(day, tz)
    out, t, i = [], start, 0
    while t < end:
        out.append((t, Decimal(kwh) if kwh is not None else Decimal("0.5") + Decimal(i % 4) / 10))
        t += timedelta(minutes=minutes)
        i += 1
    return out


def test_dst_days_have_23_and_25_hours():
    assert quality.expected_intervals(SPRING, NY, 15) == 92
    assert quality.expected_intervals(FALL, NY, 15) == 100
    assert quality.expected_intervals(PLAIN, NY, 15) == 96
    assert quality.expected_intervals(SPRING, NY, 60) == 23
    assert quality.expected_intervals(FALL, "Europe/Berlin", 30) == 48  # Berlin changed on 25 October
    assert quality.expected_intervals(date(2026, 10, 25), "Europe/Berlin", 30) == 50


@pytest.mark.parametrize("day", [SPRING, FALL, PLAIN])
def test_a_complete_day_is_clean_whatever_its_length(day):
    report = quality.assess_quality(_day(day), first_day=day, last_day=day, tz=NY, interval_minutes=15)
    assert report.completeness == 1.0 and report.clean_days == 1 and report.score == Decimal("100.00")
    assert report.gaps == []


def test_gaps_duplicates_negatives():
    rows = _day(FALL)
    missing = rows[40:44]
    rows = rows[:40] + rows[44:] + [rows[0]] + [(rows[50][0], Decimal("-0.1"))]
    report = quality.assess_quality(rows, first_day=FALL, last_day=FALL, tz=NY, interval_minutes=15)
    assert report.expected == 100 and report.present == 96
    assert report.gaps == [(missing[0][0], missing[-1][0] + timedelta(minutes=15))]
    assert report.duplicates == 2  # rows[0] twice, rows[50] with another value
    assert report.negatives == 0  # the first value of a repeated interval is kept; the repeat is the anomaly
    assert report.clean_days == 0
    assert report.issues()["gap_intervals"] == 4


def test_spike_and_flat_line():
    rows = [(s, Decimal("0.4") + Decimal(i % 5) / 10) for i, (s, _) in enumerate(_day(PLAIN))]
    rows[30] = (rows[30][0], Decimal("9.0"))  # > 8x the median and far outside the spread
    report = quality.assess_quality(rows, first_day=PLAIN, last_day=PLAIN, tz=NY, interval_minutes=15)
    assert (report.spikes, report.flat_intervals) == (1, 0)
    assert report.score == Decimal("98.96")  # 100 x 1.0 x (1 - 1/96)
    stuck = _day(PLAIN, kwh="0.7")  # the same value all day: a stuck register
    report = quality.assess_quality(stuck, first_day=PLAIN, last_day=PLAIN, tz=NY, interval_minutes=15)
    assert report.flat_intervals == 96 and report.score == Decimal("0.00")
    zeros = _day(PLAIN, kwh="0")  # zero all day is not a flat line (the premise may be empty)
    assert (
        quality.assess_quality(zeros, first_day=PLAIN, last_day=PLAIN, tz=NY, interval_minutes=15).flat_intervals == 0
    )


def test_negative_values():
    rows = _day(PLAIN)
    rows[3] = (rows[3][0], Decimal("-0.2"))
    report = quality.assess_quality(rows, first_day=PLAIN, last_day=PLAIN, tz=NY, interval_minutes=15)
    assert report.negatives == 1 and report.clean_days == 0


def test_connectivity_from_age_of_latest_reading():
    now = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    assert quality.connectivity(latest_start=None, interval_minutes=15, now=now) == "never"
    assert quality.connectivity(latest_start=now - timedelta(minutes=75), interval_minutes=15, now=now) == "online"
    assert quality.connectivity(latest_start=now - timedelta(minutes=76), interval_minutes=15, now=now) == "stale"
    assert quality.connectivity(latest_start=now - timedelta(hours=49), interval_minutes=15, now=now) == "offline"
    assert quality.connectivity(latest_start=now - timedelta(hours=5), interval_minutes=60, now=now) == "online"


def test_validation_decision_reasons():
    report = quality.assess_quality(_day(PLAIN), first_day=PLAIN, last_day=PLAIN, tz=NY, interval_minutes=15)
    ok = quality.validation_decision(
        ownership_verified=True, history_days=30, report=report, link="stale", min_days=30, min_completeness=0.9
    )
    assert ok.validated and ok.reasons == ()
    no = quality.validation_decision(
        ownership_verified=False, history_days=12, report=report, link="offline", min_days=30, min_completeness=0.9
    )
    assert not no.validated and len(no.reasons) == 3


def _load(world, days, *, until, account="ACCT-ALICE-1", drop_every=0):
    rows = []
    for n in range(days):
        for i, (s, v) in enumerate(_day(until - timedelta(days=days - n))):
            if drop_every and i % drop_every == 0:
                continue
            rows.append(ParsedReading("A-1", s, v, f"r{n}.{i}"))
    readings_import(user=None, source="json", parsed=ParseResult(rows=rows), account_number=account)


@override_settings(METER_VALIDATION_MIN_DAYS=30)  # the production default (tests run with 14)
def test_meter_validated_after_enough_clean_history(meter_world):
    today = date(2026, 3, 20)  # the window includes the spring-forward day
    now = datetime(2026, 3, 20, 4, 30, tzinfo=UTC)  # 00:30 local: the last reading ended 45 minutes ago
    _load(meter_world, 12, until=today)
    status = meter_status_refresh(meter=meter_world.alice_meter, now=now)
    assert not status.validated and status.connectivity == "online"
    assert status.reasons[0] == "12 days of history; 30 needed."
    _load(meter_world, 30, until=today)
    status = meter_status_refresh(meter=meter_world.alice_meter, now=now)
    assert status.validated and status.validated_at == now and status.reasons == []
    assert status.quality_score == Decimal("100.00") and status.clean_days == 30
    assert status.completeness == Decimal("1.0000")


@override_settings(METER_VALIDATION_MIN_DAYS=10, METER_VALIDATION_MIN_COMPLETENESS=0.95)
def test_validation_thresholds_are_settings(meter_world):
    now = datetime(2026, 3, 20, 4, 30, tzinfo=UTC)
    _load(meter_world, 12, until=date(2026, 3, 20), drop_every=10)  # 90 % complete
    status = meter_status_refresh(meter=meter_world.alice_meter, now=now)
    assert not status.validated
    assert status.reasons == ["Completeness 89.6% is below 95%."]


def test_no_validation_without_ownership(meter_world):
    now = datetime(2026, 3, 20, 4, 30, tzinfo=UTC)
    _load(meter_world, 30, until=date(2026, 3, 20), account="")
    status = meter_status_refresh(meter=meter_world.alice_meter, now=now)
    assert not status.validated and status.reasons[0].startswith("Ownership not shown")


def test_beat_task_refreshes_every_meter(meter_world):
    from assessment.models import MeterStatus
    from assessment.tasks import refresh_meter_statuses

    _load(meter_world, 3, until=date(2026, 3, 20))
    assert refresh_meter_statuses.delay().get() == 2
    statuses = {s.meter.meter_id: s for s in MeterStatus.objects.select_related("meter")}
    assert statuses["A-1"].latest_reading_start is not None and statuses["A-1"].checked_at is not None
    assert statuses["B-1"].connectivity == "never" and not statuses["B-1"].validated


def test_the_status_refresh_stores_the_meters_year_and_the_annual_estimate_reads_it(meter_world):
    from django.db.models import Sum

    from assessment.models import MeterReading
    from assessment.selectors import premise_annual_kwh

    today = date(2026, 3, 20)
    now = datetime(2026, 3, 20, 4, 30, tzinfo=UTC)
    meter = meter_world.alice_meter
    _load(meter_world, 12, until=today)
    assert premise_annual_kwh(meter.premise, now=now) is None  # never checked: no estimate yet
    status = meter_status_refresh(meter=meter, now=now)
    readings = MeterReading.objects.filter(meter=meter, start__lt=now)
    assert status.year_intervals == readings.count() > 0
    # the stored numeric(12, 4) (SQLite sums the decimals as binary floats: 746.200000000004)
    assert status.year_kwh == Decimal(readings.aggregate(s=Sum("kwh"))["s"]).quantize(Decimal("0.0001"))
    days = Decimal(status.year_intervals * meter.interval_minutes) / 1440
    assert premise_annual_kwh(meter.premise, now=now) == (status.year_kwh / days * 365).quantize(Decimal("1"))
