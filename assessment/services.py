"""Write services for assessment: meter readings, baselines, flexible capacity."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from accounts.models import Meter, Premise
from flexplatform.errors import ApplicationError

from .baselines.day_average import InsufficientHistory, day_average_baseline
from .models import Baseline, BaselineInterval, FlexibilityAssessment, MeterReading

BASELINE_METHOD = "day-average-10-of-10"
BASELINE_LOOKBACK_DAYS = 45

# Share of a premise's baseline demand in the window that its segment can typically shed
# (thin foundation rule; the assessment issue replaces it with device-level capability).
FLEX_SHARE = {
    Premise.Segment.RESIDENTIAL: Decimal("0.30"),
    Premise.Segment.COMMERCIAL: Decimal("0.20"),
    Premise.Segment.INDUSTRIAL: Decimal("0.15"),
}


def interval_starts(start: datetime, end: datetime, minutes: int) -> list[datetime]:
    step = timedelta(minutes=minutes)
    out, t = [], start
    while t < end:
        out.append(t)
        t += step
    return out


def _check_window(start: datetime, end: datetime, minutes: int) -> None:
    if timezone.is_naive(start) or timezone.is_naive(end):
        raise ApplicationError("Times must carry a timezone.", fields={"window_start": ["Naive datetime."]})
    if end <= start:
        raise ApplicationError("The window ends before it starts.", fields={"window_end": ["Must be after start."]})
    if int(start.timestamp()) % (minutes * 60):
        raise ApplicationError(
            f"The window must start on a {minutes}-minute boundary.", fields={"window_start": ["Not aligned."]}
        )


@transaction.atomic
def meter_readings_record(*, meter: Meter, readings: Sequence[tuple[datetime, Decimal]]) -> int:
    """Store interval readings; all-or-nothing. Re-sending an identical reading changes nothing.

    Returns how many new readings were stored.
    """
    step = meter.interval_minutes * 60
    rows = []
    for i, (start, kwh) in enumerate(readings):
        if timezone.is_naive(start):
            raise ApplicationError(
                f"Reading {i + 1}: time has no timezone.", fields={f"readings.{i}.start": ["Naive."]}
            )
        if int(start.timestamp()) % step:
            raise ApplicationError(
                f"Reading {i + 1}: {start.isoformat()} is not on a {meter.interval_minutes}-minute boundary.",
                fields={f"readings.{i}.start": ["Not aligned."]},
            )
        kwh = Decimal(kwh)
        if kwh < 0:
            raise ApplicationError(f"Reading {i + 1}: negative energy.", fields={f"readings.{i}.kwh": ["Negative."]})
        rows.append(MeterReading(meter=meter, start=start, kwh=kwh))
    before = MeterReading.objects.filter(meter=meter).count()
    MeterReading.objects.bulk_create(rows, ignore_conflicts=True, batch_size=5000)
    return MeterReading.objects.filter(meter=meter).count() - before


@transaction.atomic
def baseline_compute(
    *, meter: Meter, window_start: datetime, window_end: datetime, now: datetime | None = None
) -> Baseline:
    """Compute (once) the meter's baseline for a window from the history before the window's day."""
    _check_window(window_start, window_end, meter.interval_minutes)
    existing = Baseline.objects.filter(
        meter=meter, method=BASELINE_METHOD, window_start=window_start, window_end=window_end
    ).first()
    if existing is not None:
        return existing
    history = list(
        MeterReading.objects.filter(
            meter=meter,
            start__gte=window_start - timedelta(days=BASELINE_LOOKBACK_DAYS + 1),
            start__lt=window_start,
        ).values_list("start", "kwh")
    )
    tz = meter.premise.timezone
    try:
        result = day_average_baseline(
            readings=history,
            window=interval_starts(window_start, window_end, meter.interval_minutes),
            tz=tz,
            lookback_days=BASELINE_LOOKBACK_DAYS,
        )
    except InsufficientHistory as exc:
        raise ApplicationError(f"Meter {meter.meter_id}: {exc}.", code="insufficient_history") from exc
    baseline = Baseline.objects.create(
        meter=meter,
        method=BASELINE_METHOD,
        parameters=result.parameters,
        days_used=[d.isoformat() for d in result.days_used],
        window_start=window_start,
        window_end=window_end,
        total_kwh=result.total_kwh,
        computed_at=now or timezone.now(),
    )
    BaselineInterval.objects.bulk_create(
        [BaselineInterval(baseline=baseline, start=s, kwh=k) for s, k in result.intervals]
    )
    return baseline


@transaction.atomic
def flexibility_assess(
    *, premise: Premise, window_start: datetime, window_end: datetime, now: datetime | None = None
) -> FlexibilityAssessment:
    """Assess the premise's flexible capacity (kW) over a window, from its revenue meter's baseline."""
    existing = FlexibilityAssessment.objects.filter(
        premise=premise, window_start=window_start, window_end=window_end
    ).first()
    if existing is not None:
        return existing
    meter = premise.meters.order_by("id").first()
    if meter is None:
        raise ApplicationError("The premise has no meter.", code="no_meter")
    baseline = baseline_compute(meter=meter, window_start=window_start, window_end=window_end, now=now)
    hours = Decimal((window_end - window_start).total_seconds()) / Decimal(3600)
    baseline_kw = (baseline.total_kwh / hours).quantize(Decimal("0.001"), rounding=ROUND_DOWN)
    capacity_kw = (baseline_kw * FLEX_SHARE[premise.segment]).quantize(Decimal("0.001"), rounding=ROUND_DOWN)
    return FlexibilityAssessment.objects.create(
        premise=premise,
        baseline=baseline,
        window_start=window_start,
        window_end=window_end,
        baseline_kw=baseline_kw,
        capacity_kw=capacity_kw,
        method=f"segment-share:{FLEX_SHARE[premise.segment]}",
        assessed_at=now or timezone.now(),
    )


@transaction.atomic
def meter_status_refresh(*, meter: Meter, now: datetime | None = None):
    """Re-assess a meter's connectivity, data quality and validation over the last ``METER_VALIDATION_MIN_DAYS``
    complete local days, and store it on its :class:`~assessment.models.MeterStatus`."""
    from django.conf import settings

    from . import quality
    from .models import MeterStatus

    now = now or timezone.now()
    status, _ = MeterStatus.objects.select_for_update().get_or_create(meter=meter)
    tz = meter.premise.timezone
    min_days = settings.METER_VALIDATION_MIN_DAYS
    last_day = now.astimezone(ZoneInfo(tz)).date() - timedelta(days=1)
    first_day = last_day - timedelta(days=min_days - 1)
    window_start, _ = quality.local_day_bounds(first_day, tz)
    _, window_end = quality.local_day_bounds(last_day, tz)
    readings = list(
        MeterReading.objects.filter(meter=meter, start__gte=window_start, start__lt=window_end).values_list(
            "start", "kwh"
        )
    )
    report = quality.assess_quality(
        readings, first_day=first_day, last_day=last_day, tz=tz, interval_minutes=meter.interval_minutes
    )
    latest = MeterReading.objects.filter(meter=meter).order_by("-start").values_list("start", flat=True).first()
    earliest = MeterReading.objects.filter(meter=meter).order_by("start").values_list("start", flat=True).first()
    history_days = 0
    if earliest is not None:
        first_local = max(earliest.astimezone(ZoneInfo(tz)).date(), first_day)
        history_days = max((last_day - first_local).days + 1, 0)
    link = quality.connectivity(latest_start=latest, interval_minutes=meter.interval_minutes, now=now)
    decision = quality.validation_decision(
        ownership_verified=status.ownership_verified_at is not None,
        history_days=history_days,
        report=report,
        link=link,
        min_days=min_days,
        min_completeness=settings.METER_VALIDATION_MIN_COMPLETENESS,
    )
    status.connectivity = link
    status.latest_reading_start = latest
    status.quality_score = report.score
    status.completeness = Decimal(str(round(report.completeness, 4)))
    status.clean_days = report.clean_days
    status.issues = {**report.issues(), "clean_share": round(report.clean_share, 4), "days": min_days}
    if decision.validated and not status.validated:
        status.validated_at = now
    status.validated = decision.validated
    status.reasons = list(decision.reasons)
    status.checked_at = now
    status.save()
    return status


def meter_statuses_refresh(*, now: datetime | None = None) -> int:
    """Refresh the status of every meter, one transaction per meter; returns how many were refreshed."""
    now = now or timezone.now()
    count = 0
    for meter in Meter.objects.select_related("premise").order_by("pk").iterator(chunk_size=200):
        meter_status_refresh(meter=meter, now=now)
        count += 1
    return count
