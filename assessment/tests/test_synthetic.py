"""Tests of the synthetic interval data generator (pure functions, no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from assessment.synthetic import (
    SEGMENTS,
    load_profile_kwh,
    local_day_starts,
    meter_traits,
    response_kwh,
    weather_temperature_c,
)

TZ = "America/New_York"
NY = ZoneInfo(TZ)


def week_starts(first: date, days: int = 7, tz: str = TZ) -> list[datetime]:
    out: list[datetime] = []
    for k in range(days):
        out += local_day_starts(first + timedelta(days=k), tz)
    return out


def profile(segment: str, seed: int, starts: list[datetime], **kwargs) -> list[Decimal]:
    return load_profile_kwh(segment=segment, seed=seed, starts=starts, tz=TZ, **kwargs)


def hourly_kw(values: list[Decimal], starts: list[datetime], tz: str = TZ) -> dict[int, float]:
    """Mean kW per local wall-clock hour (15-minute data)."""
    zone = ZoneInfo(tz)
    sums: dict[int, list[float]] = {}
    for start, kwh in zip(starts, values, strict=True):
        sums.setdefault(start.astimezone(zone).hour, []).append(float(kwh) * 4)
    return {hour: sum(v) / len(v) for hour, v in sums.items()}


# --------------------------------------------------------------------------------------------------
# Determinism
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("segment", SEGMENTS)
def test_same_inputs_same_outputs(segment):
    starts = week_starts(date(2026, 5, 4))
    assert profile(segment, 7, starts) == profile(segment, 7, starts)


@pytest.mark.parametrize("segment", SEGMENTS)
def test_day_alone_equals_day_within_week(segment):
    week = week_starts(date(2026, 5, 4))
    week_values = profile(segment, 11, week)
    day = local_day_starts(date(2026, 5, 6), TZ)
    day_values = profile(segment, 11, day)
    offset = week.index(day[0])
    assert week_values[offset : offset + len(day)] == day_values
    # Order and subsets don't matter either: each interval only depends on its own start.
    picked = [week[i] for i in (500, 3, 250, 77)]
    assert profile(segment, 11, picked) == [week_values[i] for i in (500, 3, 250, 77)]


def test_seeds_and_segments_differ():
    starts = local_day_starts(date(2026, 5, 5), TZ)
    assert profile("residential", 1, starts) != profile("residential", 2, starts)
    assert meter_traits("commercial", 3) == meter_traits("commercial", 3)


def test_empty_starts():
    assert profile("residential", 1, []) == []


def test_naive_start_rejected():
    with pytest.raises(ValueError):
        profile("residential", 1, [datetime(2026, 5, 5, 12)])  # noqa: DTZ001 - deliberately naive


def test_unknown_segment_rejected():
    with pytest.raises(ValueError):
        profile("agricultural", 1, local_day_starts(date(2026, 5, 5), TZ))


# --------------------------------------------------------------------------------------------------
# Values and shapes
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("segment", SEGMENTS)
def test_values_are_non_negative_decimals_with_four_places(segment):
    starts = week_starts(date(2026, 1, 12), days=14)
    values = profile(segment, 5, starts)
    assert len(values) == len(starts)
    for value in values:
        assert isinstance(value, Decimal)
        assert value >= 0
        assert value.as_tuple().exponent == -4


def test_segment_scale_ordering():
    starts = week_starts(date(2026, 4, 6))
    for seed in range(6):
        daily = {segment: sum(profile(segment, seed, starts)) / 7 for segment in SEGMENTS}
        assert daily["industrial"] > daily["commercial"] > daily["residential"]


def test_residential_daily_energy_plausible():
    starts = week_starts(date(2026, 5, 11))
    for seed in range(10):
        daily = float(sum(profile("residential", seed, starts))) / 7
        assert 15 < daily < 45


def test_scale_overrides_seed_default():
    starts = local_day_starts(date(2026, 5, 5), TZ)
    small = sum(profile("commercial", 4, starts, scale=50.0))
    large = sum(profile("commercial", 4, starts, scale=100.0))
    assert abs(float(large) / float(small) - 2.0) < 0.01


@pytest.mark.parametrize("seed", range(8))
def test_residential_evening_peak_exceeds_3am(seed):
    starts = week_starts(date(2026, 5, 4))
    hours = hourly_kw(profile("residential", seed, starts), starts)
    assert hours[19] > 3 * hours[3]
    assert max(hours, key=hours.get) in range(17, 22)
    assert 0.1 < hours[3] < 0.45  # overnight base ~0.15-0.25 kW (plus weather / noise)


@pytest.mark.parametrize("seed", range(8))
def test_commercial_weekday_vs_weekend(seed):
    monday = date(2026, 5, 4)
    weekday = local_day_starts(monday + timedelta(days=2), TZ)  # Wednesday
    sunday = local_day_starts(monday + timedelta(days=6), TZ)
    weekday_values = profile("commercial", seed, weekday)
    sunday_values = profile("commercial", seed, sunday)
    assert sum(weekday_values) > Decimal("1.5") * sum(sunday_values)
    weekday_hours = hourly_kw(weekday_values, weekday)
    sunday_hours = hourly_kw(sunday_values, sunday)
    assert weekday_hours[11] > 2 * sunday_hours[11]
    assert weekday_hours[11] > 2 * weekday_hours[2]  # low at night


def test_industrial_weekend_lower_and_flatter_than_residential():
    starts = week_starts(date(2026, 5, 4))
    for seed in range(6):
        values = profile("industrial", seed, starts)
        per_day = [sum(values[96 * k : 96 * (k + 1)]) for k in range(7)]
        assert min(per_day[:5]) > max(per_day[5:])
        weekday_kw = [float(v) * 4 for v in values[: 96 * 5]]
        assert min(weekday_kw) > 0.15 * max(weekday_kw)


# --------------------------------------------------------------------------------------------------
# Daylight saving (America/New_York)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("day", "count"), [(date(2026, 3, 8), 92), (date(2026, 11, 1), 100), (date(2026, 3, 9), 96)])
def test_dst_day_interval_count(day, count):
    starts = local_day_starts(day, TZ)
    assert len(starts) == count
    assert all(s.tzinfo is not None and s.utcoffset() == timedelta(0) for s in starts)
    assert len(profile("residential", 3, starts)) == count


@pytest.mark.parametrize("day", [date(2026, 3, 8), date(2026, 11, 1)])
def test_dst_evening_peak_stays_at_local_wall_clock(day):
    starts = local_day_starts(day, TZ)
    for seed in range(6):
        hours = hourly_kw(profile("residential", seed, starts), starts)
        assert max(hours, key=hours.get) in range(17, 22)
        # The wall-clock shape matches the neighbouring non-DST day of the same kind (both Sundays).
        reference_day = day - timedelta(days=7)
        reference_starts = local_day_starts(reference_day, TZ)
        reference = hourly_kw(profile("residential", seed, reference_starts), reference_starts)
        assert max(reference, key=reference.get) in range(17, 22)
        assert hours[19] > 2.5 * hours[4]


def test_dst_peak_follows_local_clock_not_utc():
    """19:00 local is 00:00 UTC on 2026-03-07 (EST) but 23:00 UTC on 2026-03-08 (EDT)."""
    before = local_day_starts(date(2026, 3, 7), TZ)
    spring = local_day_starts(date(2026, 3, 8), TZ)
    before_19 = [s for s in before if s.astimezone(NY).hour == 19]
    spring_19 = [s for s in spring if s.astimezone(NY).hour == 19]
    assert [s.astimezone(NY).minute for s in spring_19] == [0, 15, 30, 45]
    assert before_19[0].hour == 0 and spring_19[0].hour == 23
    # Average over many meters (smooths the noise): both days peak in the local 19:00 hour region and
    # the UTC hour 23:00 is near the peak only on the DST day.
    seeds = range(30)
    for starts in (before, spring):
        mean_local = {h: 0.0 for h in range(24)}
        for seed in seeds:
            for h, kw in hourly_kw(profile("residential", seed, starts), starts).items():
                mean_local[h] += kw / len(seeds)
        peak = max(mean_local, key=mean_local.get)
        assert 18 <= peak <= 20
        assert mean_local[19] > 3 * mean_local[3]
    hours_spring = {s.astimezone(NY).hour for s in spring}
    assert 2 not in hours_spring and len(hours_spring) == 23


# --------------------------------------------------------------------------------------------------
# Weather
# --------------------------------------------------------------------------------------------------


def test_weather_is_deterministic_smooth_and_seasonal():
    jan = [
        weather_temperature_c(when=datetime(2026, 1, 10, 15, tzinfo=NY) + timedelta(days=k), seed=2) for k in range(20)
    ]
    jul = [
        weather_temperature_c(when=datetime(2026, 7, 10, 15, tzinfo=NY) + timedelta(days=k), seed=2) for k in range(20)
    ]
    assert sum(jul) / 20 > sum(jan) / 20 + 10
    when = datetime(2026, 4, 1, 12, tzinfo=NY)
    assert weather_temperature_c(when=when, seed=9) == weather_temperature_c(when=when, seed=9)
    hourly = [weather_temperature_c(when=when + timedelta(hours=h), seed=9) for h in range(72)]
    assert max(abs(a - b) for a, b in zip(hourly, hourly[1:], strict=False)) < 3.0


def test_hot_days_raise_residential_load():
    cool = local_day_starts(date(2026, 5, 6), TZ)
    hot = local_day_starts(date(2026, 7, 22), TZ)
    cool_total = sum(float(sum(profile("residential", s, cool))) for s in range(10))
    hot_total = sum(float(sum(profile("residential", s, hot))) for s in range(10))
    assert hot_total > cool_total


# --------------------------------------------------------------------------------------------------
# Event response
# --------------------------------------------------------------------------------------------------


def test_response_reduces_by_expected_energy():
    baseline = [Decimal("10.0000"), Decimal("12.5000"), Decimal("8.1234")]
    actual = response_kwh(baseline_kwh=baseline, reduction_kw=Decimal("20"), interval_minutes=15, compliance=0.8)
    # 0.8 * 20 kW * 0.25 h = 4 kWh per interval
    assert actual == [Decimal("6.0000"), Decimal("8.5000"), Decimal("4.1234")]
    assert all(v.as_tuple().exponent == -4 for v in actual)


def test_response_respects_ten_percent_floor():
    baseline = [Decimal("1.0000"), Decimal("0.0333"), Decimal("0.0000"), Decimal("50.0000")]
    actual = response_kwh(baseline_kwh=baseline, reduction_kw=Decimal("100"), interval_minutes=15, compliance=1.0)
    assert actual == [Decimal("0.1000"), Decimal("0.0033"), Decimal("0.0000"), Decimal("25.0000")]
    assert all(v.as_tuple().exponent == -4 for v in actual)


def test_response_zero_compliance_is_baseline_and_hourly_intervals():
    baseline = [Decimal("3.2100"), Decimal("4.0000")]
    assert (
        response_kwh(baseline_kwh=baseline, reduction_kw=Decimal("5"), interval_minutes=15, compliance=0.0) == baseline
    )
    hourly = response_kwh(baseline_kwh=baseline, reduction_kw=Decimal("1.5"), interval_minutes=60, compliance=0.5)
    assert hourly == [Decimal("2.4600"), Decimal("3.2500")]


def test_response_on_synthetic_baseline():
    starts = [s for s in local_day_starts(date(2026, 7, 15), TZ) if 16 <= s.astimezone(NY).hour < 20]
    baseline = profile("commercial", 8, starts)
    actual = response_kwh(baseline_kwh=baseline, reduction_kw=Decimal("10"), interval_minutes=15, compliance=0.9)
    for base, act in zip(baseline, actual, strict=True):
        assert act == max(base - Decimal("2.25"), (base * Decimal("0.1")).quantize(Decimal("0.0001")))


def test_starts_may_be_in_any_aware_zone():
    starts_utc = local_day_starts(date(2026, 6, 2), TZ)
    starts_local = [s.astimezone(NY) for s in starts_utc]
    assert profile("industrial", 2, starts_utc) == profile("industrial", 2, starts_local)
    assert starts_utc[0] == datetime(2026, 6, 2, 4, tzinfo=UTC)
