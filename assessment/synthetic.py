"""Synthetic interval meter data for the demo world.

This module is pure (no Django / ORM imports): it turns ``(segment, seed, interval start)`` into a
plausible interval energy reading, so the demo world can be populated - and re-populated, or extended
day by day - without storing any random state.

Model
-----
For every interval start the load in kW is ::

    kW = scale * shape(segment, local wall-clock time, local weekday, meter traits)
               * weather(temperature at that local time)
               * day_factor(local date)
               * (1 + noise(interval start))

and the reading is ``kW * interval_minutes / 60`` kWh, quantised to 0.0001 kWh and never negative.

*Shape* is evaluated on the premise's local wall-clock time (``tz``), at the middle of the interval,
so daylight-saving days (23 or 25 hours) keep their wall-clock shape: the evening peak stays at
19:00 local whatever the UTC offset.

* ``residential`` - overnight base of ~0.15-0.25 kW, a morning peak around 06:00-09:00 and a larger
  evening peak around 17:00-21:00; on weekends the morning peak is later, lower and flatter and
  daytime use is higher. Daily energy is ~20-35 kWh in mild weather.
* ``commercial`` (offices / retail) - occupied hours of roughly 07:00-19:00 (opening and closing times
  vary by seed) at ~40-120 kW, ~30 % of that at night and on weekends.
* ``industrial`` - a 2-shift (about 06:00-22:00, low nights) or 3-shift (round the clock, with small
  dips at shift changes) pattern chosen by seed, at ~300-1500 kW, with a small weekend operation
  (~25-40 % of the production level). Flatter and much less weather-sensitive.

``scale`` is the meter's characteristic demand in kW - the evening peak for residential, the occupied
weekday level for commercial, the production level for industrial, all in mild weather. When it is
``None`` it is drawn from the seed (residential 2.3-3.4 kW, commercial 40-120 kW, industrial
300-1500 kW), as are the other per-meter traits (opening hours, peak times, shift pattern).

*Weather* is a smooth temperature series per seed (:func:`weather_temperature_c`): a seasonal curve by
day of year (coldest around 20 January, ~1 degC daily mean, warmest around 20 July, ~23 degC),
plus two octaves of smooth "value noise" (random knots every 3 and every 9 days, interpolated with a
cosine) that behave like a multi-day random walk, plus a diurnal swing peaking mid-afternoon. Each knot
is derived by hashing ``(seed, knot index)``, never from sequential RNG state, so the temperature of a
day does not depend on which other days were generated. Load is raised linearly for cooling above
20 degC and heating below 12 degC; residential and commercial loads are several times more sensitive
than industrial ones (commercial only while occupied, mostly).

*Holidays*: on a NERC holiday (:mod:`assessment.baselines.calendar`) a meter behaves as on a Sunday, unless
its seed makes it one that keeps normal hours (no household; about 12 % of offices and shops, e.g. 24-hour
stores; 60 % of 3-shift plants, which run continuous processes, and 10 % of 2-shift ones).

*Noise* is multiplicative: a per-(seed, segment, local date) day factor of a few percent and a
per-interval factor of 5-8 % (by segment), both derived from a 64-bit integer hash (splitmix64 of a
blake2b digest of seed and segment, mixed with the epoch seconds of the interval start or the date
ordinal). Every number therefore depends only on ``(segment, seed, interval start)`` (and ``tz``,
``interval_minutes`` and ``scale``): a day's values are identical whether requested alone or as part
of a longer range.

Everything is vectorised with numpy per call; 60 meters x 35 days x 96 intervals take a fraction of a
second.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

from assessment.baselines.calendar import is_nerc_holiday

__all__ = [
    "KWH_QUANT",
    "SEGMENTS",
    "MeterTraits",
    "load_profile_array",
    "load_profile_kwh",
    "local_day_starts",
    "meter_traits",
    "temperature_array",
    "temperature_grid_c",
    "response_kwh",
    "weather_temperature_c",
]

SEGMENTS = ("residential", "commercial", "industrial")

KWH_QUANT = Decimal("0.0001")

_EPOCH_ORDINAL = 719163  # date(1970, 1, 1).toordinal()
_MASK64 = (1 << 64) - 1

# Per-interval multiplicative noise (standard deviation) and day-to-day factor by segment.
_NOISE_SD = {"residential": 0.08, "commercial": 0.06, "industrial": 0.05}
_DAY_SD = {"residential": 0.06, "commercial": 0.03, "industrial": 0.03}
# Fractional load increase per degC above the cooling / below the heating threshold.
_COOLING_THRESHOLD_C = 20.0
_HEATING_THRESHOLD_C = 12.0
_COOLING_SENS = {"residential": 0.05, "commercial": 0.03, "industrial": 0.006}
_HEATING_SENS = {"residential": 0.03, "commercial": 0.015, "industrial": 0.003}


# --------------------------------------------------------------------------------------------------
# Deterministic hashing
# --------------------------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _key(*parts: object) -> int:
    """A stable 64-bit key for a tuple of parts (independent of PYTHONHASHSEED)."""
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def _mix(keys: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on a uint64 array (wrapping arithmetic)."""
    z = keys.astype(np.uint64, copy=True)
    z += np.uint64(0x9E3779B97F4A7C15)
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


