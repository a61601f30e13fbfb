"""The weather source interface: where weather-sensitive baselines get outdoor temperatures from.

A source answers, for a meter and a grid of its local days and wall-clock slots, a same-shaped array of
temperatures (°C), or None when it has no data for that meter and window. The sources in use are named, in order
of preference, by the ``WEATHER_SOURCES`` setting (dotted paths to classes); the first that answers wins:

- :class:`StationTemperatures` (always): the hourly observations of the nearest weather station to the premise
  (:mod:`assessment.weather.selectors`), within ``WEATHER_STATION_MAX_KM``;
- the demo registers its synthetic weather the same way (``demo.weather.SyntheticWeather``, named by the local
  and test settings), so that the demo world's premises, which have no location, still get temperatures;
  production settings do not name it.

:func:`temperatures_for` is what the baseline reads. When no source answers, the caller uses a method that needs
no weather and says so (:func:`method_without_weather`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Protocol

import numpy as np
from django.conf import settings
from django.utils.module_loading import import_string

from accounts.models import Meter

from ..baselines.grid import EPOCH_ORDINAL, DayGrid, utc_offsets
from .models import PremiseLocation
from .selectors import hourly_temperatures, nearest_station, station_for_premise

MAX_GAP_HOURS = 6  # missing hours bridged by linear interpolation; a longer gap means no data


@dataclass(frozen=True)
class Temperatures:
    values: np.ndarray  # °C, shape of grid.values
    source: str  # e.g. "station:725030-14732" or "synthetic"


class WeatherSource(Protocol):
    def temperatures(self, *, meter: Meter, grid: DayGrid) -> Temperatures | None: ...


def grid_utc_epochs(grid: DayGrid, tz: str) -> np.ndarray:
    """The UTC epoch (s) of each grid cell's wall-clock time (a spring-forward slot maps to its standard time)."""
    spd = grid.slots_per_day
    day = np.array([d.toordinal() - EPOCH_ORDINAL for d in grid.days], dtype=np.int64)
    local = (day[:, None] * 86400 + np.arange(spd, dtype=np.int64)[None, :] * grid.interval_minutes * 60).ravel()
    guess = local - utc_offsets(local, tz)
    return (local - utc_offsets(guess, tz)).reshape(len(grid.days), spd)


class StationTemperatures:
    """Temperatures of the premise's nearest station (hourly observations; short gaps interpolated)."""

    def temperatures(self, *, meter: Meter, grid: DayGrid) -> Temperatures | None:
        return self._from_station(station_for_premise(premise=meter.premise), meter, grid)

    def temperatures_many(self, *, items: list[tuple[Meter, DayGrid]]) -> list[Temperatures | None]:
        """:meth:`temperatures` of each (meter, grid): the premises' locations in one read (most premises of a
        chunk have none), the nearest station once per location."""
        located = {
            loc.premise_id: loc
            for loc in PremiseLocation.objects.filter(premise_id__in={m.premise_id for m, _ in items}).order_by("pk")
        }
        stations: dict[tuple, object] = {}
        out = []
        for meter, grid in items:
            loc = located.get(meter.premise_id)
            if loc is None:
                out.append(None)
                continue
            key = (loc.latitude, loc.longitude)
            if key not in stations:
                stations[key] = nearest_station(latitude=float(loc.latitude), longitude=float(loc.longitude))
            out.append(self._from_station(stations[key], meter, grid))
        return out

    def _from_station(self, station, meter: Meter, grid: DayGrid) -> Temperatures | None:
        if station is None or not grid.days:
            return None
        epochs = grid_utc_epochs(grid, meter.local_timezone)
        first_hour, last_hour = int(epochs.min()) // 3600, int(epochs.max()) // 3600
        hours, celsius = hourly_temperatures(station=station, first_hour=first_hour, last_hour=last_hour)
        if len(hours) < 2:
            return None
        span = np.arange(first_hour, last_hour + 1, dtype=np.int64)
        filled = np.interp(span, hours, celsius, left=np.nan, right=np.nan)
        # Bridge only short gaps: the distance from each hour to the nearest observation before and after.
        after = np.searchsorted(hours, span, side="left")
        before = np.clip(after - 1, 0, len(hours) - 1)
        at = (after < len(hours)) & (hours[np.clip(after, 0, len(hours) - 1)] == span)
        gap = hours[np.clip(after, 0, len(hours) - 1)] - hours[before]
        filled[~at & (gap > MAX_GAP_HOURS)] = np.nan
        values = filled[epochs // 3600 - first_hour]
        if np.isnan(values).any():
            return None
        return Temperatures(values=values, source=f"station:{station.code}")


@cache
def _sources(paths: tuple[str, ...]) -> tuple[WeatherSource, ...]:
    return tuple(import_string(p)() for p in paths)


def weather_sources() -> tuple[WeatherSource, ...]:
    return _sources(tuple(getattr(settings, "WEATHER_SOURCES", ("assessment.weather.sources.StationTemperatures",))))


def temperatures_for(*, meter: Meter, grid: DayGrid) -> Temperatures | None:
    """Temperatures at the meter's premise for every cell of ``grid`` from the first source that has them."""
    for source in weather_sources():
        found = source.temperatures(meter=meter, grid=grid)
        if found is not None:
            return found
    return None


def temperatures_for_many(*, items: list[tuple[Meter, DayGrid]]) -> list[Temperatures | None]:
    """:func:`temperatures_for` of each (meter, grid), a source's reads done once for all of them where it offers
    ``temperatures_many`` (the nightly recompute asks for a chunk of meters)."""
    out: list[Temperatures | None] = [None] * len(items)
    pending = list(range(len(items)))
    for source in weather_sources():
        if not pending:
            break
        many = getattr(source, "temperatures_many", None)
        asked = [items[i] for i in pending]
        found = many(items=asked) if many else [source.temperatures(meter=m, grid=g) for m, g in asked]
        for i, temperatures in zip(pending, found, strict=True):
            out[i] = temperatures
        pending = [i for i in pending if out[i] is None]
    return out


def method_without_weather() -> str:
    """The method used instead of a weather-sensitive one when the premise has no temperatures
    (``ASSESSMENT_WEATHERLESS_METHOD``; default CAISO 10-in-10 unadjusted: like CalTRACK hourly a forecast from
    past days only, needing no weather)."""
    return getattr(settings, "ASSESSMENT_WEATHERLESS_METHOD", "caiso-10in10-unadjusted")
