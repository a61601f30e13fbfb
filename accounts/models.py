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
