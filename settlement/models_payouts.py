"""Fiat payouts: a participant's bank account, the payout runs exported as ISO 20022 pain.001 credit transfers,
each payout, and the bank's confirmations (camt.054) that mark them paid (ADR 0027)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

__all__ = ["BankAccount", "Payout", "PayoutConfirmation", "PayoutRun"]


class BankAccount(models.Model):
    """Where a participant's fiat is paid: IBAN (ISO 13616, checked) and BIC (ISO 9362, checked)."""

    organisation = models.OneToOneField("accounts.Organisation", on_delete=models.PROTECT, related_name="bank_account")
    holder_name = models.CharField(max_length=70, help_text="Creditor name (pain.001 Cdtr/Nm, at most 70).")
    iban = models.CharField(max_length=34, help_text="Stored in electronic form, without spaces.")
    bic = models.CharField(max_length=11)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.holder_name} {self.iban}"


class PayoutRun(models.Model):
    """One pain.001 file: the payouts of every participant owed fiat at the time the run was created.

    The file is built once and kept: every download is the same bytes with the same message id (a bank refuses
    a second file with a known MsgId, so a file uploaded twice pays nothing twice)."""

    message_id = models.CharField(max_length=35, unique=True, help_text="GrpHdr/MsgId of the pain.001 file.")
    currency = models.CharField(max_length=3)
    execution_date = models.DateField(help_text="ReqdExctnDt: the day the bank is asked to execute.")
    schema = models.CharField(max_length=20, default="pain.001.001.03")
    payouts_count = models.PositiveIntegerField(default=0)
    total = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    skipped = models.JSONField(default=list, blank=True, help_text="Payees owed fiat left out, with the reason.")
    document = models.BinaryField(help_text="The pain.001 XML, validated against the official XSD when built.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Payout run {self.pk}: {self.payouts_count} payouts, {self.total} {self.currency}"

    @property
    def filename(self) -> str:
        return f"pain001-{self.message_id}.xml"


class Payout(models.Model):
    """One credit transfer to one participant. ``exported`` once in a run's file, ``paid`` only when the bank
    confirms it (camt.054) or finance confirms it by hand; never paid twice."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        EXPORTED = "exported", "Exported to the bank"
        PAID = "paid", "Paid"

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="payouts")
    run = models.ForeignKey(PayoutRun, null=True, blank=True, on_delete=models.PROTECT, related_name="payouts")
    end_to_end_id = models.CharField(max_length=35, unique=True, help_text="PmtId/EndToEndId in pain.001 and camt.054.")
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    currency = models.CharField(max_length=3)
    iban = models.CharField(max_length=34)
    bic = models.CharField(max_length=11)
    holder_name = models.CharField(max_length=70)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reserve_entry = models.OneToOneField(
        "settlement.JournalEntry", on_delete=models.PROTECT, related_name="+", help_text="participant -> pending"
    )
    paid_entry = models.OneToOneField(
        "settlement.JournalEntry",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="pending -> paid out, posted on confirmation",
    )
    bank_reference = models.CharField(max_length=35, blank=True, help_text="The camt.054 entry's NtryRef/AcctSvcrRef.")
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payout_positive"),
            models.CheckConstraint(
                condition=~Q(status="paid") | Q(paid_entry__isnull=False, paid_at__isnull=False),
                name="payout_paid_has_entry",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.end_to_end_id}: {self.amount} {self.currency} ({self.status})"


class PayoutConfirmation(models.Model):
    """One camt.054 file (or one manual confirmation) imported: what it confirmed and each entry it refused."""

    class Source(models.TextChoices):
        CAMT054 = "camt054", "camt.054 debit notification"
        MANUAL = "manual", "Manual confirmation"

    source = models.CharField(max_length=16, choices=Source.choices)
    message_id = models.CharField(max_length=35, blank=True, help_text="The camt.054 GrpHdr/MsgId.")
    filename = models.CharField(max_length=200, blank=True)
    confirmed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="[{entry, end_to_end_id, error}] per refused entry.")
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.message_id}: {self.confirmed} confirmed, {len(self.errors)} refused"
