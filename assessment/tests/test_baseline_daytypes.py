"""A meter that runs through holidays: its holidays are working days (assessment/baselines/daytypes.py).

Hand-worked numbers on hourly grids, 1 Nov - 6 Dec 2026 (Thanksgiving Thursday 26 Nov, a NERC holiday):
* the plant reads 10 kWh every hour of a business day and on Thanksgiving (240 kWh/day), 2 kWh/h on weekends;
* the household reads 1 kWh/h on business days (24 kWh/day), 2 kWh/h on weekends and on Thanksgiving (48).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from assessment.baselines.choice import like_days
from assessment.baselines.compute import compute
from assessment.baselines.daytypes import day_kind, holidays_worked
from assessment.baselines.grid import DayGrid

THANKSGIVING = date(2026, 11, 26)
SUNDAY, MONDAY = date(2026, 12, 6), date(2026, 12, 7)


def _grid(last: date, *, business: float, weekend: float, holiday: float) -> DayGrid:
    first = date(2026, 11, 1)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]

    def level(d: date) -> float:
        return holiday if d == THANKSGIVING else business if d.weekday() < 5 else weekend

    return DayGrid(values=np.array([[level(d)] * 24 for d in days]), days=days, interval_minutes=60)


def _plant(last=SUNDAY):
    return _grid(last, business=10.0, weekend=2.0, holiday=10.0)


def _household(last=SUNDAY):
    return _grid(last, business=1.0, weekend=2.0, holiday=2.0)


def test_without_a_holiday_or_references_the_published_rule_applies():
    grid = _plant()
    # no holiday before 26 Nov in the history: nothing learned
    assert holidays_worked(grid=grid, before=THANKSGIVING) is False
    # the holiday excluded (an event day): nothing learned
    assert holidays_worked(grid=grid, before=SUNDAY, excluded_days=[THANKSGIVING]) is False
    # before 8 Nov the history has two weekend days (1 and 7 Nov): too few for a reference level
    short = DayGrid(values=grid.values[:8], days=grid.days[:8], interval_minutes=60)
    assert holidays_worked(grid=short, before=date(2026, 11, 8), holidays=[date(2026, 11, 2)]) is False
    # weekends 20 % below business days (medians 24 and 19.2 kWh/day, apart by 20 % < 25 %): no distinct working
    # days, so a holiday at the business level does not reclassify the meter
    flat = _grid(SUNDAY, business=1.0, weekend=0.8, holiday=1.0)
    assert holidays_worked(grid=flat, before=SUNDAY) is False
    # 30 % apart (24 and 16.8): distinct, and the holiday at 24 is worked
    assert holidays_worked(grid=_grid(SUNDAY, business=1.0, weekend=0.7, holiday=1.0), before=SUNDAY) is True


def test_a_plant_runs_through_holidays_and_a_household_does_not():
    # plant: business median 240, weekend median 48, Thanksgiving 240 -> |240-240| < |240-48|: worked
    assert holidays_worked(grid=_plant(), before=SUNDAY) is True
    # household: business median 24, weekend median 48, Thanksgiving 48 -> |48-24| > |48-48|: not worked
    assert holidays_worked(grid=_household(), before=SUNDAY) is False
    assert day_kind(THANKSGIVING, worked=True) == "weekday"
    assert day_kind(THANKSGIVING, worked=False) == "sunday-holiday"


def test_the_plants_sunday_baseline_leaves_its_holiday_out():
    # CAISO weekend rule: the 4 most recent weekend days or holidays (unadjusted, event 14:00-18:00).
    # Published rule: 5 Dec, 29 Nov, 28 Nov, 26 Nov -> (2 + 2 + 2 + 10) / 4 = 4.0 kWh per hour.
    # The plant runs through holidays: 26 Nov is a Thursday -> 5 Dec, 29 Nov, 28 Nov, 22 Nov -> 2.0 kWh per hour.
    grid = _plant()
    kw = {"method": "caiso-10in10-unadjusted", "grid": grid, "target_day": SUNDAY, "start_slot": 14, "end_slot": 18}
    published = compute(**kw, worked_holidays=False)
    assert published.values.tolist() == [4.0] * 4 and THANKSGIVING in published.days_used
    learned = compute(**kw)
    assert learned.values.tolist() == [2.0] * 4
    assert learned.days_used == [date(2026, 11, 22), date(2026, 11, 28), date(2026, 11, 29), date(2026, 12, 5)]
    assert learned.parameters["holidays_worked"] is True
    # PJM's Sunday CBL (Sundays and holidays, highest 2 of the 3 most recent, unadjusted): published 29 Nov, 26 Nov,
    # 22 Nov -> highest 26 Nov (10) and 29 Nov (2) = 6.0; the plant's: 29, 22, 15 Nov -> 2.0.
    pjm = {**kw, "method": "pjm-cbl-unadjusted"}
    assert compute(**pjm, worked_holidays=False).values.tolist() == [6.0] * 4
    assert compute(**pjm).values.tolist() == [2.0] * 4


def test_the_plants_holiday_counts_as_a_weekday():
    # CAISO weekday rule, Monday 7 Dec: the 10 most recent business days; the plant's Thanksgiving is one of them
    # (4-30 Nov: Dec 4, 3, 2, 1, Nov 30, 27, 26, 25, 24, 23); the published rule skips it and reaches 20 Nov.
    grid = _plant(last=MONDAY)
    kw = {"method": "caiso-10in10-unadjusted", "grid": grid, "target_day": MONDAY, "start_slot": 14, "end_slot": 18}
    learned = compute(**kw)
    assert THANKSGIVING in learned.days_used and date(2026, 11, 20) not in learned.days_used
    assert len(learned.days_used) == 10 and learned.values.tolist() == [10.0] * 4
    published = compute(**kw, worked_holidays=False)
    assert THANKSGIVING not in published.days_used and date(2026, 11, 20) in published.days_used


def test_the_households_holiday_stays_with_its_weekends():
    # household: Thanksgiving is still pooled on a Sunday (5 Dec, 29, 28, 26 Nov, all at 2 kWh/h) and left out on a
    # Monday (the 10 business days reach back to 20 Nov).
    sunday = compute(method="caiso-10in10-unadjusted", grid=_household(), target_day=SUNDAY, start_slot=14, end_slot=18)
    assert sunday.days_used == [THANKSGIVING, date(2026, 11, 28), date(2026, 11, 29), date(2026, 12, 5)]
    assert sunday.values.tolist() == [2.0] * 4 and sunday.parameters["holidays_worked"] is False
    monday = compute(
        method="caiso-10in10-unadjusted", grid=_household(MONDAY), target_day=MONDAY, start_slot=14, end_slot=18
    )
    assert THANKSGIVING not in monday.days_used and date(2026, 11, 20) in monday.days_used


@pytest.mark.parametrize(
    ("grid", "expected"),
    [
        # the plant's Sundays only (its Thanksgiving is a Thursday)
        (_plant(), [date(2026, 11, d) for d in (1, 8, 15, 22, 29)]),
        # the household's Sundays and its Thanksgiving
        (_household(), sorted([date(2026, 11, d) for d in (1, 8, 15, 22, 29)] + [THANKSGIVING])),
    ],
)
def test_the_choice_back_tests_a_sunday_on_the_meters_own_sundays(grid, expected):
    kind, days = like_days(grid=grid, target_day=SUNDAY, start_slot=14, end_slot=18)
    assert kind == "sunday-holiday" and days == expected