def _uniform(key: int, values: np.ndarray, stream: int = 0) -> np.ndarray:
    """Uniform (0, 1) floats, one per integer in ``values``, deterministic per (key, value, stream)."""
    base = np.uint64((key ^ (stream * 0xD1B54A32D192ED03)) & _MASK64)
    v = values.astype(np.int64).view(np.uint64)
    h = _mix(_mix(v ^ base) + np.uint64(stream))
    # 53 random bits -> (0, 1), never exactly 0 or 1.
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


def _normal(key: int, values: np.ndarray, stream: int = 0) -> np.ndarray:
    """Standard normal floats (Box-Muller), deterministic per (key, value, stream)."""
    u1 = _uniform(key, values, 2 * stream + 1)
    u2 = _uniform(key, values, 2 * stream + 2)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def _scalar_uniform(*parts: object) -> float:
    return float(_uniform(_key(*parts), np.zeros(1, dtype=np.int64))[0])


# --------------------------------------------------------------------------------------------------
# Weather
# --------------------------------------------------------------------------------------------------


def _value_noise(key: int, t: np.ndarray, period_days: float) -> np.ndarray:
    """Smooth noise in [-~2, ~2]: normal knots every ``period_days`` days, cosine-interpolated."""
    x = t / period_days
    k0 = np.floor(x)
    frac = x - k0
    k0i = k0.astype(np.int64)
    n0 = _normal(key, k0i)
    n1 = _normal(key, k0i + 1)
    w = (1.0 - np.cos(np.pi * frac)) / 2.0
    return n0 * (1.0 - w) + n1 * w


def _temperature(local_days: np.ndarray, seed: int) -> np.ndarray:
    """Temperature in degC at local time ``local_days`` (days since 1970-01-01 local wall clock)."""
    key = _key("weather", seed)
    # Day of year from the date (365.2425-day year is accurate enough for a seasonal curve).
    doy = np.mod(local_days, 365.2425)  # 0 at 1 January (1970-01-01 was a 1 January)
    seasonal = 12.0 - 11.0 * np.cos(2.0 * np.pi * (doy - 19.0) / 365.2425)
    synoptic = 2.5 * _value_noise(key, local_days, 3.0) + 2.0 * _value_noise(key ^ 0x5555, local_days, 9.0)
    hour = np.mod(local_days, 1.0) * 24.0
    # Diurnal swing: minimum around 05:00, maximum around 15:00-16:00.
    diurnal = 4.5 * np.cos(2.0 * np.pi * (hour - 15.5) / 24.0)
    return seasonal + synoptic + diurnal


def temperature_grid_c(*, days: list[date], slots_per_day: int, seed: int) -> np.ndarray:
    """Synthetic temperature (degC) at the middle of each wall-clock slot of each local day: (days x slots)."""
    day = np.array([d.toordinal() - _EPOCH_ORDINAL for d in days], dtype=np.float64)
    frac = (np.arange(slots_per_day) + 0.5) / slots_per_day
    return _temperature((day[:, None] + frac[None, :]).ravel(), seed).reshape(len(days), slots_per_day)


def temperature_array(*, seed: int, epoch: np.ndarray, tz: str, interval_minutes: int = 15) -> np.ndarray:
    """The temperature (degC) :func:`load_profile_array` used at the middle of each interval starting at
    ``epoch`` seconds: the synthetic weather a regression baseline of that meter should see."""
    epoch = np.asarray(epoch, dtype=np.int64)
    local = epoch + _utc_offsets(epoch, tz)
    return _temperature((local + interval_minutes * 30.0) / 86400.0, seed)


