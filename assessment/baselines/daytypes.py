"""Day types per meter: does this meter run through holidays? Learned from the meter's own history.

The ISO baselines class NERC holidays with weekends (CAISO BPM for Demand Response: weekend/holiday events use
the most recent weekend days *or holidays*; PJM Manual 11 §10 and NYISO EDRP/SCR manual: Sunday and holiday
events use Sundays and holidays; holidays are never in a weekday baseline). That is right for a household or a
shop that closes, and wrong for a plant that keeps producing through holidays: its Thanksgiving at production
level then sits in its Sunday baseline and its weekday baselines lose a like day.

What this platform follows instead of the blanket rule: IPMVP (EVO 10000-1, Core Concepts, "Measurement
Boundary" and the M&V plan's operating schedule) leaves the day types to the facility's own operating schedule,
and CalTRACK 2.0's hourly methods learn the operating schedule (occupancy by hour of week) from the meter's own
data rather than from a calendar. Here the same idea at day level, with one question: are the meter's holidays
working days? Rule (:func:`holidays_worked`):

* reference levels from the meter's complete non-excluded days before the target day: the median daily energy
  of its business days (Mon-Fri, not a holiday) and of its weekend days (Sat, Sun); at least
  ``MIN_REFERENCE_DAYS`` of each, and apart by at least ``MIN_SEPARATION`` (25 %) of the larger;
* each earlier complete non-excluded holiday (NERC, or the caller's extra holidays) counts as *worked* when its
  daily energy is closer to the business-day median than to the weekend median;
* the meter runs through holidays when more than half of those holidays were worked (at least one holiday seen).

Such a meter's holidays are ordinary days of their weekday for every baseline and for the choice's like days: a
Sunday event no longer pools its Thanksgiving, and its weekday baselines may use it. Any other meter (no holiday
in its history, holidays that look like weekends, too little history) keeps the published rule unchanged.
Pure: no ORM.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import numpy as np

from .calendar import is_nerc_holiday
from .grid import DayGrid

#: Fewer complete business days or weekend days than this: no reference level, the published rule applies.
MIN_REFERENCE_DAYS = 3
#: The business-day and weekend medians must differ by at least this share of the larger one: a meter whose
#: weekends look like its weekdays (most households: 5-20 % apart in the demo, about one day-to-day standard
#: deviation) has no distinct working days, and one noisy holiday must not reclassify it.
MIN_SEPARATION = 0.25


def is_holiday(day: date, holidays: Iterable[date] = ()) -> bool:
    return day in set(holidays) or is_nerc_holiday(day)


def holidays_worked(
    *, grid: DayGrid, before: date, holidays: Iterable[date] = (), excluded_days: Iterable[date] = ()
) -> bool:
    """True when the meter's earlier holidays (before ``before``) look like its business days, not its weekends."""
    holidays, excluded = set(holidays), set(excluded_days)
    business, weekend, holiday = [], [], []
    for d, row in zip(grid.days, grid.values, strict=True):
        if d >= before or d in excluded or np.isnan(row).any():
            continue
        energy = float(row.sum())
        if is_holiday(d, holidays):
            holiday.append(energy)
        elif d.weekday() < 5:
            business.append(energy)
        else:
            weekend.append(energy)
    if not holiday or len(business) < MIN_REFERENCE_DAYS or len(weekend) < MIN_REFERENCE_DAYS:
        return False
    work, rest = float(np.median(business)), float(np.median(weekend))
    if abs(work - rest) < MIN_SEPARATION * max(abs(work), abs(rest)):
        return False
    worked = sum(abs(e - work) < abs(e - rest) for e in holiday)
    return worked * 2 > len(holiday)


def day_kind(day: date, holidays: Iterable[date] = (), *, worked: bool = False) -> str:
    """``weekday``, ``saturday`` or ``sunday-holiday``; with ``worked`` a holiday is the day of its weekday."""
    if not worked and is_holiday(day, holidays):
        return "sunday-holiday"
    if day.weekday() < 5:
        return "weekday"
    return "saturday" if day.weekday() == 5 else "sunday-holiday"
