"""Same-time-of-day average of recent eligible days (the unadjusted "X-in-Y" family).

This is the core of the CAISO 10-in-10 baseline (CAISO Business Practice Manual for Demand Response,
"Customer Load Baseline": the average load of the 10 most recent eligible non-event weekdays within
a 45-day look-back, per interval). The CAISO day-of adjustment and the PJM / NYISO variants are built
on top of this module by the assessment issue; this module is deliberately the unadjusted average.

Days are *local* calendar days of the premise; each interval of the target window is matched with the
interval that starts at the same local wall-clock time on the selected days, so daylight-saving days
(23 or 25 hours) line up by wall-clock time. A selected day lacking a reading at that time is left out
of that interval's average (and the count of days per interval is reported).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

KWH_QUANT = Decimal("0.0001")


class InsufficientHistory(ValueError):
    """Fewer eligible days than the method's minimum."""


@dataclass(frozen=True)
class DayAverageResult:
    intervals: list[tuple[datetime, Decimal]]
    days_used: list[date]
    parameters: dict = field(default_factory=dict)

    @property
    def total_kwh(self) -> Decimal:
        return sum((kwh for _, kwh in self.intervals), Decimal("0"))


def eligible_days(
    *,
    target_day: date,
    available_days: Iterable[date],
    max_days: int,
    lookback_days: int,
    weekdays_only: bool,
    excluded: Iterable[date] = (),
) -> list[date]:
    """The most recent ``max_days`` days before ``target_day`` within the look-back, oldest first."""
    excluded_set = set(excluded)
    earliest = target_day - timedelta(days=lookback_days)
    candidates = sorted(
        {
            d
            for d in available_days
            if earliest <= d < target_day and d not in excluded_set and (not weekdays_only or d.weekday() < 5)
        },
        reverse=True,
    )
    return sorted(candidates[:max_days])


def day_average_baseline(
    *,
    readings: Sequence[tuple[datetime, Decimal]],
    window: Sequence[datetime],
    tz: str,
    max_days: int = 10,
    min_days: int = 5,
    lookback_days: int = 45,
    excluded_days: Iterable[date] = (),
) -> DayAverageResult:
    """Average, per interval of ``window``, the load at the same local time on the selected days.

    ``readings`` are ``(aware start, kWh)`` pairs of the history; ``window`` the aware interval starts to
    estimate. Weekday targets use weekdays, weekend targets weekend days (CAISO's day-type split).
    """
    if not window:
        raise ValueError("empty window")
    zone = ZoneInfo(tz)
    by_day: dict[date, dict[time, Decimal]] = {}
    for start, kwh in readings:
        local = start.astimezone(zone)
        by_day.setdefault(local.date(), {})[local.timetz().replace(tzinfo=None)] = kwh
    target_day = window[0].astimezone(zone).date()
    weekday_target = target_day.weekday() < 5
    day_type_days = [d for d in by_day if (d.weekday() < 5) == weekday_target]
    days = eligible_days(
        target_day=target_day,
        available_days=day_type_days,
        max_days=max_days,
        lookback_days=lookback_days,
        weekdays_only=False,
        excluded=excluded_days,
    )
    if len(days) < min_days:
        raise InsufficientHistory(f"{len(days)} eligible days before {target_day}, need {min_days}")
    out: list[tuple[datetime, Decimal]] = []
    for start in window:
        wall = start.astimezone(zone).timetz().replace(tzinfo=None)
        values = [by_day[d][wall] for d in days if wall in by_day[d]]
        if not values:
            raise InsufficientHistory(f"no history at {wall} local time")
        avg = (sum(values, Decimal("0")) / len(values)).quantize(KWH_QUANT, rounding=ROUND_HALF_UP)
        out.append((start, avg))
    return DayAverageResult(
        intervals=out,
        days_used=days,
        parameters={"max_days": max_days, "min_days": min_days, "lookback_days": lookback_days, "tz": tz},
    )
