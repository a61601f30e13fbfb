"""Interval meter data, baselines and assessed flexible capacity."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class MeterReading(models.Model):
    """Energy through a meter over one interval ``[start, start + interval)``, in kWh; ``start`` is aware UTC.

    The table is keyed and always read by ``(meter, start)``, so it can be range-partitioned by ``start``
    in Postgres without changing the code that reads it.
    """

    meter = models.ForeignKey("accounts.Meter", on_delete=models.PROTECT, related_name="readings")
    start = models.DateTimeField()
    kwh = models.DecimalField(max_digits=12, decimal_places=4)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["meter", "start"], name="reading_unique_meter_start"),
            models.CheckConstraint(condition=Q(kwh__gte=0), name="reading_kwh_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.meter_id}@{self.start:%Y-%m-%d %H:%M}: {self.kwh} kWh"


class Baseline(models.Model):
    """The counterfactual load of a meter over a window: what it would have used without an event."""

    meter = models.ForeignKey("accounts.Meter", on_delete=models.PROTECT, related_name="baselines")
    method = models.CharField(max_length=40)
    parameters = models.JSONField(default=dict)
    days_used = models.JSONField(default=list, help_text="The local dates the baseline averaged, oldest first.")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    total_kwh = models.DecimalField(max_digits=14, decimal_places=4)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-computed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["meter", "method", "window_start", "window_end"], name="baseline_unique_meter_method_window"
            ),
            models.CheckConstraint(condition=Q(window_end__gt=models.F("window_start")), name="baseline_window_order"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.meter_id} {self.window_start:%Y-%m-%d %H:%M}"


class BaselineInterval(models.Model):
    baseline = models.ForeignKey(Baseline, on_delete=models.CASCADE, related_name="intervals")
    start = models.DateTimeField()
    kwh = models.DecimalField(max_digits=12, decimal_places=4)

    class Meta:
        ordering = ["start"]
        constraints = [
            models.UniqueConstraint(fields=["baseline", "start"], name="baseline_interval_unique_start"),
        ]

    def __str__(self) -> str:
        return f"{self.start:%H:%M} {self.kwh} kWh"


class FlexibilityAssessment(models.Model):
    """The flexible capacity (kW) a premise can offer over a window, and how it was derived."""

    premise = models.ForeignKey("accounts.Premise", on_delete=models.PROTECT, related_name="assessments")
    baseline = models.ForeignKey(Baseline, on_delete=models.PROTECT, related_name="assessments")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    baseline_kw = models.DecimalField(max_digits=12, decimal_places=3)
    capacity_kw = models.DecimalField(max_digits=12, decimal_places=3)
    method = models.CharField(max_length=40)
    assessed_at = models.DateTimeField()

    class Meta:
        ordering = ["-assessed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["premise", "window_start", "window_end"], name="assessment_unique_premise_window"
            ),
            models.CheckConstraint(condition=Q(capacity_kw__gte=0), name="assessment_capacity_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.premise} {self.capacity_kw} kW"
