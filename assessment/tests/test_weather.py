"""Real weather: station list, ISD-Lite / Meteostat hourly temperatures and postal codes imported from the samples in
data/weather/ (see make_sample.py there), premises mapped to their nearest station with data, the regression
baseline reading temperatures through the weather source interface, and the fallback without weather."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from accounts import services as acc
from assessment import services
from assessment.baselines.grid import DayGrid
from assessment.ingest.services import readings_import
from assessment.ingest.types import ParsedReading, ParseResult
from assessment.models import TemperatureObservation, WeatherStation
from assessment.weather import formats
from assessment.weather.selectors import distance_km, nearest_station, station_for_premise
from assessment.weather.services import premise_locate
from assessment.weather.sources import StationTemperatures, temperatures_for
from flexplatform.errors import ApplicationError

DATA = Path(__file__).parent / "data" / "weather"
STATION_ONLY = ["assessment.weather.sources.StationTemperatures"]
NY = ZoneInfo("America/New_York")


def _import(*names: str) -> str:
    out = io.StringIO()
    call_command("weather_import", *(str(DATA / n) for n in names), stdout=out)
    return out.getvalue()


@pytest.fixture
def stations(db):
    _import("isd-history-sample.csv", "725030-14732-2026.gz", "postal-sample.txt")
    return {s.code: s for s in WeatherStation.objects.all()}


def test_formats_are_told_apart_and_parsed():
    assert formats.detect(b"2026 06 01 00   276   216 10150") == "isd-lite"
    assert formats.detect(b'"USAF","WBAN","STATION NAME"') == "isd-history"
    assert formats.detect(b"2026-07-01,0,18.4,12.1") == "meteostat"
    assert formats.detect((DATA / "postal-sample.txt").read_bytes()) == "geonames-postal"
    with pytest.raises(formats.FormatError):
        formats.detect(b"meter_id,start,kwh\n")
    lines = io.BytesIO(b"2026 07 04 11   281   221 10150\n2026 07 04 12 -9999 -9999 10150\n2026 07 04 13    -5\n")
    assert list(formats.isd_lite(lines)) == [
        formats.Observation(datetime(2026, 7, 4, 11, tzinfo=UTC), Decimal("28.1")),
        formats.Observation(datetime(2026, 7, 4, 13, tzinfo=UTC), Decimal("-0.5")),
    ]
    with (DATA / "10637.csv").open("rb") as f:
        rows = list(formats.meteostat_hourly(f))
    assert [(r.hour.hour, r.celsius) for r in rows] == [
        (0, Decimal("18.4")),
        (1, Decimal("17.9")),
        (3, Decimal("17.2")),
    ]
    assert formats.station_code_from_name("725030-14732-2026.gz") == "725030-14732"


def test_weather_import_command_is_idempotent(stations):
    assert set(stations) == {"725030-14732", "725053-94728", "725090-14739"}  # the one without a position is left out
    lga = stations["725030-14732"]
    assert TemperatureObservation.objects.filter(station=lga).count() == 2445 - 1  # one -9999 left out
    hour = TemperatureObservation.objects.get(station=lga, hour=datetime(2026, 6, 1, 0, tzinfo=UTC))
    assert hour.celsius == Decimal("27.6")
    again = _import("725030-14732-2026.gz").strip()
    assert again == "725030-14732-2026.gz: 2444 isd-lite rows imported for station 725030-14732"
    assert TemperatureObservation.objects.count() == 2444  # the same rows: nothing new


def test_meteostat_needs_a_known_station_or_its_position(db):
    with pytest.raises(CommandError, match="Station 10637 is unknown"):
        _import("10637.csv")
    out = io.StringIO()
    call_command(
        "weather_import", str(DATA / "10637.csv"), "--latitude", "50.05", "--longitude", "8.6", "--name", "Frankfurt",
        stdout=out,
    )  # fmt: skip
    assert out.getvalue().strip() == "10637.csv: 3 meteostat rows imported for station 10637"


def test_premise_location_by_postal_code_and_nearest_station_with_data(stations, meter_world):
    site = meter_world.alice_site
    assert station_for_premise(premise=site) is None  # no location yet
    location = premise_locate(premise=site, postal_code="11369")
    assert (location.latitude, location.longitude, location.country) == (Decimal("40.7635"), Decimal("-73.8723"), "US")
    assert station_for_premise(premise=site).code == "725030-14732"
    # At Central Park, the Central Park station is nearer but has no data: LaGuardia (8 km) serves.
    assert round(distance_km(40.789, -73.967, 40.779, -73.880), 1) == 7.4
    assert nearest_station(latitude=40.789, longitude=-73.967).code == "725030-14732"
    # Boston is beyond WEATHER_STATION_MAX_KM (100 km) of any station with data.
    boston = premise_locate(premise=meter_world.bob_site, postal_code="02128")
    assert nearest_station(latitude=float(boston.latitude), longitude=float(boston.longitude)) is None
    with pytest.raises(ApplicationError) as exc:
        premise_locate(premise=site, postal_code="99999")
    assert "postal_code" in exc.value.fields
    with pytest.raises(ApplicationError):
        premise_locate(premise=site, latitude=Decimal("91"), longitude=Decimal("0"))


@override_settings(WEATHER_SOURCES=STATION_ONLY)
def test_station_temperatures_bridge_short_gaps_only(stations, meter_world):
    premise_locate(premise=meter_world.alice_site, latitude=Decimal("40.77"), longitude=Decimal("-73.87"))
    meter = acc.meter_create(premise=meter_world.alice_site, meter_id="A-W", interval_minutes=60)
    days = [date(2026, 8, 14), date(2026, 8, 15)]
    grid = DayGrid(values=np.full((2, 24), np.nan), days=days, interval_minutes=60)
    found = temperatures_for(meter=meter, grid=grid)
    assert found.source == "station:725030-14732"
    # 2026-08-15 02:00 local is 06:00 UTC: in the 3-hour gap, interpolated between 05:00 and 09:00 UTC.
    t5 = float(TemperatureObservation.objects.get(hour=datetime(2026, 8, 15, 5, tzinfo=UTC)).celsius)
    t9 = float(TemperatureObservation.objects.get(hour=datetime(2026, 8, 15, 9, tzinfo=UTC)).celsius)
    assert found.values[1, 2] == pytest.approx(t5 + (t9 - t5) / 4)
    assert found.values[0, 15] == float(
        TemperatureObservation.objects.get(hour=datetime(2026, 8, 14, 19, tzinfo=UTC)).celsius
    )
    TemperatureObservation.objects.filter(
        hour__gte=datetime(2026, 8, 14, 0, tzinfo=UTC), hour__lt=datetime(2026, 8, 14, 12, tzinfo=UTC)
    ).delete()
    assert StationTemperatures().temperatures(meter=meter, grid=grid) is None  # a 12-hour hole is no data


def _history(meter, first: date, last: date) -> None:
    """Hourly load that follows the sample's temperature (cooling above 18 °C), imported as a trusted caller."""
    temps = {
        o.hour: float(o.celsius)
        for o in TemperatureObservation.objects.filter(station__code="725030-14732").only("hour", "celsius")
    }
    rows = []
    t = datetime(first.year, first.month, first.day, tzinfo=NY).astimezone(UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=NY).astimezone(UTC) + timedelta(days=1)
    while t < end:
        temp = temps.get(t, 22.0)
        kwh = Decimal(str(round(0.4 + 0.09 * max(temp - 18.0, 0.0) + 0.1 * (t.astimezone(NY).hour >= 17), 4)))
        rows.append(ParsedReading(meter_id=meter.meter_id, start=t, kwh=kwh, ref=t.isoformat()))
        t += timedelta(hours=1)
    readings_import(user=None, source="json", parsed=ParseResult(rows=rows))


