"""Invitations of new members to an organisation, sent by email by a member who manages members."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Invitation(models.Model):
    """One invitation: who is invited (an email), to which organisation, in which role; accepted at most once.

    The link's secret is stored only as its SHA-256 (``token_hash``), like API tokens: a database reader cannot
    accept an invitation. At most one open invitation per (organisation, email)."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16)
    manages_members = models.BooleanField(default=False)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "email"],
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} -> {self.organisation_id} ({self.role})"
