"""The set-based pieces of the nightly recompute give exactly what their per-meter originals give (issue #21):
the quality checks on integer arrays, and every baseline method over many (meter, target day) cases at once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from assessment import quality
from assessment.baselines.batch import Case, MeterDays, compute_many
from assessment.baselines.calendar import is_nerc_holiday
from assessment.baselines.compute import METHODS, compute
from assessment.baselines.daytypes import holidays_worked
from assessment.baselines.grid import DayGrid
from assessment.baselines.selection import InsufficientHistory

NY = "America/New_York"


def _readings(rng, first: date, days: int, *, tz=NY, minutes=15):
    """Readings with gaps, repeats, negatives, spikes and a stuck register, over a daylight-saving change."""
    start, _ = quality.local_day_bounds(first, tz)
    n = days * 1440 // minutes
    units = rng.integers(100, 9_000, n)
    units[rng.random(n) < 0.05] = 0
    units[500:560] = 4321  # 15 hours flat
    units[900:930] = 4321  # 7.5 hours flat: not a flat line
    units[rng.integers(0, n, 4)] = 900_000  # spikes
    units[rng.integers(0, n, 3)] = -5
    epoch = int(start.timestamp()) + np.arange(n, dtype=np.int64) * minutes * 60
    keep = rng.random(n) > 0.04  # scattered gaps
    keep[2000:2300] = False  # a long one
    keep[500:560] = True
    epoch, units = epoch[keep], units[keep]
    twice = rng.integers(0, epoch.size, 5)  # repeated starts with another value
    epoch = np.concatenate([epoch, epoch[twice], [int(start.timestamp()) + 7]])  # and one off the grid
    units = np.concatenate([units, units[twice] + 3, [1234]])
    order = rng.permutation(epoch.size)
    return epoch[order], units[order]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(("first", "minutes"), [(date(2026, 10, 20), 15), (date(2026, 2, 25), 60)])
def test_the_quality_checks_on_arrays_match_the_checks_on_readings(seed, first, minutes):
    rng = np.random.default_rng(seed)
    epoch, units = _readings(rng, first, 21, minutes=minutes)
    readings = [
        (datetime.fromtimestamp(int(e), UTC), Decimal(int(u)) / Decimal(10_000))
        for e, u in zip(epoch, units, strict=True)
    ]
    window = {"first_day": first + timedelta(days=2), "last_day": first + timedelta(days=18), "tz": NY}
    expected = quality.assess_quality(readings, interval_minutes=minutes, **window)
    got = quality.assess_quality_arrays(epoch, units, interval_minutes=minutes, **window)
    assert got == expected
    assert expected.spikes and expected.negatives and expected.duplicates and expected.gaps
    assert (expected.flat_intervals > 0) == (minutes == 15)


def _grid(rng, first: date, days: int, *, shape: str) -> DayGrid:
    """A meter's days: a household (weekends like weekdays) or a plant (weekends low, holidays worked), missing
    readings, a missing day, an outage day."""
    day_list = [first + timedelta(days=i) for i in range(days)]
    base = np.sin(np.linspace(0, 2 * np.pi, 96, endpoint=False)) + 2.0
    level = [
        (1.0 if d.weekday() < 5 or is_nerc_holiday(d) else 0.3)
        if shape == "plant"
        else (1.0 if d.weekday() < 5 else 1.1)
        for d in day_list
    ]
    values = np.array(level)[:, None] * base[None, :] * rng.uniform(0.7, 1.3, (days, 96))
    holes = (rng.random(values.shape) < 0.03) & (rng.random(days) < 0.3)[:, None]  # some days miss readings
    holes &= ~np.array([is_nerc_holiday(d) for d in day_list])[:, None]
    values[holes] = np.nan
    values[days // 3] = np.nan
    values[days // 2] = 0.0
    return DayGrid(values=values, days=day_list, interval_minutes=15)


def test_every_method_over_many_cases_matches_compute_case_by_case():
    rng = np.random.default_rng(7)
    first = date(2026, 5, 1)  # Memorial Day, Independence Day and Labor Day inside
    meters = []
    for k, shape in enumerate(["household", "plant", "household", "plant"]):
        grid = _grid(rng, first, 140, shape=shape)
        excluded = {grid.days[60 + 7 * k], grid.days[100 + k]}
        temperature = rng.normal(22, 6, grid.values.shape)
        meters.append(MeterDays(grid=grid, excluded=excluded, temperature=temperature))
    targets = list(range(95, 140))  # weekdays, weekends and Labor Day
    worked = {}
    for k, m in enumerate(meters):
        by_target = m.holidays_worked(targets)
        for t in targets:
            expected = holidays_worked(grid=m.grid, before=m.grid.days[t], excluded_days=m.excluded)
            assert by_target[t] == expected
            worked[(k, t)] = expected
    assert worked[(1, 139)] and not worked[(0, 139)]  # the plant works its holidays
    compared = 0
    for method in METHODS:
        for s0, s1 in [(64, 84), (2, 10), (88, 96)]:
            cases = [Case(m, t, worked[(k, t)]) for k, m in enumerate(meters) for t in targets]
            if METHODS[method]["family"] == "caltrack":
                cases = cases[::9]
            got = compute_many(method=method, cases=cases, start_slot=s0, end_slot=s1)
            for case, values in zip(cases, got, strict=True):
                try:
                    expected = compute(
                        method=method,
                        grid=case.meter.grid,
                        target_day=case.meter.grid.days[case.target],
                        start_slot=s0,
                        end_slot=s1,
                        excluded_days=case.meter.excluded,
                        temperature=case.meter.temperature,
                    ).values
                except InsufficientHistory:
                    assert values is None
                    continue
                assert values is not None and np.array_equal(values, expected), (method, case.target)
                compared += 1
    assert compared > 1000
