"""The double-entry ledger, settlement items, and the hourly Merkle anchors of those items on chain."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q


class LedgerAccount(models.Model):
    """An account in one asset. Participants' accounts hold what the platform owes them."""

    class Kind(models.TextChoices):
        PARTICIPANT = "participant", "Participant"
        OPERATOR_PAYABLE = "operator_payable", "Grid operator payable"
        TREASURY = "treasury", "Treasury"
        FEES = "fees", "Fees"
        STAKED = "staked", "Staked collateral"

    code = models.CharField(max_length=120, unique=True)
    organisation = models.ForeignKey(
        "accounts.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_accounts"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    asset = models.CharField(max_length=16)
    allow_negative = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "kind", "asset"], name="ledger_account_unique_owner_kind"),
        ]

    def __str__(self) -> str:
        return self.code


class JournalEntry(models.Model):
    """A balanced set of postings, recorded once per business fact (``business_key``)."""

    business_key = models.CharField(max_length=200, unique=True)
    memo = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "journal entries"

    def __str__(self) -> str:
        return self.business_key


class Posting(models.Model):
    """One leg of a journal entry. Append-only: the database refuses UPDATE and DELETE."""

    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="postings")
    asset = models.CharField(max_length=16)
    amount = models.DecimalField(max_digits=20, decimal_places=4)

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="posting_amount_non_zero")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount} {self.asset}"


class SettlementPeriod(models.Model):
    """One hour of settlement items, hashed into one Merkle root. Once sealed, no item joins it."""

    start = models.DateTimeField(unique=True)
    end = models.DateTimeField()
    sealed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["start"]
        constraints = [models.CheckConstraint(condition=Q(end__gt=F("start")), name="period_window_order")]

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M}Z"


class SettlementItem(models.Model):
    """One payment line: what a participant is owed for one business fact in one period."""

    class Kind(models.TextChoices):
        PERFORMANCE = "performance", "Performance payment"

    business_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    payee = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="settlement_items")
    premise = models.ForeignKey("accounts.Premise", null=True, on_delete=models.PROTECT, related_name="+")
    event = models.ForeignKey("activation.DREvent", null=True, on_delete=models.PROTECT, related_name="settlements")
    award = models.ForeignKey("market.Award", null=True, on_delete=models.PROTECT, related_name="settlements")
    quantity_kwh = models.DecimalField(max_digits=14, decimal_places=4)
    price_per_mwh = models.DecimalField(max_digits=12, decimal_places=2)
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    currency = models.CharField(max_length=3)
    delivery_start = models.DateTimeField(help_text="Start of the delivery interval this item settles.")
    period = models.ForeignKey(SettlementPeriod, on_delete=models.PROTECT, related_name="items")
    journal_entry = models.OneToOneField(
        JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="settlement_item"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency} to {self.payee_id}"

    @property
    def amount_minor(self) -> int:
        return int(self.amount * 100)


class ChainDeployment(models.Model):
    """The anchoring contract deployed by the platform on one chain."""

    chain_id = models.PositiveBigIntegerField()
    address = models.CharField(max_length=42)
    deploy_tx_hash = models.CharField(max_length=66, blank=True)
    rpc_url = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["chain_id", "address"], name="deployment_unique_chain_address")]

    def __str__(self) -> str:
        return f"{self.address} on chain {self.chain_id}"


class PeriodAnchor(models.Model):
    """The Merkle root of a sealed period and the transaction that anchored it."""

    class Status(models.TextChoices):
        BUILT = "built", "Root built"
        SIGNED = "signed", "Transaction signed"
        SUBMITTED = "submitted", "Submitted"
        CONFIRMED = "confirmed", "Confirmed"
        FAILED = "failed", "Failed"

    period = models.OneToOneField(SettlementPeriod, on_delete=models.PROTECT, related_name="anchor")
    root = models.CharField(max_length=66)
    leaf_count = models.PositiveIntegerField()
    tree_dump = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BUILT)
    deployment = models.ForeignKey(ChainDeployment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    nonce = models.PositiveBigIntegerField(null=True, blank=True)
    raw_tx = models.TextField(blank=True)
    tx_hash = models.CharField(max_length=66, blank=True)
    block_number = models.PositiveBigIntegerField(null=True, blank=True)
    block_hash = models.CharField(max_length=66, blank=True)
    gas_used = models.PositiveBigIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["period__start"]

    def __str__(self) -> str:
        return f"Anchor {self.period} {self.root[:10]}… ({self.status})"


class ChainAccount(models.Model):
    """The platform's signing account on one chain. Its row is the lock that serialises nonces."""

    chain_id = models.PositiveBigIntegerField()
    address = models.CharField(max_length=42)
    next_nonce = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain_id", "address"], name="chain_account_unique")]

    def __str__(self) -> str:
        return f"{self.address} on chain {self.chain_id}"


# --- Anchoring: transactions, replacements and audit alerts (issue 8) ------------------------------------


class AnchorTransaction(models.Model):
    """Every signed anchoring transaction of a period, stored before it is broadcast.

    A fee replacement is a second row with the SAME nonce and higher fees; a re-submission after a
    reorganisation or a revert is a row with a new nonce. Whichever transaction is mined wins
    (``PeriodAnchor.tx_hash`` then points at it)."""

    class Kind(models.TextChoices):
        ORIGINAL = "original", "Original"
        FEE_REPLACEMENT = "fee_replacement", "Fee replacement (same nonce)"
        RESUBMISSION = "resubmission", "Re-submission (new nonce)"

    anchor = models.ForeignKey(PeriodAnchor, on_delete=models.PROTECT, related_name="transactions")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    chain_id = models.PositiveBigIntegerField()
    sender = models.CharField(max_length=42)
    nonce = models.PositiveBigIntegerField()
    tx_hash = models.CharField(max_length=66, unique=True)
    raw_tx = models.TextField()
    gas = models.PositiveBigIntegerField()
    max_fee_per_gas = models.PositiveBigIntegerField()
    max_priority_fee_per_gas = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["chain_id", "sender", "nonce"], name="anchor_tx_sender_nonce")]

    def __str__(self) -> str:
        return f"{self.tx_hash[:12]}… nonce {self.nonce} ({self.kind})"


class AnchorAlert(models.Model):
    """A problem with an anchored period that a person must look at (shown in the admin and the console).

    One open alert per (anchor, kind): re-running the audit does not pile up duplicates."""

    class Kind(models.TextChoices):
        DATABASE_CHANGED = "database_changed", "Settlement rows differ from the anchored root"
        CHAIN_MISMATCH = "chain_mismatch", "Chain holds a different root"
        MISSING_ON_CHAIN = "missing_on_chain", "Root missing on chain"
        LEAF_COUNT_MISMATCH = "leaf_count_mismatch", "Leaf count differs from the chain's event"
        ANCHOR_FAILED = "anchor_failed", "Anchoring failed"

    anchor = models.ForeignKey(PeriodAnchor, on_delete=models.PROTECT, related_name="alerts")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    detail = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["anchor", "kind"], condition=Q(resolved_at__isnull=True), name="anchor_alert_one_open_per_kind"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.anchor.period}"
