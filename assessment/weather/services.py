"""Weather writes: stations, hourly temperatures, postal code points and premise locations.

Imports are idempotent: a station is keyed by its code, a temperature by (station, hour) — re-importing a file
changes nothing, a corrected value replaces the stored one.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from accounts.models import Premise
from flexplatform.errors import ApplicationError

from . import formats
from .models import PostalCodePoint, PremiseLocation, TemperatureObservation, WeatherStation

BATCH = 5000


@dataclass(frozen=True)
class WeatherImportResult:
    kind: str
    rows: int
    station: str = ""


def weather_file_import(
    *, path: Path, station_code: str = "", name: str = "", latitude=None, longitude=None
) -> WeatherImportResult:
    """Import one weather file (kind told by its content; ``.gz`` read as gzip).

    ISD-Lite and Meteostat files hold one station's hours: the station is ``station_code`` (default: from an
    ISD-Lite file name); it must exist (e.g. from an ISD station history import) or be given a position here."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as head_stream:
        kind = formats.detect(head_stream.read(4096))
    with opener(path, "rb") as stream:
        if kind == "isd-history":
            return WeatherImportResult(kind, stations_import(stations=formats.isd_history(stream)))
        if kind == "geonames-postal":
            return WeatherImportResult(kind, postal_codes_import(points=formats.geonames_postal(stream)))
        code = station_code or (
            formats.station_code_from_name(path.name) if kind == "isd-lite" else path.name.split(".")[0]
        )
        station = _station(code=code, name=name, latitude=latitude, longitude=longitude)
        observations = formats.isd_lite(stream) if kind == "isd-lite" else formats.meteostat_hourly(stream)
        return WeatherImportResult(kind, temperatures_import(station=station, observations=observations), station.code)


def _station(*, code: str | None, name: str, latitude, longitude) -> WeatherStation:
    if not code:
        raise ApplicationError("Name the station (its code).", fields={"station": ["Required."]})
    if latitude is not None and longitude is not None:
        station, _ = WeatherStation.objects.update_or_create(
            code=code,
            defaults={"name": name or code, "latitude": Decimal(str(latitude)), "longitude": Decimal(str(longitude))},
        )
        return station
    station = WeatherStation.objects.filter(code=code).first()
    if station is None:
        raise ApplicationError(
            f"Station {code} is unknown: import the station list first or give its latitude and longitude.",
            fields={"station": ["Unknown station."]},
        )
    return station


@transaction.atomic
def stations_import(*, stations: Iterable[formats.Station]) -> int:
    rows = [
        WeatherStation(code=s.code, name=s.name[:200], latitude=s.latitude, longitude=s.longitude,
                       elevation_m=s.elevation_m)
        for s in stations
    ]  # fmt: skip
    WeatherStation.objects.bulk_create(
        rows,
        batch_size=BATCH,
        update_conflicts=True,
        unique_fields=["code"],
        update_fields=["name", "latitude", "longitude", "elevation_m"],
    )
    return len(rows)


@transaction.atomic
def temperatures_import(*, station: WeatherStation, observations: Iterable[formats.Observation]) -> int:
    """Store hourly temperatures (upsert by station and hour); returns how many rows the file gave."""
    count, batch = 0, []
    for obs in observations:
        batch.append(TemperatureObservation(station=station, hour=obs.hour, celsius=obs.celsius))
        if len(batch) >= BATCH:
            count += _upsert(batch)
            batch = []
    return count + _upsert(batch)


def _upsert(rows: list[TemperatureObservation]) -> int:
    TemperatureObservation.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["station", "hour"], update_fields=["celsius"]
    )
    return len(rows)


@transaction.atomic
def postal_codes_import(*, points: Iterable[formats.PostalPoint]) -> int:
    rows = [
        PostalCodePoint(country=p.country, postal_code=p.postal_code, place_name=p.place_name, latitude=p.latitude,
                        longitude=p.longitude)
        for p in points
    ]  # fmt: skip
    PostalCodePoint.objects.bulk_create(
        rows,
        batch_size=BATCH,
        update_conflicts=True,
        unique_fields=["country", "postal_code"],
        update_fields=["place_name", "latitude", "longitude"],
    )
    return len(rows)


@transaction.atomic
def premise_locate(
    *,
    premise: Premise,
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    postal_code: str = "",
    country: str = "",
    now: datetime | None = None,
) -> PremiseLocation:
    """Set where a premise is: a point, or a postal code whose point is known (``PostalCodePoint``)."""
    postal_code, country = postal_code.strip(), country.strip().upper()
    if latitude is None or longitude is None:
        if not postal_code:
            raise ApplicationError(
                "Give latitude and longitude, or a postal code.", fields={"latitude": ["Or a postal code."]}
            )
        point = PostalCodePoint.objects.filter(postal_code=postal_code, **({"country": country} if country else {}))
        found = list(point[:2])
        if len(found) != 1:
            why = "unknown" if not found else "found in several countries: give the country"
            raise ApplicationError(f"Postal code {postal_code} {why}.", fields={"postal_code": [why.capitalize()]})
        latitude, longitude, country = found[0].latitude, found[0].longitude, found[0].country
    if not (-90 <= Decimal(latitude) <= 90 and -180 <= Decimal(longitude) <= 180):
        raise ApplicationError("Latitude or longitude out of range.", fields={"latitude": ["Out of range."]})
    location, _ = PremiseLocation.objects.update_or_create(
        premise=premise,
        defaults={
            "latitude": Decimal(latitude).quantize(Decimal("0.00001")),
            "longitude": Decimal(longitude).quantize(Decimal("0.00001")),
            "postal_code": postal_code,
            "country": country,
            "updated_at": now or timezone.now(),
        },
    )
    return location
