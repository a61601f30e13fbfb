"""Consumption analysis against hand-worked numbers."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from assessment import quality
from assessment.consumption import analyse

NY = "America/New_York"


def _day(day: date) -> list:
    """1 kW all day (0.25 kWh per quarter-hour) except 4 kW from 18:00 to 19:00 local time."""
    start, end = quality.local_day_bounds(day, NY)
    rows, t = [], start
    while t < end:
        rows.append((t, Decimal("1.00") if t.astimezone(ZoneInfo(NY)).hour == 18 else Decimal("0.25")))
        t += timedelta(minutes=15)
    return rows


def test_load_shape_peak_base_load_factor_and_seasons():
    readings = _day(date(2026, 1, 5)) + _day(date(2026, 7, 6))  # two Mondays, winter and summer
    a = analyse(readings, tz=NY, interval_minutes=15)
    assert (a.intervals, a.days, a.total_kwh) == (192, 2, Decimal("54.00"))
    assert a.daily_shape_kw[18] == Decimal("4.000") and a.daily_shape_kw[3] == Decimal("1.000")
    assert a.weekly_shape_kw[0][18] == Decimal("4.000") and a.weekly_shape_kw[1][18] == Decimal("0.000")
    assert a.peak_kw == Decimal("4.000")
    assert a.peak_at.isoformat() == "2026-01-05T18:00:00-05:00"
    assert a.base_load_kw == Decimal("1.000")
    assert a.average_kw == Decimal("1.125")  # (23 x 1 + 4) / 24
    assert a.load_factor == Decimal("0.281")  # 1.125 / 4
    assert a.seasons == {
        "winter": {"kwh": Decimal("27.00"), "days": 1, "kwh_per_day": Decimal("27.000")},
        "summer": {"kwh": Decimal("27.00"), "days": 1, "kwh_per_day": Decimal("27.000")},
    }
    assert a.as_dict()["weekly_shape_kw"]["Mon"][18] == "4.000"


def test_the_25_hour_day_counts_its_extra_hour():
    a = analyse(_day(date(2026, 11, 1)), tz=NY, interval_minutes=15)
    assert a.intervals == 100 and a.total_kwh == Decimal("28.00")  # 24 x 1 kWh + 4 kWh peak hour
    assert a.daily_shape_kw[1] == Decimal("1.000")  # 01:00 happens twice, averaged


def test_no_data():
    assert analyse([], tz=NY, interval_minutes=15).peak_at is None
