"""A labelled capacity estimate: the only way a premise without registered devices may sell (ADR 0029)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class CapacityEstimate(models.Model):
    """A commercial or industrial site's declared curtailable load, verified against its metered history.

    Counted only while no registered device can deliver (``assessment.device_capacity``), always shown with its
    ``label`` (the assessment's method reads ``estimate:<label>``), never more than the peak demand its meter
    recorded (``verified_peak_kw``, read when declared)."""

    premise = models.ForeignKey("accounts.Premise", on_delete=models.PROTECT, related_name="capacity_estimates")
    label = models.CharField(max_length=32, help_text="What the estimate is, e.g. 'declared curtailable load'.")
    kw = models.DecimalField(max_digits=12, decimal_places=3)
    basis = models.TextField(help_text="How the owner arrived at the figure (process, loads switched off).")
    verified_peak_kw = models.DecimalField(max_digits=12, decimal_places=3)
    declared_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(kw__gt=0), name="capacity_estimate_kw_positive"),
            models.CheckConstraint(
                condition=Q(kw__lte=models.F("verified_peak_kw")), name="capacity_estimate_within_history"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.premise}: {self.kw} kW ({self.label})"
