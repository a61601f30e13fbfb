"""Demand-response events, the dispatch signals sent for them, and the verification of delivery."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q


class DREvent(models.Model):
    """A demand-response event: a resource asked to reduce load by ``target_kw`` over ``[start, end)``."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        NOTIFIED = "notified", "Notified"
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    award = models.OneToOneField("market.Award", on_delete=models.PROTECT, related_name="event")
    premise = models.ForeignKey("accounts.Premise", on_delete=models.PROTECT, related_name="events")
    zone = models.ForeignKey("accounts.GridZone", on_delete=models.PROTECT, related_name="events")
    target_kw = models.DecimalField(max_digits=12, decimal_places=3)
    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    created_at = models.DateTimeField(auto_now_add=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["start", "id"]
        indexes = [models.Index(fields=["status", "end"], name="event_status_end")]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="event_window_order"),
            models.CheckConstraint(condition=Q(target_kw__gt=0), name="event_target_positive"),
        ]

    def __str__(self) -> str:
        return f"Event {self.pk} ({self.status})"


class DispatchSignal(models.Model):
    """The instruction sent to one resource for one event (one per resource and event)."""

    class Channel(models.TextChoices):
        OPENADR = "openadr", "OpenADR 3"
        MQTT = "mqtt", "MQTT"
        WEBHOOK = "webhook", "Webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        FAILED = "failed", "Failed"

    event = models.ForeignKey(DREvent, on_delete=models.PROTECT, related_name="signals")
    premise = models.ForeignKey("accounts.Premise", on_delete=models.PROTECT, related_name="signals")
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.OPENADR)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "premise"], name="signal_unique_event_premise")]

    def __str__(self) -> str:
        return f"Signal {self.pk} for event {self.event_id}"


class EventVerification(models.Model):
    """Measured delivery of an event: delivered = baseline - actual, per interval (no negative credit)."""

    event = models.OneToOneField(DREvent, on_delete=models.PROTECT, related_name="verification")
    baseline = models.ForeignKey("assessment.Baseline", on_delete=models.PROTECT, related_name="+")
    baseline_kwh = models.DecimalField(max_digits=14, decimal_places=4)
    actual_kwh = models.DecimalField(max_digits=14, decimal_places=4)
    delivered_kwh = models.DecimalField(max_digits=14, decimal_places=4)
    committed_kwh = models.DecimalField(max_digits=14, decimal_places=4)
    verified_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Verification of event {self.event_id}: {self.delivered_kwh} kWh"

    @property
    def performance_ratio(self):
        return self.delivered_kwh / self.committed_kwh if self.committed_kwh else None


class VerificationInterval(models.Model):
    verification = models.ForeignKey(EventVerification, on_delete=models.CASCADE, related_name="intervals")
    start = models.DateTimeField()
    baseline_kwh = models.DecimalField(max_digits=12, decimal_places=4)
    actual_kwh = models.DecimalField(max_digits=12, decimal_places=4)
    delivered_kwh = models.DecimalField(max_digits=12, decimal_places=4)

    class Meta:
        ordering = ["start"]
        constraints = [
            models.UniqueConstraint(fields=["verification", "start"], name="verification_interval_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.start:%H:%M} delivered {self.delivered_kwh} kWh"
