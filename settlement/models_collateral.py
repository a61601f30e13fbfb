"""Collateral that backs orders and awards (ADR 0025): the per-organisation lock row, each award's collateral
settlement (verified, slashed or not, released) and each slash with its rule and numbers.

What is locked is derived, not stored twice: an open sell order locks its open kW x the FLEX per kW fixed on it
(``market.MarketOrder.collateral_per_kw``), an award of such an order locks its kW x the same rate until its
:class:`CollateralSettlement` exists (``settlement.services.collateral``)."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q


class CollateralAccount(models.Model):
    """One row per organisation with collateral: locked (``select_for_update``) by every change of what its
    stake backs — an order taking collateral, a stake released, a slash — so the same collateral never backs two
    things."""

    organisation = models.OneToOneField(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="collateral_account"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Collateral of {self.organisation_id}"


class CollateralSettlement(models.Model):
    """An award's collateral settled once its delivery was verified: slashed (the sum of its slashes) or not, and
    released (it no longer counts as locked)."""

    award = models.OneToOneField("market.Award", on_delete=models.PROTECT, related_name="collateral_settlement")
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    kw = models.DecimalField(max_digits=12, decimal_places=3)
    per_kw = models.DecimalField(max_digits=12, decimal_places=3)
    collateral = models.DecimalField(max_digits=18, decimal_places=2, help_text="kW x FLEX per kW, released.")
    slashed = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    events = models.PositiveIntegerField(help_text="Events (calls) of the award verified.")
    run = models.ForeignKey(
        "settlement.SettlementRun", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    settled_at = models.DateTimeField()

    class Meta:
        ordering = ["-settled_at", "-id"]

    def __str__(self) -> str:
        return f"Collateral of award {self.award_id} released ({self.slashed} slashed)"


class CollateralSlash(models.Model):
    """Collateral slashed for one under-delivered event of an award, by a named rule, with its numbers:
    ``amount = slashing_rate x collateral`` where ``collateral = award_kw x per_kw`` and the event delivered
    less than ``threshold x committed_kwh``."""

    class Rule(models.TextChoices):
        AWARD = "collateral-slash-award-1", "Under-delivery on a premium-market award"
        CALL = "collateral-slash-call-1", "Under-delivery on a called reservation"

    business_key = models.CharField(max_length=200, unique=True)
    rule = models.CharField(max_length=40, choices=Rule.choices)
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    award = models.ForeignKey("market.Award", on_delete=models.PROTECT, related_name="collateral_slashes")
    event = models.ForeignKey("activation.DREvent", on_delete=models.PROTECT, related_name="collateral_slashes")
    award_kw = models.DecimalField(max_digits=12, decimal_places=3)
    per_kw = models.DecimalField(max_digits=12, decimal_places=3)
    collateral = models.DecimalField(max_digits=18, decimal_places=2)
    committed_kwh = models.DecimalField(max_digits=14, decimal_places=4)
    delivered_kwh = models.DecimalField(max_digits=14, decimal_places=4)
    threshold = models.DecimalField(max_digits=18, decimal_places=6)
    slashing_rate = models.DecimalField(max_digits=18, decimal_places=6)
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    journal_entry = models.ForeignKey("settlement.JournalEntry", on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey(
        "settlement.SettlementRun", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["award", "event"], name="collateral_slash_once_per_event"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="collateral_slash_positive"),
        ]

    def __str__(self) -> str:
        return f"Slash {self.amount} of award {self.award_id}, event {self.event_id}"

    @property
    def memo(self) -> str:
        n = _plain
        return (
            f"{self.rule}: delivered {n(self.delivered_kwh)} kWh < {n(self.threshold)} x {n(self.committed_kwh)} kWh "
            f"committed; slash {n(self.slashing_rate)} x ({n(self.award_kw)} kW x {n(self.per_kw)} FLEX/kW = "
            f"{n(self.collateral)} FLEX) = {self.amount} FLEX"
        )


def _plain(x) -> str:
    """A number as people write it: no trailing zeros, no exponent (60, 0.5, 0.75)."""
    return f"{Decimal(x).normalize():f}" if x else "0"


__all__ = ["CollateralAccount", "CollateralSettlement", "CollateralSlash"]
