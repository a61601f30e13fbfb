"""Public weather file formats, parsed into plain rows (pure; no ORM). The kind of a file is told by its content.

- **NOAA ISD-Lite** hourly observations (``USAF-WBAN-YEAR``, e.g. ``725030-14732-2026``, often gzipped): one line
  per UTC hour, whitespace-separated fields: year, month, day, hour, air temperature (°C × 10), dew point,
  sea-level pressure, wind direction, wind speed, sky cover, 1-hour and 6-hour precipitation; ``-9999`` is missing
  (NOAA NCEI, "ISD-Lite Format", isd-lite-format.pdf).
- **NOAA ISD station history** (``isd-history.csv``): quoted CSV with ``USAF, WBAN, STATION NAME, CTRY, STATE,
  ICAO, LAT, LON, ELEV(M), BEGIN, END``; the station code is ``USAF-WBAN``.
- **Meteostat hourly bulk CSV** (``{station}.csv.gz``): no header; ``date, hour, temp, dwpt, rhum, prcp, snow,
  wdir, wspd, wpgt, pres, tsun, coco``, times in UTC, temperature in °C (Meteostat "Bulk Data / Hourly").
- **GeoNames postal codes** (``US.txt``, ``allCountries.txt``): tab-separated ``country code, postal code, place
  name, admin name1, admin code1, admin name2, admin code2, admin name3, admin code3, latitude, longitude,
  accuracy`` (download.geonames.org/export/zip/readme.txt).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import BinaryIO

ISD_MISSING = -9999
_ISD_LINE = re.compile(rb"^\s*\d{4}\s+\d{1,2}\s+\d{1,2}\s+\d{1,2}\s+-?\d+")
_METEOSTAT_LINE = re.compile(rb"^\d{4}-\d{2}-\d{2},\d{1,2},")
_ISD_NAME = re.compile(r"(\d{6})-(\d{5})")


@dataclass(frozen=True)
class Observation:
    hour: datetime  # aware UTC, on the hour
    celsius: Decimal


@dataclass(frozen=True)
class Station:
    code: str
    name: str
    latitude: Decimal
    longitude: Decimal
    elevation_m: Decimal | None


@dataclass(frozen=True)
class PostalPoint:
    country: str
    postal_code: str
    place_name: str
    latitude: Decimal
    longitude: Decimal


class FormatError(ValueError):
    """A line that does not follow its format; the message names the line."""


def detect(head: bytes) -> str:
    """``isd-lite``, ``isd-history``, ``meteostat`` or ``geonames-postal`` from a file's first bytes."""
    first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0]
    if first.startswith(b'"USAF"') or first.startswith(b"USAF,"):
        return "isd-history"
    if _ISD_LINE.match(first):
        return "isd-lite"
    if _METEOSTAT_LINE.match(first):
        return "meteostat"
    if first.count(b"\t") >= 10:
        return "geonames-postal"
    raise FormatError("not an ISD-Lite, ISD station history, Meteostat hourly or GeoNames postal code file")


def station_code_from_name(filename: str) -> str | None:
    """``725030-14732`` from an ISD-Lite file name such as ``725030-14732-2026.gz``."""
    match = _ISD_NAME.search(filename)
    return f"{match.group(1)}-{match.group(2)}" if match else None


def isd_lite(stream: BinaryIO) -> Iterator[Observation]:
    """Hourly air temperatures of an ISD-Lite file (missing values left out)."""
    for n, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:  # fixed width: year 1-4, month 6-7, day 9-10, hour 12-13, air temperature 14-19
            year, month, day, hour, temp = (int(line[a:b]) for a, b in ((0, 4), (5, 7), (8, 10), (11, 13), (13, 19)))
            at = datetime(year, month, day, hour, tzinfo=UTC)
        except ValueError as exc:
            raise FormatError(f"line {n}: not an ISD-Lite line ({exc})") from exc
        if temp != ISD_MISSING:
            yield Observation(at, Decimal(temp).scaleb(-1))


def meteostat_hourly(stream: BinaryIO) -> Iterator[Observation]:
    """Hourly temperatures of a Meteostat bulk CSV (rows without a temperature left out)."""
    for n, fields in enumerate(csv.reader(io.TextIOWrapper(stream, encoding="utf-8")), start=1):
        if not fields:
            continue
        try:
            day = datetime.strptime(fields[0], "%Y-%m-%d").replace(tzinfo=UTC)
            at = day.replace(hour=int(fields[1]))
            if len(fields) < 3 or not fields[2].strip():
                continue
            yield Observation(at, Decimal(fields[2].strip()).quantize(Decimal("0.1")))
        except (ValueError, InvalidOperation) as exc:
            raise FormatError(f"line {n}: not a Meteostat hourly row ({exc})") from exc


def isd_history(stream: BinaryIO) -> Iterator[Station]:
    reader = csv.DictReader(io.TextIOWrapper(stream, encoding="utf-8-sig"))
    for n, row in enumerate(reader, start=2):
        lat, lon = (row.get("LAT") or "").strip(), (row.get("LON") or "").strip()
        if not lat or not lon:
            continue  # stations without a position cannot be anyone's nearest
        try:
            elevation = (row.get("ELEV(M)") or "").strip()
            yield Station(
                code=f"{row['USAF'].strip()}-{row['WBAN'].strip()}",
                name=(row.get("STATION NAME") or "").strip(),
                latitude=Decimal(lat),
                longitude=Decimal(lon),
                elevation_m=Decimal(elevation) if elevation else None,
            )
        except (KeyError, InvalidOperation) as exc:
            raise FormatError(f"line {n}: not an ISD station history row ({exc})") from exc


def geonames_postal(stream: BinaryIO) -> Iterator[PostalPoint]:
    for n, line in enumerate(stream, start=1):
        fields = line.decode("utf-8").rstrip("\r\n").split("\t")
        if len(fields) < 11:
            continue
        try:
            yield PostalPoint(
                country=fields[0].strip().upper(),
                postal_code=fields[1].strip(),
                place_name=fields[2].strip()[:180],
                latitude=Decimal(fields[9].strip()),
                longitude=Decimal(fields[10].strip()),
            )
        except InvalidOperation as exc:
            raise FormatError(f"line {n}: not a GeoNames postal code row ({exc})") from exc
