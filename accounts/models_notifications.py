"""Notifications: one row per user and fact (the in-app inbox), written in the same transaction as the fact; its
email leaves through the outbox pattern (``email_status`` pending -> sent by a Celery task, never twice) and the
user's preferences say which kinds they want in the inbox and by email."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class NotificationKind(models.TextChoices):
    EVENT_SCHEDULED = "event_scheduled", "Event scheduled"
    EVENT_CHANGED = "event_changed", "Event changed"
    EVENT_CANCELLED = "event_cancelled", "Event cancelled"
    KYC_DECISION = "kyc_decision", "Identity check decision"
    PENALTY = "penalty", "Penalty"
    DISPUTE_OUTCOME = "dispute_outcome", "Dispute outcome"
    PAYMENT = "payment", "Payment"
    STATEMENT_READY = "statement_ready", "Statement ready"
    MANUAL_ACTION = "manual_action", "Turn a manual device down"


class Notification(models.Model):
    class EmailStatus(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Not wanted by email"
        FAILED = "failed", "Failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=24, choices=NotificationKind.choices)
    key = models.CharField(max_length=120, help_text="The fact's identity: one notification per user and fact.")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=300, blank=True)
    in_app = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    email_status = models.CharField(max_length=8, choices=EmailStatus.choices, default=EmailStatus.PENDING)
    emailed_at = models.DateTimeField(null=True, blank=True)
    email_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="notification_unique_user_fact")]
        indexes = [
            models.Index(fields=["user", "read_at"], name="notification_user_unread"),
            models.Index(fields=["email_status"], name="notification_email_status"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}: {self.title}"


class NotificationPreference(models.Model):
    """A user's choice for one kind (no row: in the inbox and by email)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=24, choices=NotificationKind.choices)
    in_app = models.BooleanField(default=True)
    email = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="notification_preference_unique")]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}: in app {self.in_app}, email {self.email}"
