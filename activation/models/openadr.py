"""OpenADR 3 VTN objects: VEN clients and tokens, VENs and their resources, VTN-only events, reports,
subscriptions."""

from __future__ import annotations

from django.db import models

from .events import DREvent
from .programs import Program


class VenClient(models.Model):
    """OAuth 2 client credentials of a VEN (the secret stored as sha256), issued out of band to an organisation.

    The client gets bearer tokens from ``/auth/token`` and registers its own ``ven`` object (``POST /vens``):
    one VEN per client.
    """

    client_id = models.CharField(max_length=128, unique=True)
    secret_hash = models.CharField(max_length=64)
    organisation = models.ForeignKey(
        "accounts.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="ven_clients"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.client_id


class Ven(models.Model):
    """An OpenADR 3 VEN registered with the VTN, by its client (self-registration) or by the business logic."""

    ven_name = models.CharField(max_length=128, unique=True)
    client = models.OneToOneField(
        VenClient, null=True, blank=True, on_delete=models.SET_NULL, related_name="ven", help_text="Its credentials."
    )
    organisation = models.ForeignKey(
        "accounts.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="vens"
    )
    attributes = models.JSONField(null=True, blank=True)
    targets = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.ven_name


class VenToken(models.Model):
    """A bearer access token issued by ``/auth/token`` to a VEN client (sha256 of the token stored)."""

    client = models.ForeignKey(VenClient, on_delete=models.CASCADE, related_name="tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Token of {self.client_id}"


class VenResource(models.Model):
    """A resource behind a VEN; ``premise`` links it to the platform's resource."""

    ven = models.ForeignKey(Ven, on_delete=models.CASCADE, related_name="resources")
    resource_name = models.CharField(max_length=128)
    premise = models.ForeignKey("accounts.Premise", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    attributes = models.JSONField(null=True, blank=True)
    targets = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ven", "resource_name"], name="ven_resource_unique_name")]

    def __str__(self) -> str:
        return self.resource_name


class OadrEvent(models.Model):
    """An OpenADR 3 event the VTN keeps and delivers but the platform does not dispatch itself: prices, import
    limits, levels, or a setpoint for VENs rather than for one enrolled premise (``activation.openadr_events``).
    Its VTN id is ``vtn-<pk>``; events the platform dispatches are ``DREvent`` rows."""

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="oadr_events")
    spec = models.JSONField(help_text="The event object as given (validated against the spec).")
    created_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True, help_text="DELETE /events/{id}: no longer listed.")

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"OpenADR event vtn-{self.pk}"


class OadrReport(models.Model):
    """An OpenADR 3 report posted by a VEN for an event (the platform's ``event`` or a VTN-only ``oadr_event``)."""

    ven = models.ForeignKey(Ven, null=True, on_delete=models.SET_NULL, related_name="reports")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="reports")
    event = models.ForeignKey(DREvent, null=True, blank=True, on_delete=models.PROTECT, related_name="reports")
    oadr_event = models.ForeignKey(OadrEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="reports")
    client_name = models.CharField(max_length=128)
    report_name = models.CharField(max_length=200, null=True, blank=True)
    payload_descriptors = models.JSONField(null=True, blank=True)
    resources = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(event__isnull=False, oadr_event__isnull=True)
                | models.Q(event__isnull=True, oadr_event__isnull=False),
                name="oadr_report_one_event",
            )
        ]

    def __str__(self) -> str:
        return f"Report {self.pk} for event {self.event_id or self.oadr_event_id}"


class OadrSubscription(models.Model):
    """An OpenADR 3 subscription: callbacks for operations on programs, events, reports..."""

    ven = models.ForeignKey(Ven, null=True, on_delete=models.CASCADE, related_name="subscriptions")
    client_name = models.CharField(max_length=128)
    program = models.ForeignKey(
        Program,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="subscriptions",
        help_text="Empty: every program (OpenADR 3.1.0 makes programID optional).",
    )
    object_operations = models.JSONField()
    targets = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Subscription {self.pk} of {self.client_name}"