@override_settings(WEATHER_SOURCES=STATION_ONLY)
def test_regression_baseline_reads_station_weather_and_falls_back_without(stations, meter_world):
    meter = acc.meter_create(premise=meter_world.alice_site, meter_id="A-W", interval_minutes=60)
    _history(meter, date(2026, 6, 5), date(2026, 9, 9))
    window = (datetime(2026, 9, 9, 14, tzinfo=NY).astimezone(UTC), datetime(2026, 9, 9, 18, tzinfo=NY).astimezone(UTC))
    # No location: no weather, so CalTRACK hourly gives way to a method that needs none, and says so.
    fallback = services.baseline_compute(
        meter=meter, window_start=window[0], window_end=window[1], method="caltrack-hourly"
    )
    assert fallback.method == "caiso-10in10-unadjusted"
    assert fallback.parameters["fallback_from"] == "caltrack-hourly"
    assert fallback.parameters["fallback_reason"] == "no weather data for the premise"
    premise_locate(premise=meter_world.alice_site, postal_code="11369")
    weather = services.baseline_compute(
        meter=meter, window_start=window[0], window_end=window[1], method="caltrack-hourly"
    )
    assert weather.method == "caltrack-hourly" and weather.parameters["weather"] == "station:725030-14732"
    actual = sum(
        r.kwh for r in meter.readings.filter(start__gte=window[0], start__lt=window[1])
    )  # the load is a function of the temperature: the weather model comes close
    assert abs(weather.total_kwh - actual) / actual < Decimal("0.05"), (weather.total_kwh, actual)


def test_premise_location_api(stations, meter_world, api_for):
    url = f"/api/v1/assessment/premises/{meter_world.alice_site.pk}/location/"
    alice = api_for("alice@t.test")
    assert alice.get(url).status_code == 404  # no location yet
    set_ = alice.put(url, {"postal_code": "11369", "country": "US"}, format="json")
    assert set_.status_code == 200, set_.json()
    assert set_.json()["station"] == {"code": "725030-14732", "name": "LA GUARDIA AIRPORT", "distance_km": "1.8"}
    point = alice.put(url, {"latitude": "42.36", "longitude": "-71.01"}, format="json").json()
    assert (point["postal_code"], point["station"]) == ("", None)  # Boston: no station with data near
    assert alice.put(url, {"latitude": "95", "longitude": "0"}, format="json").status_code == 400
    assert api_for("bob@t.test").get(url).status_code == 404
    assert api_for("op@t.test").put(url, {"postal_code": "11369"}, format="json").status_code == 403
