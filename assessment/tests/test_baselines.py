"""Baselines on hand-computable cases and the hard edges (no database).

No ISO manual found gives numeric worked examples of these methods; each case below is computed by
hand in its comment. PJM's Same Day (3+2) hour example (event in hours ending 13-17 uses hours ending
9-11 and 19-20) is reproduced exactly.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from assessment.baselines.accuracy import Accuracy, metrics, recommend
from assessment.baselines.caiso import caiso_10in10
from assessment.baselines.calendar import is_nerc_holiday, nerc_holidays
from assessment.baselines.compute import METHODS, compute
from assessment.baselines.grid import DayGrid, build_grid
from assessment.baselines.nyiso import nyiso_cbl
from assessment.baselines.pjm import pjm_cbl, pjm_match_day, pjm_same_day
from assessment.baselines.regression import c_to_f, fit_towt, month_weights
from assessment.baselines.selection import InsufficientHistory


def flat_days(levels, slots=8):
    """History (1, D, slots): day i has the constant load levels[i] in every slot."""
    return np.array(levels, dtype=float)[None, :, None].repeat(slots, axis=2)


def day_of(level_by_slot: dict, slots=8):
    row = np.full((1, slots), np.nan)
    for k, v in level_by_slot.items():
        row[0, k] = v
    return row


ALL = lambda n: np.ones((1, n), dtype=bool)  # noqa: E731


# --- CAISO 10-in-10 ---------------------------------------------------------------------------------


def test_caiso_average_of_ten_most_recent_and_adjustment_capped():
    hist = flat_days(range(1, 13))  # days 1..12; the 10 most recent are 3..12, mean 7.5
    # Event in slots [6, 8) with 1 slot per hour: adjustment window = hours -4..-2 = slots [2, 5).
    r = caiso_10in10(hist, ALL(12), day_of({2: 8.25, 3: 8.25, 4: 8.25}), event_start=6, event_end=8, slots_per_hour=1)
    assert r.ok[0]
    assert r.days_used[0].tolist() == [False, False] + [True] * 10
    assert r.adjustment[0] == pytest.approx(1.1)  # 8.25 / 7.5
    assert r.values[0] == pytest.approx([8.25, 8.25])
    # Day-of load 60 % above the baseline: the factor is capped at 1.2 (7.5 x 1.2 = 9.0) ...
    up = caiso_10in10(hist, ALL(12), day_of({2: 12, 3: 12, 4: 12}), event_start=6, event_end=8, slots_per_hour=1)
    assert up.values[0] == pytest.approx([9.0, 9.0])
    # ... and at 0.8 below (7.5 x 0.8 = 6.0).
    down = caiso_10in10(hist, ALL(12), day_of({2: 1, 3: 1, 4: 1}), event_start=6, event_end=8, slots_per_hour=1)
    assert down.values[0] == pytest.approx([6.0, 6.0])
    # The hour just before the event (slot 5) is not part of the window.
    skip = caiso_10in10(hist, ALL(12), day_of({5: 100.0}), event_start=6, event_end=8, slots_per_hour=1)
    assert skip.adjustment[0] == 1.0 and skip.values[0] == pytest.approx([7.5, 7.5])


def test_caiso_excluded_days_are_replaced_by_earlier_ones():
    hist = flat_days(range(1, 13))
    eligible = ALL(12)
    eligible[0, 10:] = False  # events on the two most recent (consecutive) days 11 and 12
    r = caiso_10in10(hist, eligible, day_of({}), event_start=6, event_end=8, slots_per_hour=1)
    assert r.values[0] == pytest.approx([5.5, 5.5])  # days 1..10


def test_caiso_too_few_eligible_days_is_not_ok():
    eligible = np.zeros((1, 12), dtype=bool)
    eligible[0, -4:] = True
    r = caiso_10in10(flat_days(range(1, 13)), eligible, day_of({}), event_start=6, event_end=8, slots_per_hour=1)
    assert not r.ok[0]  # 4 < 5 weekdays
    weekend = caiso_10in10(
        flat_days(range(1, 13)), eligible, day_of({}), event_start=6, event_end=8, slots_per_hour=1, weekday=False
    )
    assert weekend.ok[0] and weekend.values[0] == pytest.approx([10.5, 10.5])  # 4-in-4: days 9..12


def test_caiso_missing_interval_is_left_out_of_that_slot_only():
    hist = flat_days(range(1, 13))
    hist[0, 11, 6] = np.nan  # day 12 has no reading in slot 6
    r = caiso_10in10(hist, ALL(12), day_of({}), event_start=6, event_end=8, slots_per_hour=1, adjust=False)
    assert r.values[0] == pytest.approx([7.0, 7.5])  # slot 6: mean(3..11) = 7


# --- PJM --------------------------------------------------------------------------------------------


def test_pjm_highest_four_of_five_with_symmetric_additive_adjustment():
    hist = flat_days([10, 2, 8, 6, 9, 7])
    # 5 most recent: 2, 8, 6, 9, 7 (mean 6.4; 25 % = 1.6, so 2 is not low usage); highest 4: 8, 6, 9, 7 -> 7.5
    r = pjm_cbl(hist, ALL(6), day_of({2: 8.5, 3: 8.5, 4: 8.5}), event_start=6, event_end=8, slots_per_hour=1)
    assert r.days_used[0].tolist() == [False, False, True, True, True, True]
    assert r.adjustment[0] == pytest.approx(1.0)  # 8.5 - 7.5, added
    assert r.values[0] == pytest.approx([8.5, 8.5])
    # Symmetric: a day-of load below the CBL lowers it by the same amount.
    low = pjm_cbl(hist, ALL(6), day_of({2: 5.5, 3: 5.5, 4: 5.5}), event_start=6, event_end=8, slots_per_hour=1)
    assert low.values[0] == pytest.approx([5.5, 5.5])


def test_pjm_low_usage_day_is_replaced():
    hist = flat_days([10, 1, 8, 6, 9, 7])
    # 5 most recent: 1, 8, 6, 9, 7: mean 6.2, 25 % = 1.55 -> day "1" is low usage, replaced by day "10";
    # highest 4 of 10, 8, 6, 9, 7 -> 10, 8, 9, 7 = 8.5
    r = pjm_cbl(hist, ALL(6), day_of({}), event_start=6, event_end=8, slots_per_hour=1)
    assert r.values[0] == pytest.approx([8.5, 8.5])
    assert r.days_used[0].tolist() == [True, False, True, False, True, True]


def test_pjm_weekend_highest_two_of_three():
    r = pjm_cbl(
        flat_days([9, 4, 6, 5]),
        ALL(4),
        day_of({}),
        event_start=6,
        event_end=8,
        slots_per_hour=1,
        weekday=False,
        adjust=False,
    )
    assert r.values[0] == pytest.approx([5.5, 5.5])  # 3 most recent: 4, 6, 5 -> highest 2: 6, 5


def test_pjm_same_day_hours_match_the_manual_example():
    # PJM: an event in hours ending 13-17 averages hours ending 9-11 and 19-20.
    # One slot per hour; hour ending h is slot h - 1; load in slot k is k.
    load = np.arange(24, dtype=float)[None, :]
    r = pjm_same_day(load, event_start=12, event_end=17, slots_per_hour=1)
    assert r.ok[0]
    assert r.values[0] == pytest.approx([(8 + 9 + 10 + 18 + 19) / 5] * 5)  # 12.8
    missing = load.copy()
    missing[0, 19] = np.nan
    assert not pjm_same_day(missing, event_start=12, event_end=17, slots_per_hour=1).ok[0]


def test_pjm_match_day_picks_the_three_most_similar_days():
    slots = 12
    target = np.full((1, slots), 5.0)
    offsets = [3.0, 0.1, 2.0, 0.2, 0.3]  # days 1, 3 and 4 are closest outside the event
    hist = np.array([[5.0 + o] * slots for o in offsets])[None]
    hist[0, :, 6:8] = np.array([10.0, 20.0, 30.0, 40.0, 50.0])[:, None]  # event-slot loads per day
    target[0, 5:9] = 999.0  # event slots [6, 8) and the hour either side do not count
    r = pjm_match_day(hist, ALL(5), target, event_start=6, event_end=8, slots_per_hour=1)
    assert r.days_used[0].tolist() == [False, True, False, True, True]
    assert r.values[0] == pytest.approx([(20 + 40 + 50) / 3] * 2)


# --- NYISO ------------------------------------------------------------------------------------------


def test_nyiso_five_highest_of_ten_with_in_day_adjustment():
    hist = flat_days(range(1, 13))  # 10 most recent: 3..12; 5 highest: 8..12 = 10
    # Adjustment window: the two hours beginning four hours before the event: slots [2, 4).
    r = nyiso_cbl(hist, ALL(12), day_of({2: 11.0, 3: 11.0, 4: 1.0}), event_start=6, event_end=8, slots_per_hour=1)
    assert r.adjustment[0] == pytest.approx(1.1)
    assert r.values[0] == pytest.approx([11.0, 11.0])
    capped = nyiso_cbl(hist, ALL(12), day_of({2: 30.0, 3: 30.0}), event_start=6, event_end=8, slots_per_hour=1)
    assert capped.values[0] == pytest.approx([12.0, 12.0])  # factor capped at 1.2


# --- Calendar, day types, DST, determinism ------------------------------------------------------------


def test_nerc_holidays():
    assert nerc_holidays(2025) == {
        date(2025, 1, 1),
        date(2025, 5, 26),
        date(2025, 7, 4),
        date(2025, 9, 1),
        date(2025, 11, 27),
        date(2025, 12, 25),
    }
    assert date(2022, 12, 26) in nerc_holidays(2022)  # Christmas on a Sunday -> Monday
    assert date(2021, 12, 24) not in nerc_holidays(2021)  # Saturday holidays are not moved
    assert not is_nerc_holiday(date(2025, 2, 17))  # Presidents' Day is not a NERC holiday


def _grid(first: date, n: int, value_of) -> DayGrid:
    days = [first + timedelta(days=i) for i in range(n)]
    values = np.array([[value_of(d)] * 96 for d in days], dtype=float)
    return DayGrid(values=values, days=days, interval_minutes=15)


def test_holiday_is_not_a_weekday_baseline_day_and_an_event_on_a_holiday_uses_holiday_days():
    # Weekday load 1, weekend load 2, holidays load 3 (Memorial Day and the 4th of July 2025).
    def load(d):
        return 3.0 if is_nerc_holiday(d) else (2.0 if d.weekday() >= 5 else 1.0)

    grid = _grid(date(2025, 5, 20), 50, load)
    r = compute(method="caiso-10in10-unadjusted", grid=grid, target_day=date(2025, 7, 8), start_slot=68, end_slot=76)
    assert date(2025, 7, 4) not in r.days_used and np.allclose(r.values, 1.0)
    # An event on the 4th of July (a holiday): CAISO pools weekends and holidays, 4-in-4.
    h = compute(method="caiso-10in10-unadjusted", grid=grid, target_day=date(2025, 7, 4), start_slot=68, end_slot=76)
    assert h.days_used == [date(2025, 6, 21), date(2025, 6, 22), date(2025, 6, 28), date(2025, 6, 29)]
    assert np.allclose(h.values, 2.0)
    # PJM: a holiday uses Sundays and holidays, the highest 2 of the 3 most recent (ties: the more recent).
    p = compute(method="pjm-cbl-unadjusted", grid=grid, target_day=date(2025, 7, 4), start_slot=68, end_slot=76)
    assert p.days_used == [date(2025, 6, 22), date(2025, 6, 29)]
    # A Sunday after Memorial Day with few Sundays in the look-back counts the holiday as a like day.
    q = compute(method="pjm-cbl-unadjusted", grid=grid, target_day=date(2025, 6, 8), start_slot=68, end_slot=76)
    assert q.days_used == [date(2025, 5, 26), date(2025, 6, 1)] and np.allclose(q.values, 2.5)


def test_events_on_consecutive_days_are_excluded():
    grid = _grid(date(2025, 9, 1), 40, lambda d: float(d.day))
    target = date(2025, 10, 8)  # Wednesday
    excluded = {date(2025, 10, 6), date(2025, 10, 7)}
    r = compute(
        method="caiso-10in10-unadjusted",
        grid=grid,
        target_day=target,
        start_slot=68,
        end_slot=76,
        excluded_days=excluded,
    )
    assert not excluded & set(r.days_used)
    assert len(r.days_used) == 10 and r.days_used[-1] == date(2025, 10, 3)


def test_too_few_days_raises():
    grid = _grid(date(2025, 10, 1), 5, lambda d: 1.0)
    with pytest.raises(InsufficientHistory):
        compute(method="caiso-10in10", grid=grid, target_day=date(2025, 10, 5), start_slot=68, end_slot=76)


def test_dst_days_line_up_by_wall_clock():
    tz = "America/New_York"
    # Readings for 2025-11-01..03 (the 2nd is 25 hours long) and 2025-03-08..10 (the 9th is 23 hours):
    # value = wall-clock slot / 100, except the second pass of the repeated hour, which reads +1.
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    for first, last in ((date(2025, 11, 1), date(2025, 11, 3)), (date(2025, 3, 8), date(2025, 3, 10))):
        start = datetime(first.year, first.month, first.day, tzinfo=zone).astimezone(UTC)
        end = datetime(last.year, last.month, last.day, tzinfo=zone).astimezone(UTC) + timedelta(days=1)
        epochs, kwh, seen = [], [], set()
        t = start
        while t < end:
            local = t.astimezone(zone)
            slot = (local.hour * 60 + local.minute) // 15
            key = (local.date(), slot)
            kwh.append(slot / 100 + (1.0 if key in seen else 0.0))
            seen.add(key)
            epochs.append(int(t.timestamp()))
            t += timedelta(minutes=15)
        g = build_grid(
            epoch=np.array(epochs), kwh=np.array(kwh), tz=tz, interval_minutes=15, first_day=first, last_day=last
        )
        assert g.values.shape == (3, 96)
        if first.month == 11:
            # 01:00-01:45 happened twice: the slot holds the mean of both readings.
            assert g.values[1, 4:8] == pytest.approx(np.arange(4, 8) / 100 + 0.5)
            assert not np.isnan(g.values).any()
        else:
            assert np.isnan(g.values[1, 8:12]).all()  # 02:00-02:59 never happened
            assert (~np.isnan(g.values[1])).sum() == 92
        assert g.values[2] == pytest.approx(np.arange(96) / 100)


def test_dst_day_in_history_does_not_break_the_baseline():
    grid = _grid(date(2025, 2, 20), 30, lambda d: 1.0)
    grid.values[grid.index_of(date(2025, 3, 9)), 8:12] = np.nan  # the 23-hour Sunday
    r = compute(method="caiso-10in10-unadjusted", grid=grid, target_day=date(2025, 3, 16), start_slot=0, end_slot=96)
    assert np.allclose(r.values, 1.0) and date(2025, 3, 9) in r.days_used


def test_same_data_gives_same_result_and_reading_order_does_not_matter():
    rng = np.random.default_rng(7)
    epoch = np.arange(0, 50 * 86400, 900) + int(datetime(2025, 5, 1, 4, tzinfo=UTC).timestamp())
    kwh = rng.random(epoch.size)
    g1 = build_grid(
        epoch=epoch,
        kwh=kwh,
        tz="America/New_York",
        interval_minutes=15,
        first_day=date(2025, 5, 1),
        last_day=date(2025, 6, 19),
    )
    perm = rng.permutation(epoch.size)
    g2 = build_grid(
        epoch=epoch[perm],
        kwh=kwh[perm],
        tz="America/New_York",
        interval_minutes=15,
        first_day=date(2025, 5, 1),
        last_day=date(2025, 6, 19),
    )
    assert np.array_equal(g1.values, g2.values, equal_nan=True)
    temp = 20 + 5 * np.sin(np.arange(g1.values.size) / 96).reshape(g1.values.shape)
    for method in METHODS:
        a = compute(method=method, grid=g1, target_day=date(2025, 6, 18), start_slot=68, end_slot=76, temperature=temp)
        b = compute(method=method, grid=g2, target_day=date(2025, 6, 18), start_slot=68, end_slot=76, temperature=temp)
        assert np.array_equal(a.values, b.values) and a.days_used == b.days_used, method


# --- Regression -------------------------------------------------------------------------------------


def test_towt_recovers_a_time_of_week_and_temperature_model():
    rng = np.random.default_rng(3)
    n = 168 * 8
    how = np.arange(n) % 168
    temp_c = rng.uniform(-5, 38, n)
    tf = c_to_f(temp_c)
    base = 1.0 + (how % 24 >= 8) * (how % 24 < 18) * 2.0
    load = base + 0.05 * np.maximum(tf - 65, 0) + 0.02 * np.maximum(55 - tf, 0)
    model = fit_towt(load, how, temp_c)
    test_how = np.array([10, 30, 100])
    test_temp = np.array([35.0, 0.0, 18.0])
    expected = (
        (1.0 + (test_how % 24 >= 8) * (test_how % 24 < 18) * 2.0)
        + 0.05 * np.maximum(c_to_f(test_temp) - 65, 0)
        + 0.02 * np.maximum(55 - c_to_f(test_temp), 0)
    )
    assert model.predict(test_how, test_temp) == pytest.approx(expected, abs=1e-6)


def test_caltrack_month_weights_one_for_the_month_half_for_neighbours():
    assert month_weights(np.array([11, 12, 1, 2, 10]), 12).tolist() == [0.5, 1.0, 0.5, 0.0, 0.0]
    assert month_weights(np.array([12, 1, 2, 3]), 1).tolist() == [0.5, 1.0, 0.5, 0.0]


def test_towt_three_month_weighting_fits_the_months_regime_and_ignores_far_months():
    # Two weeks at load 1 in month 7 (weight 0) and two weeks at load 3 in month 12 (weight 1), same weather:
    # the December model predicts 3; an unweighted fit would predict the mean 2.
    how = np.arange(168 * 4) % 168
    temp_c = np.full(how.size, 5.0)
    load = np.where(np.arange(how.size) < 168 * 2, 1.0, 3.0)
    months = np.where(np.arange(how.size) < 168 * 2, 7, 12)
    weighted = fit_towt(load, how, temp_c, month_weights(months, 12))
    assert weighted.predict(np.array([5]), np.array([5.0])) == pytest.approx([3.0])
    assert fit_towt(load, how, temp_c).predict(np.array([5]), np.array([5.0])) == pytest.approx([2.0])


def test_towt_temperature_bins_per_occupancy():
    # Occupied hours (08-18) only see warm weather (20-30 °C), unoccupied hours the whole range: each occupancy
    # keeps only knots whose segments hold 20 hours of its own data.
    rng = np.random.default_rng(5)
    how = np.arange(168 * 12) % 168
    day_hour = how % 24
    occupied = (day_hour >= 8) & (day_hour < 18)
    temp_c = np.where(occupied, rng.uniform(20, 30, how.size), rng.uniform(-10, 35, how.size))
    load = 1.0 + 3.0 * occupied + 0.1 * temp_c
    model = fit_towt(load, how, temp_c)
    assert model.occupied[(np.arange(168) % 24 >= 8) & (np.arange(168) % 24 < 18)].all()
    assert set(model.knots_occupied) <= {75.0}  # 68-86 °F: only the 75 °F knot can split it
    assert model.knots_unoccupied == [30.0, 45.0, 55.0, 65.0, 75.0, 90.0][: len(model.knots_unoccupied)]
    assert len(model.knots_unoccupied) >= 5


def test_towt_needs_a_week_of_hours():
    with pytest.raises(ValueError, match="168"):
        fit_towt(np.ones(100), np.arange(100), np.ones(100))


# --- Accuracy ---------------------------------------------------------------------------------------


def test_guideline14_metrics_by_hand():
    # y = 1, 2, 3; y-hat = 1, 2, 4: mean 2, n = 3
    rel, nmbe, cv = metrics(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0]))
    assert rel == pytest.approx(100 / 6)  # (7 - 6) / 6
    assert nmbe == pytest.approx(-100 / 6)  # -1 / (3 x 2)
    assert cv == pytest.approx(np.sqrt(1 / 3) / 2 * 100)  # 28.87 %


def test_recommend_prefers_compliant_then_lowest_cvrmse():
    a = Accuracy("a", 10, 2, 0.0, 12.0, 5.0)  # fails NMBE
    b = Accuracy("b", 10, 2, 0.0, 1.0, 20.0)
    c = Accuracy("c", 10, 2, 0.0, -2.0, 15.0)
    assert recommend([a, b, c]).method == "c"
    assert recommend([a]).method == "a"
    assert recommend([]) is None
