"""Demand-response programs, the resources enrolled in them, and the platform-wide emergency stop."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q


class Program(models.Model):
    """A demand-response program: its notice time, caps, consequences and compliance rules.

    Parameters follow the published program rules the platform models: notice time and event caps as in
    PJM Manual 18 (Load Management, notification lead times) and CAISO's BIP/ELRP tariffs (max events per
    month), a performance threshold and shortfall penalty as in PJM's Capacity Performance non-performance
    charge (shortfall x penalty rate), derating then suspension after repeated test/event failures (PJM
    Manual 18 §4.3 re-testing; ERCOT ERS "two failures" suspension rule).
    """

    class Kind(models.TextChoices):
        ECONOMIC = "economic", "Economic"
        EMERGENCY = "emergency", "Emergency"

    class OptOutConsequence(models.TextChoices):
        NONE = "none", "No consequence"
        FORFEIT = "forfeit", "Payment forfeited for the event"
        PENALTY = "penalty", "Shortfall penalty as for non-performance"

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=128)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.ECONOMIC)
    notice_minutes = models.PositiveIntegerField(default=60)
    max_events_per_day = models.PositiveSmallIntegerField(default=1)
    max_events_per_month = models.PositiveSmallIntegerField(default=10)
    performance_threshold = models.DecimalField(max_digits=4, decimal_places=3, default=Decimal("0.750"))
    penalty_rate_per_mwh = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))
    opt_out_consequence = models.CharField(
        max_length=16, choices=OptOutConsequence.choices, default=OptOutConsequence.FORFEIT
    )
    allows_negative_credit = models.BooleanField(default=False)
    derate_after_failures = models.PositiveSmallIntegerField(default=2)
    suspend_after_failures = models.PositiveSmallIntegerField(default=3)
    derate_factor = models.DecimalField(max_digits=4, decimal_places=3, default=Decimal("0.500"))
    energy_rate_per_mwh = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=Decimal("100.00"),
        help_text="What delivered energy of this program's operator, emergency and cascade events is paid ($/MWh).",
    )
    oadr_spec = models.JSONField(
        null=True,
        blank=True,
        help_text="The OpenADR 3 program object as the business logic gave it (validated against the spec).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Enrollment(models.Model):
    """A premise enrolled in a program, in a cascade tier, with its commitment and compliance standing."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DERATED = "derated", "Derated"
        SUSPENDED = "suspended", "Suspended"

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="enrollments")
    premise = models.ForeignKey("accounts.Premise", on_delete=models.PROTECT, related_name="enrollments")
    tier = models.PositiveSmallIntegerField(default=1)
    response_minutes = models.PositiveSmallIntegerField(default=10)
    committed_kw = models.DecimalField(max_digits=12, decimal_places=3)
    safety_max_kw = models.DecimalField(
        max_digits=12, decimal_places=3, help_text="Never dispatched past this reduction, even in an emergency."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    derate = models.DecimalField(max_digits=4, decimal_places=3, default=Decimal("1.000"))
    consecutive_failures = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["program", "tier", "premise"]
        constraints = [
            models.UniqueConstraint(fields=["program", "premise"], name="enrollment_unique_program_premise"),
            models.CheckConstraint(condition=Q(committed_kw__gt=0), name="enrollment_kw_positive"),
            models.CheckConstraint(condition=Q(tier__gte=1), name="enrollment_tier_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.premise_id} in {self.program_id} (tier {self.tier})"


class EmergencyStop(models.Model):
    """One engagement of the platform-wide emergency stop (the audit row); lifted only by an admin."""

    engaged_by = models.ForeignKey("auth.User", null=True, on_delete=models.SET_NULL, related_name="+")
    engaged_at = models.DateTimeField()
    reason = models.CharField(max_length=300)
    lifted_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    lifted_at = models.DateTimeField(null=True, blank=True)
    lift_reason = models.CharField(max_length=300, blank=True)
    # True while engaged, NULL once lifted: the unique constraint allows one engaged stop at a time.
    engaged = models.BooleanField(null=True, default=True)

    class Meta:
        ordering = ["-engaged_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["engaged"], name="one_engaged_emergency_stop")]

    def __str__(self) -> str:
        return f"Emergency stop {self.pk} ({'lifted' if self.lifted_at else 'engaged'})"
