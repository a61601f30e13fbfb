"""Participants: organisations, their members and roles, grid zones, premises and meters."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class GridZone(models.Model):
    """A zone of the grid. Zones form a hierarchy: ISO zone -> substation -> feeder."""

    class Kind(models.TextChoices):
        ISO_ZONE = "iso_zone", "ISO zone"
        SUBSTATION = "substation", "Substation"
        FEEDER = "feeder", "Feeder"

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.ISO_ZONE)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Organisation(models.Model):
    """A market participant: a consumer (household, business, factory), an aggregator or a grid operator."""

    class Kind(models.TextChoices):
        CONSUMER = "consumer", "Consumer"
        AGGREGATOR = "aggregator", "Aggregator"
        GRID_OPERATOR = "grid_operator", "Grid operator"
        PLATFORM = "platform", "Platform"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    service_zones = models.ManyToManyField(
        GridZone, blank=True, related_name="operators", help_text="Grid operators: the zones of their service area."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["name", "kind"], name="organisation_unique_name_kind")]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's role in an organisation."""

    class Role(models.TextChoices):
        CONSUMER = "consumer", "Consumer"
        AGGREGATOR = "aggregator", "Aggregator"
        GRID_OPERATOR = "grid_operator", "Grid operator"
        ADMIN = "admin", "Platform admin"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "organisation"], name="membership_unique_user_org")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organisation} ({self.role})"


class Premise(models.Model):
    """A site that consumes electricity and can offer flexibility."""

    class Segment(models.TextChoices):
        RESIDENTIAL = "residential", "Residential"
        COMMERCIAL = "commercial", "Commercial"
        INDUSTRIAL = "industrial", "Industrial"

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="premises")
    name = models.CharField(max_length=200)
    address = models.CharField(max_length=300, blank=True)
    segment = models.CharField(max_length=16, choices=Segment.choices)
    grid_zone = models.ForeignKey(GridZone, on_delete=models.PROTECT, related_name="premises")
    timezone = models.CharField(max_length=64, default="UTC")
    utility_account_number = models.CharField(max_length=64, blank=True)
    tariff = models.CharField(max_length=64, blank=True)
    aggregator = models.ForeignKey(
        Organisation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="enrolled_premises",
        limit_choices_to={"kind": Organisation.Kind.AGGREGATOR},
        help_text="The aggregator this premise is enrolled with, if any.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="premise_unique_name_per_org"),
        ]

    def __str__(self) -> str:
        return self.name


