"""The transactional outbox (device commands and webhooks), aggregator webhook endpoints, device telemetry."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from .events import DREvent


class WebhookEndpoint(models.Model):
    """An aggregator's endpoint for signed event notifications."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=128)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.url


class OutboxMessage(models.Model):
    """Transactional outbox: a signal written with the event's transaction, sent (and re-sent) until delivered.

    One row per (event, channel, destination): a device (MQTT) or an endpoint (webhook). The unique key makes a
    second dispatch of the same event a no-op; ``message_id`` travels with the message so a device that receives a
    redelivery (QoS 1 is at-least-once) recognises and drops it.
    """

    class Channel(models.TextChoices):
        MQTT = "mqtt", "MQTT"
        WEBHOOK = "webhook", "Webhook"
        OCPP = "ocpp", "OCPP 2.0.1"
        S2 = "s2", "S2 (EN 50491-12-2)"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        NO_ACK = "no_ack", "No acknowledgement by the deadline"
        FAILED = "failed", "Failed (gave up)"
        CANCELLED = "cancelled", "Cancelled"

    event = models.ForeignKey(
        DREvent,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="outbox",
        db_index=False,  # outbox_unique_destination (event, channel, destination) serves it: one index less to write
        # No database constraint (ADR 0052): rows are written in the transaction that holds their event, and
        # events are never deleted; the constraint's deferred check was one query per command at COMMIT.
        db_constraint=False,
        help_text="Empty for OpenADR 3 notifications about objects other than events.",
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    destination = models.CharField(max_length=500, help_text="Device id (MQTT) or endpoint id (webhook).")
    message_id = models.UUIDField(unique=True)
    topic = models.CharField(max_length=300, blank=True)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    ack_deadline = models.DateTimeField(null=True, blank=True)
    acked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outbox_status_next"),
            # The CSMS's poll (``ocpp_commands_due``, several times a second): the pending OCPP commands only, so
            # a poll does not walk the thousands of pending MQTT rows an emergency call writes. Partial: MQTT rows
            # and sent commands never enter it (no cost on their inserts and updates).
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(channel="ocpp", status="pending"),
                name="outbox_ocpp_pending",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["event", "channel", "destination"], name="outbox_unique_destination")
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.destination} for event {self.event_id} ({self.status})"


class Telemetry(models.Model):
    """A device's reported power draw (kW) at a moment, consumed from MQTT."""

    device_id = models.CharField(max_length=120)
    premise = models.ForeignKey("accounts.Premise", on_delete=models.CASCADE, related_name="telemetry")
    event = models.ForeignKey(DREvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="telemetry")
    at = models.DateTimeField()
    kw = models.DecimalField(max_digits=12, decimal_places=3)
    baseline_kw = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["event", "premise", "at"], name="telemetry_event_premise_at")]
        constraints = [models.UniqueConstraint(fields=["device_id", "at"], name="telemetry_unique_device_at")]

    def __str__(self) -> str:
        return f"{self.device_id} {self.kw} kW @ {self.at:%H:%M:%S}"
