"""An aggregator's commercial terms (published, versioned, never edited) and the terms a consent accepted.

The terms say what the aggregator keeps of the market revenue a member's resource earns (a share of revenue
and/or a fee per kW-month of capacity held), what share of a portfolio order's penalties the member bears
(the aggregator bears the rest), and how often the member is paid. The owner sees them when consenting; the
consent records the version accepted (:class:`ConsentTerms`), and settlement applies that version to every
award the aggregator sells with the premise (``settlement.services.splits``, ADR 0024).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class CommercialTerms(models.Model):
    """One version of an aggregator's terms. A change is a new version; a version accepted by a consent stays."""

    class Frequency(models.TextChoices):
        PER_SETTLEMENT = "per_settlement", "After every settlement run"
        WEEKLY = "weekly", "Weekly"
        MONTHLY = "monthly", "Monthly"

    aggregator = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="commercial_terms")
    version = models.PositiveIntegerField()
    revenue_share_pct = models.DecimalField(
        max_digits=5, decimal_places=2, help_text="The aggregator's fee: % of each award's revenue."
    )
    fee_per_kw_month = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        default=0,
        help_text="The aggregator's fee per kW-month of capacity held (reservations), in the settlement currency.",
    )
    member_penalty_pct = models.DecimalField(
        max_digits=5, decimal_places=2, help_text="% of a portfolio order's penalties the member bears."
    )
    payment_frequency = models.CharField(max_length=16, choices=Frequency.choices, default=Frequency.MONTHLY)
    summary = models.CharField(max_length=300, blank=True)
    published_at = models.DateTimeField()
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["aggregator_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["aggregator", "version"], name="terms_unique_aggregator_version"),
            models.CheckConstraint(
                condition=Q(revenue_share_pct__gte=0, revenue_share_pct__lte=100), name="terms_share_0_100"
            ),
            models.CheckConstraint(
                condition=Q(member_penalty_pct__gte=0, member_penalty_pct__lte=100), name="terms_penalty_0_100"
            ),
            models.CheckConstraint(condition=Q(fee_per_kw_month__gte=0), name="terms_kw_fee_non_negative"),
        ]

    def __str__(self) -> str:
        return f"Terms v{self.version} of {self.aggregator_id}"

    @property
    def aggregator_penalty_pct(self):
        return 100 - self.member_penalty_pct


class ConsentTerms(models.Model):
    """The terms version a consent accepted, recorded with it (one per consent)."""

    consent = models.OneToOneField("accounts.Consent", on_delete=models.PROTECT, related_name="accepted_terms")
    terms = models.ForeignKey(CommercialTerms, on_delete=models.PROTECT, related_name="acceptances")
    accepted_at = models.DateTimeField()

    class Meta:
        ordering = ["-accepted_at", "-id"]

    def __str__(self) -> str:
        return f"Consent {self.consent_id} accepted terms {self.terms_id}"
