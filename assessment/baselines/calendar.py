"""NERC holidays and day types for baseline day selection.

The ISOs exclude "NERC holidays" from weekday baselines and pool them with weekends (CAISO BPM for
Demand Response; PJM Manual 11 §10 "CBL"; NYISO EDRP/SCR manual). NERC's six off-peak holidays
(NERC Operating Committee, "Additional Off-Peak Days"): New Year's Day, Memorial Day (last Monday of
May), Independence Day, Labor Day (first Monday of September), Thanksgiving Day (fourth Thursday of
November) and Christmas Day. A fixed-date holiday falling on a Sunday is observed on the Monday after;
one falling on a Saturday is not moved (NERC rule).

The ``holidays`` PyPI package is not installed in this platform, so this small function is the
calendar (it covers exactly the NERC set, which ``holidays.financial_holidays("NERC")`` also gives).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    last = nxt - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


@lru_cache(maxsize=256)
def nerc_holidays(year: int) -> frozenset[date]:
    """The NERC holidays observed in ``year``."""
    fixed = [date(year, 1, 1), date(year, 7, 4), date(year, 12, 25)]
    observed = [d + timedelta(days=1) if d.weekday() == 6 else d for d in fixed]
    floating = [
        _last_weekday(year, 5, 0),  # Memorial Day
        _nth_weekday(year, 9, 0, 1),  # Labor Day
        _nth_weekday(year, 11, 3, 4),  # Thanksgiving
    ]
    return frozenset(observed + floating)


def is_nerc_holiday(day: date) -> bool:
    return day in nerc_holidays(day.year)


def is_weekday_type(day: date, extra_holidays: Iterable[date] = ()) -> bool:
    """True for a business day (Mon-Fri and not a NERC or extra holiday)."""
    return day.weekday() < 5 and not is_nerc_holiday(day) and day not in set(extra_holidays)
