"""Meter data quality over any window of local days (read model; the rules are :mod:`assessment.quality`).

The validation status (``MeterStatus``, "validated now") looks at the recent past from today; an imported year of
history needs its own account: how complete it is, where its gaps are, which days were 23 or 25 hours long and
whether they carry the right number of intervals. By default the window is the imported range (the local days of
the meter's first and last readings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from accounts.models import Meter
from flexplatform.errors import ApplicationError

from .baselines.grid import local_day_bounds
from .models import MeterReading
from .quality import assess_quality

MAX_WINDOW_DAYS = 731
LISTED = 50  # gaps and incomplete days listed (all are counted)


@dataclass
class QualityWindow:
    meter_id: str
    timezone: str
    first_day: date | None
    last_day: date | None
    expected: int = 0
    present: int = 0
    completeness: float = 0.0
    score: str = "0.00"
    clean_days: int = 0
    days: int = 0
    issues: dict = field(default_factory=dict)
    gap_count: int = 0
    gaps: list[dict] = field(default_factory=list)
    incomplete_day_count: int = 0
    incomplete_days: list[dict] = field(default_factory=list)
    dst_days: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def meter_imported_range(*, meter: Meter) -> tuple[date, date] | None:
    """The local days of the meter's first and last readings, or None without readings."""
    qs = MeterReading.objects.filter(meter=meter)
    first = qs.order_by("start").values_list("start", flat=True).first()
    if first is None:
        return None
    last = qs.order_by("-start").values_list("start", flat=True).first()
    zone = ZoneInfo(meter.local_timezone)
    return first.astimezone(zone).date(), last.astimezone(zone).date()


def meter_quality_window(*, meter: Meter, first_day: date | None = None, last_day: date | None = None) -> QualityWindow:
    """Quality of the meter's import channel over local days ``first_day..last_day`` (default: imported range)."""
    tz = meter.local_timezone
    if first_day is None or last_day is None:
        imported = meter_imported_range(meter=meter)
        if imported is None and (first_day is None or last_day is None):
            return QualityWindow(meter_id=meter.meter_id, timezone=tz, first_day=None, last_day=None)
        first_day = first_day or imported[0]
        last_day = last_day or imported[1]
    if last_day < first_day:
        raise ApplicationError("last_day is before first_day.", fields={"last_day": ["Before first_day."]})
    if (last_day - first_day).days >= MAX_WINDOW_DAYS:
        raise ApplicationError(
            f"A quality window spans at most {MAX_WINDOW_DAYS} days.", fields={"last_day": ["Window too long."]}
        )
    start, _ = local_day_bounds(first_day, tz)
    _, end = local_day_bounds(last_day, tz)
    readings = list(
        MeterReading.objects.filter(meter=meter, start__gte=start, start__lt=end).values_list("start", "kwh")
    )
    report = assess_quality(
        readings, first_day=first_day, last_day=last_day, tz=tz, interval_minutes=meter.interval_minutes
    )
    per_hour = 60 // meter.interval_minutes
    incomplete = [d for d in report.days if d.present < d.expected]
    return QualityWindow(
        meter_id=meter.meter_id,
        timezone=tz,
        first_day=first_day,
        last_day=last_day,
        expected=report.expected,
        present=report.present,
        completeness=round(report.completeness, 4),
        score=str(report.score),
        clean_days=report.clean_days,
        days=len(report.days),
        issues=report.issues(),
        gap_count=len(report.gaps),
        gaps=[_gap(s, e, tz, meter.interval_minutes) for s, e in report.gaps[:LISTED]],
        incomplete_day_count=len(incomplete),
        incomplete_days=[{"day": d.day, "expected": d.expected, "present": d.present} for d in incomplete[:LISTED]],
        dst_days=[
            {"day": d.day, "hours": d.expected // per_hour, "expected": d.expected, "present": d.present}
            for d in report.days
            if d.expected != 24 * per_hour
        ],
    )


def _gap(start: datetime, end: datetime, tz: str, interval_minutes: int) -> dict:
    zone = ZoneInfo(tz)
    return {
        "start": start,
        "end": end,
        "local_start": start.astimezone(zone).isoformat(),
        "intervals": int((end - start) / timedelta(minutes=interval_minutes)),
    }
