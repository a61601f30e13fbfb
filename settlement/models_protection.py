"""Bill protection: per-premise tariffs (data: flat or time-of-use), the consumer's opt-in, and the monthly
computation with its top-up (``settlement.services.protection``, ADR 0026)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class PremiseTariff(models.Model):
    """The retail tariff a premise pays its supplier from ``valid_from`` (a local date) until the next one
    (``settlement.tariffs``: ``kind`` flat or tou, ``rate`` the flat or base rate, ``periods`` the TOU periods)."""

    premise = models.ForeignKey("accounts.Premise", on_delete=models.PROTECT, related_name="tariffs")
    valid_from = models.DateField()
    kind = models.CharField(max_length=8, choices=[("flat", "Flat"), ("tou", "Time of use")])
    rate = models.DecimalField(max_digits=8, decimal_places=5, help_text="Per kWh: the flat rate or the TOU base rate.")
    periods = models.JSONField(default=list, blank=True, help_text='[{"days","from","to","rate"}] (TOU only).')
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["premise_id", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["premise", "valid_from"], name="tariff_one_per_premise_day"),
            models.CheckConstraint(condition=Q(rate__gte=0), name="tariff_rate_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.premise_id} from {self.valid_from}: {self.kind} {self.rate}"


class BillProtectionEnrolment(models.Model):
    """A premise's opt-in to bill protection (once per premise); it covers every month from ``covers_from``."""

    premise = models.OneToOneField("accounts.Premise", on_delete=models.PROTECT, related_name="bill_protection")
    opted_in_at = models.DateTimeField()
    opted_in_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    covers_from = models.DateField(help_text="First day of the first covered month (the month after opting in).")

    def __str__(self) -> str:
        return f"Bill protection of premise {self.premise_id} from {self.covers_from}"


class BillProtectionMonth(models.Model):
    """One covered month of one premise: the bill with participation against the bill without, and the top-up.

    with = tariff x metered load - platform payments - penalties; without = tariff x baseline load (the metered
    load with each event interval's verified baseline in place of its actual); top-up = max(with - without, 0)."""

    premise = models.ForeignKey("accounts.Premise", on_delete=models.PROTECT, related_name="bill_protection_months")
    month = models.DateField(help_text="First day of the (local) month.")
    tariffs = models.JSONField(default=list, help_text="The tariffs applied, as data, with their valid_from.")
    intervals = models.PositiveIntegerField(default=0, help_text="Metered intervals in the month.")
    metered_kwh = models.DecimalField(max_digits=14, decimal_places=4)
    baseline_kwh = models.DecimalField(max_digits=14, decimal_places=4)
    energy_with = models.DecimalField(max_digits=14, decimal_places=2, help_text="Tariff x metered load.")
    energy_without = models.DecimalField(max_digits=14, decimal_places=2, help_text="Tariff x baseline load.")
    payments = models.DecimalField(max_digits=14, decimal_places=2, help_text="Platform payments to the premise.")
    penalties = models.DecimalField(max_digits=14, decimal_places=2, help_text="Penalties (negative).")
    bill_with = models.DecimalField(max_digits=14, decimal_places=2)
    topup = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=16)
    item = models.OneToOneField(
        "settlement.SettlementItem", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-month", "premise_id"]
        constraints = [
            models.UniqueConstraint(fields=["premise", "month"], name="bill_protection_once_per_premise_month"),
            models.CheckConstraint(condition=Q(topup__gte=0), name="bill_protection_topup_non_negative"),
        ]

    def __str__(self) -> str:
        return f"Bill protection {self.premise_id} {self.month:%Y-%m}: {self.topup}"


__all__ = ["BillProtectionEnrolment", "BillProtectionMonth", "PremiseTariff"]
