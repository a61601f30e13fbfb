"""Cascades (tiered dispatch to a zone target) and the grid-signal feed and trigger rules that start them."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q

from .events import DREvent
from .programs import Program


class Cascade(models.Model):
    """A multi-tier dispatch: target kW in a zone, tier 1 first, the next tier when the response falls short."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        MET = "met", "Target met"
        EXHAUSTED = "exhausted", "Tiers exhausted"
        HALTED = "halted", "Halted"

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="cascades")
    zone = models.ForeignKey("accounts.GridZone", on_delete=models.PROTECT, related_name="cascades")
    target_kw = models.DecimalField(max_digits=12, decimal_places=3)
    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    current_tier = models.PositiveSmallIntegerField(default=0)
    next_check_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=16, choices=DREvent.Source.choices, default=DREvent.Source.OPERATOR)
    created_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-start", "-id"]
        constraints = [models.CheckConstraint(condition=Q(target_kw__gt=0), name="cascade_target_positive")]

    def __str__(self) -> str:
        return f"Cascade {self.pk} ({self.status})"


class CascadeStep(models.Model):
    """Every step of a cascade: a tier dispatched, a response measured, escalation, the outcome."""

    class Action(models.TextChoices):
        DISPATCH = "dispatch", "Tier dispatched"
        MEASURE = "measure", "Response measured"
        ESCALATE = "escalate", "Escalated"
        MET = "met", "Target met"
        EXHAUSTED = "exhausted", "Tiers exhausted"
        HALTED = "halted", "Halted by emergency stop"

    cascade = models.ForeignKey(Cascade, on_delete=models.CASCADE, related_name="steps")
    tier = models.PositiveSmallIntegerField()
    action = models.CharField(max_length=16, choices=Action.choices)
    at = models.DateTimeField()
    dispatched_kw = models.DecimalField(max_digits=12, decimal_places=3, default=Decimal("0"))
    measured_kw = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    detail = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.cascade_id} tier {self.tier}: {self.action}"


class GridSignal(models.Model):
    """One value of the grid-signal feed an operator posts: price, forecast peak load or frequency."""

    class Kind(models.TextChoices):
        PRICE = "price", "Price ($/MWh)"
        FORECAST_LOAD = "forecast_load", "Forecast load (MW)"
        FREQUENCY = "frequency", "Frequency (Hz)"

    operator = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="grid_signals")
    zone = models.ForeignKey("accounts.GridZone", on_delete=models.PROTECT, related_name="grid_signals")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    at = models.DateTimeField()
    value = models.DecimalField(max_digits=14, decimal_places=4)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [models.UniqueConstraint(fields=["zone", "kind", "at"], name="grid_signal_unique")]

    def __str__(self) -> str:
        return f"{self.kind} {self.value} @ {self.at:%Y-%m-%d %H:%M}"


class TriggerRule(models.Model):
    """Fires a cascade when a grid signal crosses its threshold (price above, forecast above, frequency below)."""

    kind = models.CharField(max_length=16, choices=GridSignal.Kind.choices)
    zone = models.ForeignKey("accounts.GridZone", on_delete=models.PROTECT, related_name="trigger_rules")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="trigger_rules")
    threshold = models.DecimalField(max_digits=14, decimal_places=4)
    target_kw = models.DecimalField(max_digits=12, decimal_places=3)
    duration_minutes = models.PositiveIntegerField(default=60)
    lead_minutes = models.PositiveIntegerField(default=0, help_text="Event start after the signal's time.")
    active = models.BooleanField(default=True)
    operator = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="trigger_rules")

    def __str__(self) -> str:
        return f"{self.kind} rule {self.pk} in {self.zone_id}"

    def crossed(self, value: Decimal) -> bool:
        if self.kind == GridSignal.Kind.FREQUENCY:
            return value < self.threshold
        return value > self.threshold


class TriggerFiring(models.Model):
    """A rule fired by a signal (once per rule and signal)."""

    rule = models.ForeignKey(TriggerRule, on_delete=models.PROTECT, related_name="firings")
    signal = models.ForeignKey(GridSignal, on_delete=models.PROTECT, related_name="firings")
    cascade = models.ForeignKey(Cascade, null=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    detail = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "signal"], name="trigger_firing_unique")]

    def __str__(self) -> str:
        return f"Firing of rule {self.rule_id} by signal {self.signal_id}"
