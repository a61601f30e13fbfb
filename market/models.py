"""Flexibility offers, operator requests, clearing runs and awards."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q


class FlexibilityOffer(models.Model):
    """A seller's offer to reduce a premise's load by ``kw`` over a window at ``price_per_mwh`` or more."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        AWARDED = "awarded", "Awarded"
        PARTIALLY_AWARDED = "partially_awarded", "Partially awarded"
        NOT_AWARDED = "not_awarded", "Not awarded"
        CANCELLED = "cancelled", "Cancelled"

    seller = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="offers")
    premise = models.ForeignKey("accounts.Premise", on_delete=models.PROTECT, related_name="offers")
    zone = models.ForeignKey("accounts.GridZone", on_delete=models.PROTECT, related_name="offers")
    kw = models.DecimalField(max_digits=12, decimal_places=3)
    price_per_mwh = models.DecimalField(max_digits=12, decimal_places=2)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    created_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["window_start", "price_per_mwh", "created_at", "id"]
        indexes = [models.Index(fields=["zone", "status", "window_start"], name="offer_zone_status_start")]
        constraints = [
            models.CheckConstraint(condition=Q(kw__gt=0), name="offer_kw_positive"),
            models.CheckConstraint(condition=Q(price_per_mwh__gte=0), name="offer_price_non_negative"),
            models.CheckConstraint(condition=Q(window_end__gt=F("window_start")), name="offer_window_order"),
        ]

    def __str__(self) -> str:
        return f"Offer {self.pk}: {self.kw} kW @ {self.price_per_mwh}/MWh"


class FlexibilityRequest(models.Model):
    """A grid operator's request for ``kw`` of load reduction in a zone, paying at most ``max_price_per_mwh``."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLEARED = "cleared", "Cleared"
        CANCELLED = "cancelled", "Cancelled"

    operator = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="flex_requests")
    zone = models.ForeignKey("accounts.GridZone", on_delete=models.PROTECT, related_name="flex_requests")
    kw = models.DecimalField(max_digits=12, decimal_places=3)
    max_price_per_mwh = models.DecimalField(max_digits=12, decimal_places=2)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    created_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["window_start", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(kw__gt=0), name="request_kw_positive"),
            models.CheckConstraint(condition=Q(max_price_per_mwh__gte=0), name="request_price_non_negative"),
            models.CheckConstraint(condition=Q(window_end__gt=F("window_start")), name="request_window_order"),
        ]

    def __str__(self) -> str:
        return f"Request {self.pk}: {self.kw} kW in {self.zone_id}"


class ClearingRun(models.Model):
    """One clearing of a request: its inputs, outputs and rule version, re-runnable to the same result."""

    request = models.OneToOneField(FlexibilityRequest, on_delete=models.PROTECT, related_name="clearing_run")
    rule_version = models.CharField(max_length=40)
    clearing_price_per_mwh = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    awarded_kw = models.DecimalField(max_digits=12, decimal_places=3)
    inputs = models.JSONField()
    outputs = models.JSONField()
    cleared_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Clearing of request {self.request_id}"


class Award(models.Model):
    """The part of an offer accepted against a request, at the uniform clearing price."""

    clearing_run = models.ForeignKey(ClearingRun, on_delete=models.PROTECT, related_name="awards")
    request = models.ForeignKey(FlexibilityRequest, on_delete=models.PROTECT, related_name="awards")
    offer = models.ForeignKey(FlexibilityOffer, on_delete=models.PROTECT, related_name="awards")
    premise = models.ForeignKey("accounts.Premise", on_delete=models.PROTECT, related_name="awards")
    seller = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="awards")
    kw = models.DecimalField(max_digits=12, decimal_places=3)
    clearing_price_per_mwh = models.DecimalField(max_digits=12, decimal_places=2)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["window_start", "id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "offer"], name="award_unique_request_offer"),
            models.CheckConstraint(condition=Q(kw__gt=0), name="award_kw_positive"),
        ]

    def __str__(self) -> str:
        return f"Award {self.pk}: {self.kw} kW @ {self.clearing_price_per_mwh}/MWh"
