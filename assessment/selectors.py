"""Read models for assessment."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db.models import QuerySet

from accounts.models import Meter, Premise

from .models import BaselineInterval, FlexibilityAssessment, MeterReading


def meter_readings(*, meter: Meter, start: datetime, end: datetime) -> QuerySet[MeterReading]:
    return MeterReading.objects.filter(meter=meter, start__gte=start, start__lt=end).order_by("start")


def baseline_intervals(*, meter: Meter, start: datetime, end: datetime) -> dict[datetime, object]:
    """The most recent baseline value per interval start within ``[start, end)``."""
    rows = (
        BaselineInterval.objects.filter(baseline__meter=meter, start__gte=start, start__lt=end)
        .order_by("start", "-baseline__computed_at")
        .values_list("start", "kwh")
    )
    out: dict[datetime, object] = {}
    for s, k in rows:
        out.setdefault(s, k)
    return out


def assessment_for_window(*, premise: Premise, start: datetime, end: datetime) -> FlexibilityAssessment | None:
    return (
        FlexibilityAssessment.objects.filter(premise=premise, window_start__lte=start, window_end__gte=end)
        .order_by("-assessed_at")
        .first()
    )


def accredited_capacity_kw(*, premise: Premise, start: datetime, end: datetime) -> Decimal | None:
    """The kW the market lets a premise sell over ``[start, end)``, or None if it has not been assessed.

    The single capacity gate the market calls. Today: the assessed capacity for the window (no performance
    history yet, so a reliability factor of 1).
    """
    assessment = assessment_for_window(premise=premise, start=start, end=end)
    return None if assessment is None else assessment.capacity_kw
