"""Verified delivery of events, their performance indicators, and the penalties charged for shortfalls."""

from __future__ import annotations

from django.db import models

from .events import DREvent


class DataSource(models.TextChoices):
    """Where a verification's measured actual (or baseline) came from."""

    METER = "meter", "Meter data"
    VEN_REPORT = "ven_report", "VEN report (OpenADR 3)"
    MIXED = "mixed", "Meter data, VEN report where meter data is missing"


class EventVerification(models.Model):
    """Measured delivery of an event: delivered = baseline - actual, per interval (no negative credit).

    The actual comes from meter data; an interval without meter data (or a resource without a meter) uses the
    usage its VEN reported over OpenADR 3 (``actual_source`` says which). Without a meter the baseline is the
    VEN's reported BASELINE (``baseline`` is then empty and ``baseline_source`` is ``ven_report``).
    """

    event = models.OneToOneField(DREvent, on_delete=models.PROTECT, related_name="verification")
    baseline = models.ForeignKey(
        "assessment.Baseline", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actual_source = models.CharField(max_length=16, choices=DataSource.choices, default=DataSource.METER)
    baseline_source = models.CharField(max_length=16, choices=DataSource.choices, default=DataSource.METER)
    baseline_kwh = models.DecimalField(max_digits=14, decimal_places=4)
    actual_kwh = models.DecimalField(max_digits=14, decimal_places=4)
    delivered_kwh = models.DecimalField(max_digits=14, decimal_places=4)
    committed_kwh = models.DecimalField(max_digits=14, decimal_places=4)
    verified_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Verification of event {self.event_id}: {self.delivered_kwh} kWh"


class VerificationInterval(models.Model):
    verification = models.ForeignKey(EventVerification, on_delete=models.CASCADE, related_name="intervals")
    start = models.DateTimeField()
    baseline_kwh = models.DecimalField(max_digits=12, decimal_places=4)
    actual_kwh = models.DecimalField(max_digits=12, decimal_places=4)
    delivered_kwh = models.DecimalField(max_digits=12, decimal_places=4)
    actual_source = models.CharField(max_length=16, choices=DataSource.choices, default=DataSource.METER)

    class Meta:
        ordering = ["start"]
        constraints = [
            models.UniqueConstraint(fields=["verification", "start"], name="verification_interval_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.start:%H:%M} delivered {self.delivered_kwh} kWh"


class EventPerformance(models.Model):
    """Reliability indicators of one event for its resource (NERC DADS / PJM load-management performance terms)."""

    event = models.OneToOneField(DREvent, on_delete=models.CASCADE, related_name="performance")
    activated = models.BooleanField(help_text="Acknowledged and delivered at least the program threshold.")
    response_seconds = models.PositiveIntegerField(null=True, blank=True)
    duration_compliance = models.DecimalField(max_digits=5, decimal_places=4)
    magnitude_achievement = models.DecimalField(max_digits=6, decimal_places=4)
    available = models.BooleanField(help_text="The resource was available (not opted out, acknowledged).")
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Performance of event {self.event_id}"


class Penalty(models.Model):
    """A non-compliance charge recorded for settlement: shortfall kWh x penalty rate (or an opt-out forfeit)."""

    class Reason(models.TextChoices):
        SHORTFALL = "shortfall", "Delivery below the program threshold"
        OPT_OUT = "opt_out", "Opted out"

    event = models.ForeignKey(DREvent, on_delete=models.PROTECT, related_name="penalties")
    premise = models.ForeignKey("accounts.Premise", on_delete=models.PROTECT, related_name="penalties")
    payer = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="penalties")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    shortfall_kwh = models.DecimalField(max_digits=14, decimal_places=4)
    rate_per_mwh = models.DecimalField(max_digits=10, decimal_places=2)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    delivery_start = models.DateTimeField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["delivery_start", "id"]
        constraints = [models.UniqueConstraint(fields=["event", "reason"], name="penalty_unique_event_reason")]

    def __str__(self) -> str:
        return f"Penalty {self.amount} for event {self.event_id} ({self.reason})"
