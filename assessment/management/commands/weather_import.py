"""Import weather data: hourly temperatures of a station, a station list, or postal code points.

    manage.py weather_import FILE [FILE ...] [--station CODE] [--name NAME] [--latitude LAT --longitude LON]

The kind of each file is told by its content (``.gz`` files are read as gzip): NOAA ISD-Lite hourly observations
(station from the file name, e.g. ``725030-14732-2026.gz``, or ``--station``), the NOAA ISD station history
(``isd-history.csv``), a Meteostat hourly bulk CSV (station from the file name or ``--station``), or a GeoNames
postal code file. Import the station list first, or give a new station's position with ``--latitude`` and
``--longitude``. Re-importing a file changes nothing.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from flexplatform.errors import ApplicationError

from ...weather.formats import FormatError
from ...weather.services import weather_file_import


class Command(BaseCommand):
    help = "Import hourly temperatures (ISD-Lite, Meteostat), ISD station lists or GeoNames postal codes."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", type=Path)
        parser.add_argument("--station", default="", help="Station code (default: from the file name).")
        parser.add_argument("--name", default="")
        parser.add_argument("--latitude", type=float)
        parser.add_argument("--longitude", type=float)

    def handle(self, *args, **options):
        for path in options["files"]:
            if not path.is_file():
                raise CommandError(f"{path}: no such file")
            try:
                result = weather_file_import(
                    path=path,
                    station_code=options["station"],
                    name=options["name"],
                    latitude=options["latitude"],
                    longitude=options["longitude"],
                )
            except (FormatError, ApplicationError) as exc:
                raise CommandError(f"{path}: {exc}") from exc
            where = f" for station {result.station}" if result.station else ""
            self.stdout.write(f"{path.name}: {result.rows} {result.kind} rows imported{where}")