def weather_temperature_c(*, when: datetime, seed: int) -> float:
    """Synthetic outdoor temperature (degC) for ``seed`` at the wall-clock time of ``when``.

    The date and time of day are read from ``when`` as given (its own ``tzinfo``): pass a datetime
    converted to the premise's zone to get the temperature :func:`load_profile_kwh` uses there.
    """
    day = when.toordinal() - _EPOCH_ORDINAL
    frac = (when.hour * 3600 + when.minute * 60 + when.second + when.microsecond / 1e6) / 86400.0
    return float(_temperature(np.array([day + frac], dtype=np.float64), seed)[0])


# --------------------------------------------------------------------------------------------------
# Per-meter traits
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeterTraits:
    """Seed-derived characteristics of a synthetic meter (see :func:`meter_traits`)."""

    segment: str
    seed: int
    scale_kw: float
    params: dict[str, float] = field(default_factory=dict, hash=False)


def _lerp(lo: float, hi: float, u: float) -> float:
    return lo + (hi - lo) * u


@lru_cache(maxsize=4096)
def meter_traits(segment: str, seed: int) -> MeterTraits:
    """The seed-derived traits of a meter: default ``scale`` (kW) and shape parameters."""
    _check_segment(segment)

    def u(name: str) -> float:
        return _scalar_uniform("trait", segment, seed, name)

    if segment == "residential":
        scale = _lerp(2.3, 3.4, u("scale"))
        params = {
            "base": _lerp(0.062, 0.074, u("base")),  # x scale -> ~0.15-0.25 kW overnight
            "morning_hour": _lerp(6.7, 7.8, u("morning_hour")),
            "morning_amp": _lerp(0.38, 0.55, u("morning_amp")),
            "evening_hour": _lerp(18.6, 19.6, u("evening_hour")),
            "evening_width": _lerp(1.3, 1.7, u("evening_width")),
            "daytime": _lerp(0.14, 0.24, u("daytime")),
            "holiday_open": 0.0,  # a household's holiday looks like its Sunday
        }
    elif segment == "commercial":
        scale = _lerp(40.0, 120.0, u("scale"))
        params = {
            "open_hour": _lerp(6.5, 8.0, u("open_hour")),
            "close_hour": _lerp(18.0, 20.0, u("close_hour")),
            "unoccupied": _lerp(0.26, 0.34, u("unoccupied")),
            "saturday": 1.0 if u("retail") < 0.35 else 0.0,  # retail: partially open on Saturdays
            # Most offices and shops close on public holidays; some (e.g. 24-hour stores) keep normal hours.
            "holiday_open": 1.0 if u("holiday_open") < 0.12 else 0.0,
        }
    else:
        scale = _lerp(300.0, 1500.0, u("scale"))
        params = {
            "shifts": 3.0 if u("shifts") < 0.5 else 2.0,
            "night": _lerp(0.30, 0.42, u("night")),  # 2-shift plants: night level
            "weekend": _lerp(0.25, 0.40, u("weekend")),
        }
        # Continuous-process plants (most 3-shift ones) run through public holidays; 2-shift plants rarely do.
        params["holiday_open"] = 1.0 if u("holiday_open") < (0.6 if params["shifts"] >= 3 else 0.1) else 0.0
    return MeterTraits(segment, seed, scale, params)


# --------------------------------------------------------------------------------------------------
# Shapes (relative to scale; functions of local hour of day and weekday)
# --------------------------------------------------------------------------------------------------


def _bump(hour: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((hour - centre) / width) ** 2)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _window(hour: np.ndarray, start: float, end: float, ramp: float) -> np.ndarray:
    """~1 between start and end (local hours), ~0 outside, with smooth ramps."""
    return _sigmoid((hour - start) / ramp) * _sigmoid((end - hour) / ramp)


def _residential_shape(hour: np.ndarray, weekend: np.ndarray, p: dict[str, float]) -> np.ndarray:
    m_hour = np.where(weekend, p["morning_hour"] + 1.8, p["morning_hour"])
    m_amp = np.where(weekend, p["morning_amp"] * 0.6, p["morning_amp"])
    m_width = np.where(weekend, 1.8, 1.0)
    daytime = np.where(weekend, p["daytime"] + 0.12, p["daytime"])
    evening_amp = 1.0 - p["base"]
    return (
        p["base"]
        + m_amp * np.exp(-0.5 * ((hour - m_hour) / m_width) ** 2)
        + daytime * _window(hour, 9.0, 17.0, 0.8)
        + evening_amp * _bump(hour, p["evening_hour"], p["evening_width"])
    )


def _commercial_occupancy(hour: np.ndarray, weekday: np.ndarray, p: dict[str, float]) -> np.ndarray:
    occ = _window(hour, p["open_hour"], p["close_hour"], 0.45)
    saturday = (weekday == 5) * p["saturday"] * 0.55 * _window(hour, 9.0, 17.0, 0.45)
    return np.where(weekday < 5, occ, saturday)


