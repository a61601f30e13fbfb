"""Test data for the market: accredited capacity for a premise and window, qualifications, stakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from assessment.models import Baseline, FlexibilityAssessment
from market.models import ResourceQualification

DAY = datetime(2030, 6, 3, tzinfo=UTC)  # a delivery day far enough ahead for every gate


def accredit(premise, start: datetime, end: datetime, kw) -> FlexibilityAssessment:
    """The assessment app's output for a window (what ``accredited_capacity_kw`` reads)."""
    meter = premise.meters.first()
    baseline, _ = Baseline.objects.get_or_create(
        meter=meter,
        method="test",
        window_start=start,
        window_end=end,
        defaults={"total_kwh": Decimal("0"), "computed_at": timezone.now()},
    )
    return FlexibilityAssessment.objects.create(
        premise=premise,
        baseline=baseline,
        window_start=start,
        window_end=end,
        baseline_kw=Decimal(kw) * 2,
        capacity_kw=Decimal(kw),
        method="test",
        assessed_at=timezone.now(),
    )


def accredit_day(premises, kw, day: datetime = DAY) -> None:
    for p in premises:
        accredit(p, day - timedelta(days=1), day + timedelta(days=2), kw)


def qualify(premise, product: str, response_seconds="0.5", sustain_minutes=60) -> ResourceQualification:
    return ResourceQualification.objects.create(
        premise=premise,
        product=product,
        response_seconds=Decimal(response_seconds),
        sustain_minutes=sustain_minutes,
        tested_at=timezone.now(),
    )
