"""Which verified events a window's settlement run has settled: the marker that makes a repeated event task free.

A verified event is settled in the 5-minute window holding its start (its event items) and, for a load-shifting
resource, in the window holding its nominal recovery end (its energy credit; :mod:`settlement.services.shifting`).
The run of a window writes one row per verification it settled conclusively in that role, in the run's own
transaction: the event task of a verification already covered runs nothing (issue #21: without the marker an
event that left no item to recognise, an unpaid event or a shifting device with no rebound, re-ran its whole
window, so a window's cost grew with the square of its events). Money is still paid exactly once by the journal
entries' business keys (ADR 0008); this row only saves work.
"""

from __future__ import annotations

from django.db import models

__all__ = ["SettlementCoverage"]


class SettlementCoverage(models.Model):
    """One verification settled by one run in one role (its event's window, or its recovery window)."""

    class Role(models.TextChoices):
        EVENT = "event", "Event items (window holding the event's start)"
        RECOVERY = "recovery", "Energy credit (window holding the nominal recovery end)"

    run = models.ForeignKey("settlement.SettlementRun", on_delete=models.CASCADE, related_name="coverage")
    verification = models.ForeignKey(
        "activation.EventVerification", on_delete=models.CASCADE, related_name="settlement_coverage"
    )
    role = models.CharField(max_length=8, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["verification", "role"], name="settlement_coverage_unique_role"),
        ]

    def __str__(self) -> str:
        return f"Verification {self.verification_id} settled by run {self.run_id} ({self.role})"