def _commercial_shape(occ: np.ndarray, hour: np.ndarray, p: dict[str, float]) -> np.ndarray:
    low = p["unoccupied"]
    # Slight early-afternoon hump while occupied.
    hump = 0.95 + 0.05 * _bump(hour, 14.0, 2.5)
    return low + (1.0 - low) * occ * hump


def _industrial_shape(hour: np.ndarray, weekday: np.ndarray, p: dict[str, float]) -> np.ndarray:
    if p["shifts"] >= 3:
        level = np.ones_like(hour) * 0.97
        for change in (6.0, 14.0, 22.0):
            level -= 0.08 * _bump(hour, change, 0.35)
    else:
        production = _window(hour, 6.0, 22.0, 0.35)
        production -= 0.08 * _bump(hour, 14.0, 0.35)
        level = p["night"] + (1.0 - p["night"]) * production
    weekend_level = p["weekend"] * (0.9 + 0.1 * _window(hour, 7.0, 15.0, 0.5))
    return np.where(weekday < 5, level, weekend_level)


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


def _check_segment(segment: str) -> None:
    if segment not in SEGMENTS:
        raise ValueError(f"unknown segment {segment!r}; expected one of {SEGMENTS}")


@lru_cache(maxsize=64)
def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


@lru_cache(maxsize=262_144)
def _hour_offsets(tz: str, hour: int) -> tuple[int, int]:
    """UTC offsets (seconds) of ``tz`` at the first and the last second of UTC hour ``hour``."""
    zone = _zone(tz)
    first = datetime.fromtimestamp(hour * 3600, zone).utcoffset()
    last = datetime.fromtimestamp(hour * 3600 + 3599, zone).utcoffset()
    return int(first.total_seconds()), int(last.total_seconds())