class Meter(models.Model):
    """An interval meter at a premise."""

    class Kind(models.TextChoices):
        AMI = "ami", "AMI revenue meter"
        SUB_METER = "sub_meter", "Sub-meter"
        DEVICE_TELEMETRY = "device_telemetry", "Device telemetry"

    premise = models.ForeignKey(Premise, on_delete=models.PROTECT, related_name="meters")
    meter_id = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.AMI)
    interval_minutes = models.PositiveSmallIntegerField(default=15)
    has_export_channel = models.BooleanField(default=False, help_text="Measures export (generation) as well as import.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["meter_id"]
        constraints = [
            models.CheckConstraint(condition=Q(interval_minutes__in=[5, 15, 30, 60]), name="meter_interval_5_15_30_60"),
        ]

    def __str__(self) -> str:
        return self.meter_id


class IdempotencyRecord(models.Model):
    """The first response to a POST carrying an ``Idempotency-Key``, replayed for repeats."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=60)
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "scope", "key"], name="idempotency_unique_key")]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"


# ------------------------------------------------------------------------------------------------------------
# Devices: the flexible loads and resources at a premise, their capabilities and how they are controlled.
# ------------------------------------------------------------------------------------------------------------


class Device(models.Model):
    """A controllable device at a premise, with the capabilities its owner declares.

    Power in kW, energy in kWh, temperatures in °C, all Decimal. ``min_kw``..``max_kw`` is the controllable
    range: the device can be held anywhere between (a load shed from ``max_kw`` down to ``min_kw``).
    """

    class Kind(models.TextChoices):
        EV_CHARGER = "ev_charger", "EV charger"
        HVAC = "hvac", "HVAC / thermostat"
        WATER_HEATER = "water_heater", "Water heater"
        BATTERY = "battery", "Battery storage"
        PV_INVERTER = "pv_inverter", "PV inverter"
        POOL_PUMP = "pool_pump", "Pool pump"
        INDUSTRIAL_PROCESS = "industrial_process", "Industrial process"

    class Channel(models.TextChoices):
        OPENADR_VEN = "openadr_ven", "OpenADR VEN"
        MQTT = "mqtt", "MQTT"
        OCPP = "ocpp", "OCPP"
        VENDOR_API = "vendor_api", "Vendor API"
        MANUAL = "manual", "Manual"

    premise = models.ForeignKey(Premise, on_delete=models.PROTECT, related_name="devices")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    manufacturer = models.CharField(max_length=120, blank=True)
    model = models.CharField(max_length=120, blank=True)
    control_channel = models.CharField(max_length=12, choices=Channel.choices)
    channel_address = models.CharField(
        max_length=200, blank=True, help_text="VEN id, MQTT topic, OCPP charge point id or vendor device id."
    )
    rated_kw = models.DecimalField(max_digits=10, decimal_places=3)
    min_kw = models.DecimalField(max_digits=10, decimal_places=3, default=0, help_text="Lowest controllable power.")
    max_kw = models.DecimalField(max_digits=10, decimal_places=3, help_text="Highest controllable power.")
    ramp_kw_per_min = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    min_event_minutes = models.PositiveIntegerField(default=15)
    max_event_minutes = models.PositiveIntegerField(default=240)
    notice_minutes = models.PositiveIntegerField(default=0, help_text="Advance notice the device needs.")
    max_events_per_day = models.PositiveSmallIntegerField(default=1)
    max_events_per_month = models.PositiveSmallIntegerField(default=20)
    rebound_percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=0, help_text="Share of the shed energy consumed after the event."
    )
    rebound_minutes = models.PositiveIntegerField(default=0)
    comfort_min_c = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    comfort_max_c = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    setpoint_c = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    capacity_kwh = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    soc_min_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    soc_max_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    soc_percent = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True, help_text="Latest reported state of charge."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["premise", "name"]
        constraints = [
            models.UniqueConstraint(fields=["premise", "name"], name="device_unique_name_per_premise"),
            models.CheckConstraint(condition=Q(rated_kw__gt=0), name="device_rated_kw_positive"),
            models.CheckConstraint(
                condition=Q(min_kw__gte=0) & Q(min_kw__lte=models.F("max_kw")) & Q(max_kw__lte=models.F("rated_kw")),
                name="device_range_within_rating",
            ),
            models.CheckConstraint(
                condition=Q(min_event_minutes__lte=models.F("max_event_minutes")), name="device_event_minutes_order"
            ),
            models.CheckConstraint(
                condition=Q(max_events_per_day__lte=models.F("max_events_per_month")), name="device_event_limits"
            ),
            models.CheckConstraint(
                condition=Q(rebound_percent__gte=0) & Q(rebound_percent__lte=200), name="device_rebound_0_200"
            ),
            models.CheckConstraint(
                condition=Q(comfort_min_c__isnull=True)
                | Q(comfort_max_c__isnull=True)
                | Q(comfort_min_c__lt=models.F("comfort_max_c")),
                name="device_comfort_band_order",
            ),
            models.CheckConstraint(
                condition=Q(soc_min_percent__isnull=True)
                | Q(soc_max_percent__isnull=True)
                | (
                    Q(soc_min_percent__gte=0)
                    & Q(soc_min_percent__lt=models.F("soc_max_percent"))
                    & Q(soc_max_percent__lte=100)
                ),
                name="device_soc_limits_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"
