"""Flexibility measures on hand-computed cases (no database)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from assessment.flexibility import (
    DeviceConstraint,
    availability_scores,
    load_shift_kwh,
    peak_shaving_kw,
    reliability_factor,
    seasonal_profiles,
)


def test_reliability_factor_caps_each_event_and_defaults_to_one():
    # (10 + 5 + min(12, 10)) / 30: over-delivery does not make up for a shortfall.
    assert reliability_factor([10, 5, 12], [10, 10, 10]) == pytest.approx(25 / 30)
    assert reliability_factor([], []) == 1.0
    assert reliability_factor([0], [10]) == 0.0
    assert reliability_factor([-3], [10]) == 0.0


def test_peak_shaving_is_the_reduction_held_in_every_interval():
    battery = DeviceConstraint(kind="storage", power_kw=2.0, energy_kwh=10.0, soc=0.8, min_soc=0.1)
    hvac = DeviceConstraint(kind="curtailable", power_kw=2.0, share_of_load=0.3)
    # Battery: 7 kWh usable over 5 h = 1.4 kW (< 2 kW); HVAC: min(0.3 x load, 2) = 2, 2, 2 for loads 10, 8, 12.
    assert peak_shaving_kw(np.array([10.0, 8.0, 12.0]), [battery, hvac], peak_hours=5) == pytest.approx(3.4)
    # Never more than the load itself; an offline device counts for nothing.
    assert peak_shaving_kw(np.array([1.0]), [battery, hvac], peak_hours=5) == pytest.approx(1.0)
    off = DeviceConstraint(kind="curtailable", power_kw=2.0, share_of_load=0.3, available=False)
    assert peak_shaving_kw(np.array([10.0]), [off], peak_hours=5) == 0.0


def test_load_shift_respects_power_energy_and_deferral():
    ev = DeviceConstraint(kind="deferrable", power_kw=3.0, share_of_load=0.5, max_shift_hours=8.0)
    battery = DeviceConstraint(kind="storage", power_kw=2.0, energy_kwh=10.0, soc=0.5, min_soc=0.1)
    load = np.array([4.0, 8.0])  # two hours
    # EV: min(0.5 x load, 3) = 2 + 3 = 5 kWh out; fits 3 kW x 6 h in; gap 3 + 2 h <= 8 h.
    # Battery: min(2 kW x 2 h, 4 kWh usable, 2 kW x 6 h) = 4 kWh.
    assert load_shift_kwh(load, 6.0, [ev, battery], interval_hours=1.0, gap_hours=3.0) == pytest.approx(9.0)
    # Deferral too long for the EV: only the battery.
    assert load_shift_kwh(load, 6.0, [ev, battery], interval_hours=1.0, gap_hours=7.0) == pytest.approx(4.0)
    # A short destination window limits the EV: 3 kW x 1 h.
    assert load_shift_kwh(load, 1.0, [ev], interval_hours=1.0, gap_hours=0.0) == pytest.approx(3.0)


def test_availability_scores():
    how = np.arange(168 * 2) % 168
    steady = np.where(how < 84, 2.0, 1.0)  # first half of the week twice the load; no variation
    s = availability_scores(steady, how, flexible_share=0.3)
    assert s[0] == 100  # 100 x (0.6 x 1 + 0.4 x 1)
    assert s[100] == 70  # headroom 0.5: 100 x (0.3 + 0.4)
    assert availability_scores(steady, how, flexible_share=0.3, reliability=0.5)[0] == 50
    partial = availability_scores(steady[:10], how[:10], flexible_share=0.3)
    assert partial[50] == 0  # never observed
    assert s.min() >= 0 and s.max() <= 100 and s.shape == (168,)


def test_seasonal_profiles():
    days = [date(2025, 1, 6), date(2025, 1, 11), date(2025, 7, 7), date(2025, 4, 1)]
    hourly = np.array([[1.0] * 24, [2.0] * 24, [4.0] * 24, [9.0] * 24])
    out = seasonal_profiles(hourly, days, flexible_share=0.5, weekend=[d.weekday() >= 5 for d in days])
    assert out["winter"]["weekday"] == [0.5] * 24
    assert out["winter"]["weekend"] == [1.0] * 24
    assert out["summer"]["weekday"] == [2.0] * 24
    assert "weekend" not in out["summer"]  # no summer weekend seen yet