def _utc_offsets(epoch: np.ndarray, tz: str) -> np.ndarray:
    """UTC offset (seconds) of ``tz`` at each epoch second.

    Offsets are looked up once per UTC hour present (and cached across calls); an hour containing a
    transition falls back to a per-element lookup, so any zone is exact.
    """
    buckets, inverse = np.unique(epoch // 3600, return_inverse=True)
    inverse = inverse.reshape(-1)
    pairs = [_hour_offsets(tz, bucket) for bucket in buckets.tolist()]
    result = np.array([first for first, _ in pairs], dtype=np.int64)[inverse]
    zone = _zone(tz)
    for j, (first, last) in enumerate(pairs):
        if first != last:
            for i in np.nonzero(inverse == j)[0].tolist():
                off = datetime.fromtimestamp(int(epoch[i]), zone).utcoffset()
                result[i] = int(off.total_seconds())
    return result


def _holiday_mask(local_day: np.ndarray) -> np.ndarray:
    """True where the local day number is a NERC holiday (:mod:`assessment.baselines.calendar`)."""
    days = np.unique(local_day)
    hol = {int(d) for d in days.tolist() if is_nerc_holiday(date.fromordinal(int(d) + _EPOCH_ORDINAL))}
    if not hol:
        return np.zeros(local_day.shape, dtype=bool)
    return np.isin(local_day, np.fromiter(hol, dtype=np.int64))


def load_profile_array(
    *,
    segment: str,
    seed: int,
    epoch: np.ndarray,
    tz: str,
    interval_minutes: int = 15,
    scale: float | None = None,
) -> np.ndarray:
    """kWh per interval (float64, quantised to 0.0001 kWh) for interval starts given as epoch seconds (UTC).

    The numbers :func:`load_profile_kwh` returns, as an array: for benchmarks and tests that need a year of
    readings for thousands of meters without a Decimal per value.
    """
    _check_segment(segment)
    if interval_minutes <= 0:
        raise ValueError("interval_minutes must be positive")
    if scale is not None and scale < 0:
        raise ValueError("scale must be non-negative")
    epoch = np.asarray(epoch, dtype=np.int64)
    if epoch.size == 0:
        return np.zeros(0)

    traits = meter_traits(segment, seed)
    p = traits.params
    scale_kw = traits.scale_kw if scale is None else float(scale)

    local = epoch + _utc_offsets(epoch, tz)
    local_day = local // 86400
    local_sec = (local - local_day * 86400).astype(np.float64) + interval_minutes * 30.0
    weekday = np.mod(local_day + 3, 7)  # 1970-01-01 was a Thursday (weekday 3)
    # Public (NERC) holidays: a meter that does not keep normal hours on them behaves as on a Sunday.
    if not p.get("holiday_open", 0.0):
        weekday = np.where(_holiday_mask(local_day), 6, weekday)
    hour = local_sec / 3600.0
    weekend = weekday >= 5

    if segment == "residential":
        shape = _residential_shape(hour, weekend, p)
        weather_weight = np.ones_like(hour)
    elif segment == "commercial":
        occ = _commercial_occupancy(hour, weekday, p)
        shape = _commercial_shape(occ, hour, p)
        weather_weight = 0.35 + 0.65 * occ  # HVAC mostly runs while occupied
    else:
        shape = _industrial_shape(hour, weekday, p)
        weather_weight = np.ones_like(hour)

    temp = _temperature(local_day + local_sec / 86400.0, seed)
    cooling = np.maximum(temp - _COOLING_THRESHOLD_C, 0.0) * _COOLING_SENS[segment]
    heating = np.maximum(_HEATING_THRESHOLD_C - temp, 0.0) * _HEATING_SENS[segment]
    weather = 1.0 + weather_weight * (cooling + heating)

    noise_key = _key("noise", segment, seed)
    day_factor = 1.0 + _DAY_SD[segment] * np.clip(_normal(noise_key, local_day, stream=7), -2.5, 2.5)
    interval_noise = 1.0 + _NOISE_SD[segment] * np.clip(_normal(noise_key, epoch), -3.0, 3.0)

    kw = scale_kw * shape * weather * day_factor * interval_noise
    kwh = np.maximum(kw, 0.0) * (interval_minutes / 60.0)
    return np.rint(kwh * 10_000.0) / 10_000.0


def load_profile_kwh(
    *,
    segment: str,
    seed: int,
    starts: list[datetime],
    tz: str,
    interval_minutes: int = 15,
    scale: float | None = None,
) -> list[Decimal]:
    """kWh per interval for the interval starts given (aware UTC datetimes).

    Deterministic for ``(segment, seed, start)`` (given ``tz``, ``interval_minutes`` and ``scale``):
    the value for a given interval start is identical no matter which other starts are requested in
    the same call, so data can be generated incrementally day by day and re-generated identically.

    ``scale`` is the meter's characteristic demand in kW (residential evening peak, commercial occupied
    level, industrial production level, in mild weather); ``None`` draws it from the seed.
    Returns Decimals quantised to 0.0001 kWh, never negative.
    """
    _check_segment(segment)
    if not starts:
        return []
    if any(start.tzinfo is None for start in starts):
        raise ValueError("interval starts must be timezone-aware datetimes")
    epoch = np.floor(np.array([start.timestamp() for start in starts], dtype=np.float64)).astype(np.int64)
    kwh = load_profile_array(
        segment=segment, seed=seed, epoch=epoch, tz=tz, interval_minutes=interval_minutes, scale=scale
    )
    units = np.rint(kwh * 10_000.0).astype(np.int64)  # 0.0001 kWh units
    return [Decimal(u).scaleb(-4) for u in units.tolist()]


def response_kwh(
    *,
    baseline_kwh: list[Decimal],
    reduction_kw: Decimal,
    interval_minutes: int,
    compliance: float,
) -> list[Decimal]:
    """Actual load during an event, per interval.

    ``baseline - compliance * reduction_kw * interval_minutes / 60``, never below 10 % of the
    baseline, quantised to 0.0001 kWh (ROUND_HALF_UP).
    """
    if interval_minutes <= 0:
        raise ValueError("interval_minutes must be positive")
    if compliance < 0:
        raise ValueError("compliance must be non-negative")
    reduction_kw = Decimal(reduction_kw)
    if reduction_kw < 0:
        raise ValueError("reduction_kw must be non-negative")
    energy = Decimal(str(compliance)) * reduction_kw * Decimal(interval_minutes) / Decimal(60)
    floor_share = Decimal("0.1")
    out = []
    for base in baseline_kwh:
        base = Decimal(base)
        value = max(base - energy, base * floor_share)
        out.append(value.quantize(KWH_QUANT, rounding=ROUND_HALF_UP))
    return out


def local_day_starts(day: date, tz: str, interval_minutes: int = 15) -> list[datetime]:
    """Aware UTC interval starts covering the local calendar ``day`` in zone ``tz``.

    Daylight-saving days have 23 or 25 hours, hence 92 or 100 quarter-hours.
    """
    zone = _zone(tz)
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    step = timedelta(minutes=interval_minutes)
    count = (end - start) // step
    return [start + k * step for k in range(count)]
