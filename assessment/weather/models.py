"""Weather stations, their hourly temperatures and where premises are (for the nearest station)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

LATITUDE = Q(latitude__gte=-90) & Q(latitude__lte=90)
LONGITUDE = Q(longitude__gte=-180) & Q(longitude__lte=180)


class WeatherStation(models.Model):
    """A weather station: ``code`` is the source's identifier (ISD: ``USAF-WBAN``, e.g. ``725030-14732``;
    Meteostat: its station id)."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200, blank=True)
    latitude = models.DecimalField(max_digits=8, decimal_places=5)
    longitude = models.DecimalField(max_digits=8, decimal_places=5)
    elevation_m = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=LATITUDE, name="station_latitude_range"),
            models.CheckConstraint(condition=LONGITUDE, name="station_longitude_range"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}".strip()


class TemperatureObservation(models.Model):
    """The air temperature a station observed for the hour starting ``hour`` (aware UTC), in °C."""

    station = models.ForeignKey(WeatherStation, on_delete=models.CASCADE, related_name="temperatures")
    hour = models.DateTimeField()
    celsius = models.DecimalField(max_digits=4, decimal_places=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["station", "hour"], name="temperature_unique_station_hour"),
            models.CheckConstraint(condition=Q(celsius__gte=-90) & Q(celsius__lte=70), name="temperature_plausible"),
        ]

    def __str__(self) -> str:
        return f"{self.station_id}@{self.hour:%Y-%m-%d %H:%M}: {self.celsius} °C"


class PostalCodePoint(models.Model):
    """The representative point of a postal code (e.g. from the GeoNames postal code files)."""

    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2.")
    postal_code = models.CharField(max_length=20)
    place_name = models.CharField(max_length=180, blank=True)
    latitude = models.DecimalField(max_digits=8, decimal_places=5)
    longitude = models.DecimalField(max_digits=8, decimal_places=5)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["country", "postal_code"], name="postal_code_unique"),
            models.CheckConstraint(condition=LATITUDE, name="postal_latitude_range"),
            models.CheckConstraint(condition=LONGITUDE, name="postal_longitude_range"),
        ]

    def __str__(self) -> str:
        return f"{self.country} {self.postal_code}"


class PremiseLocation(models.Model):
    """Where a premise is: the point given, or its postal code's point. Read by the weather lookup."""

    premise = models.OneToOneField("accounts.Premise", on_delete=models.CASCADE, related_name="location")
    latitude = models.DecimalField(max_digits=8, decimal_places=5)
    longitude = models.DecimalField(max_digits=8, decimal_places=5)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=LATITUDE, name="premise_latitude_range"),
            models.CheckConstraint(condition=LONGITUDE, name="premise_longitude_range"),
        ]

    def __str__(self) -> str:
        return f"{self.premise_id} ({self.latitude}, {self.longitude})"
