"""Weather reads: the nearest station to a premise, a station's hourly temperatures."""

from __future__ import annotations

import math

import numpy as np
from django.conf import settings

from accounts.models import Premise

from .models import PremiseLocation, TemperatureObservation, WeatherStation

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance by the haversine formula."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def nearest_station(*, latitude: float, longitude: float, max_km: float | None = None) -> WeatherStation | None:
    """The station nearest to a point that has temperatures, within ``max_km`` (``WEATHER_STATION_MAX_KM``).

    A bounding box on latitude narrows the candidates in the database; the exact distance picks among them."""
    max_km = max_km if max_km is not None else getattr(settings, "WEATHER_STATION_MAX_KM", 100)
    box = max_km / 111.0 + 0.01  # degrees of latitude
    candidates = WeatherStation.objects.filter(
        latitude__gte=latitude - box, latitude__lte=latitude + box, temperatures__isnull=False
    ).distinct()
    best, best_km = None, max_km
    for station in candidates:
        km = distance_km(latitude, longitude, float(station.latitude), float(station.longitude))
        if km <= best_km:
            best, best_km = station, km
    return best


def station_for_premise(*, premise: Premise) -> WeatherStation | None:
    """The premise's nearest station with data, or None without a location or a station close enough."""
    location = PremiseLocation.objects.filter(premise=premise).first()
    if location is None:
        return None
    return nearest_station(latitude=float(location.latitude), longitude=float(location.longitude))


def hourly_temperatures(*, station: WeatherStation, first_hour: int, last_hour: int) -> tuple[np.ndarray, np.ndarray]:
    """(epoch hour numbers, °C) of the station's observations between two epoch hours inclusive, by hour,
    with an observation either side of the window when there is one (to bridge a gap at its edges)."""
    from datetime import UTC, datetime

    start = datetime.fromtimestamp(first_hour * 3600, tz=UTC)
    end = datetime.fromtimestamp(last_hour * 3600, tz=UTC)
    qs = TemperatureObservation.objects.filter(station=station)
    rows = list(qs.filter(hour__gte=start, hour__lte=end).order_by("hour").values_list("hour", "celsius"))
    before = qs.filter(hour__lt=start).order_by("-hour").values_list("hour", "celsius").first()
    after = qs.filter(hour__gt=end).order_by("hour").values_list("hour", "celsius").first()
    rows = ([before] if before else []) + rows + ([after] if after else [])
    hours = np.array([int(h.timestamp()) // 3600 for h, _ in rows], dtype=np.int64)
    celsius = np.array([float(c) for _, c in rows], dtype=np.float64)
    return hours, celsius
