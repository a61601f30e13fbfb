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
        PENALTY_POOL = "penalty_pool", "Penalty pool"
        STAKING_POOL = "staking_pool", "Staking reward pool"
        REWARD_POOL = "reward_pool", "Reward pool"
        ROUNDING = "rounding", "Rounding"
        STAKED = "staked", "Staked (locked) tokens"
        RECEIVABLE = "receivable", "Participant receivable"
        WITHDRAWAL_PENDING = "withdrawal_pending", "Withdrawals pending on chain"
        BILL_PROTECTION_POOL = "bill_protection_pool", "Bill protection pool"
        CLAIMABLE = "claimable", "Tokens claimable on chain"
        CLAIMED = "claimed", "Tokens claimed on chain"

    code = models.CharField(max_length=120, unique=True)
    organisation = models.ForeignKey(
        "accounts.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_accounts"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    asset = models.CharField(max_length=16)
    allow_negative = models.BooleanField(default=False)
    balance = models.DecimalField(
        max_digits=24, decimal_places=4, default=0, help_text="Sum of the postings; kept by a database trigger."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "kind", "asset"], name="ledger_account_unique_owner_kind"),
            models.CheckConstraint(
                condition=Q(allow_negative=True) | Q(balance__gte=0), name="ledger_account_negative_only_if_allowed"
            ),
        ]

    def __str__(self) -> str:
        return self.code


class JournalEntry(models.Model):
    """A balanced set of postings, recorded once per business fact (``business_key``)."""

    business_key = models.CharField(max_length=200, unique=True)
    memo = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by")

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
        CAPACITY = "capacity", "Capacity payment"
        AVAILABILITY = "availability", "Availability reward (tokens)"
        AVAILABILITY_REWARD = "availability_reward", "Availability reward"
        ENERGY_CREDIT = "energy_credit", "Energy credit for shifted energy (tokens)"
        SHIFT_CREDIT = "shift_credit", "Energy credit for shifted energy"
        OVER_DELIVERY = "over_delivery", "Over-delivery bonus"
        PERFORMANCE_TOKEN = "performance_token", "Performance tokens"
        GOVERNANCE_TOKEN = "governance_token", "Governance tokens"
        CAPACITY_TOKEN = "capacity_token", "Capacity tokens"
        ENERGY_TOKEN = "energy_token", "Energy tokens for delivered energy"
        PENALTY = "penalty", "Penalty"
        AGGREGATOR_FEE = "aggregator_fee", "Aggregator fee"
        MEMBER_SHARE = "member_share", "Member share of portfolio revenue"
        PLATFORM_FEE = "platform_fee", "Platform fee"
        STAKING_REWARD = "staking_reward", "Staking reward"
        SLASHING = "slashing", "Stake slashed"
        BILL_PROTECTION = "bill_protection", "Bill protection top-up"
        ADJUSTMENT = "adjustment", "Dispute adjustment"

    business_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    payee = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="settlement_items")
    premise = models.ForeignKey("accounts.Premise", null=True, on_delete=models.PROTECT, related_name="+")
    event = models.ForeignKey("activation.DREvent", null=True, on_delete=models.PROTECT, related_name="settlements")
    award = models.ForeignKey("market.Award", null=True, on_delete=models.PROTECT, related_name="settlements")
    quantity_kwh = models.DecimalField(max_digits=14, decimal_places=4)
    price_per_mwh = models.DecimalField(max_digits=12, decimal_places=2)
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    currency = models.CharField(max_length=16, help_text="The fiat currency or the FLEX token of the item.")
    delivery_start = models.DateTimeField(help_text="Start of the delivery interval this item settles.")
    period = models.ForeignKey(SettlementPeriod, on_delete=models.PROTECT, related_name="items")
    journal_entry = models.ForeignKey(
        JournalEntry,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="settlement_items",
        help_text="The entry that paid it; one entry may pay several items (a portfolio split).",
    )
    run = models.ForeignKey("SettlementRun", null=True, blank=True, on_delete=models.PROTECT, related_name="items")
    contract = models.ForeignKey(
        "ParticipationContract", null=True, blank=True, on_delete=models.PROTECT, related_name="items"
    )
    memo = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["payee", "delivery_start"], name="item_payee_delivery")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency} to {self.payee_id}"

    @property
    def amount_minor(self) -> int:
        return int(self.amount * 100)


class ChainDeployment(models.Model):
    """The anchoring contract deployed by the platform on one chain.

    A chain is known by its id and its genesis block's hash: a node restarted without its state (a development
    chain, a wiped test network) keeps the id but not the genesis, nor the contract. Such a deployment is marked
    lost (``lost_at``) and what was anchored there no longer counts as anchored."""

    chain_id = models.PositiveBigIntegerField()
    address = models.CharField(max_length=42)
    deploy_tx_hash = models.CharField(max_length=66, blank=True)
    deploy_block = models.PositiveBigIntegerField(null=True, blank=True)
    genesis_hash = models.CharField(max_length=66, blank=True, help_text="Hash of the chain's block 0.")
    rpc_url = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    lost_at = models.DateTimeField(null=True, blank=True)
    lost_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["chain_id", "address"],
                condition=Q(lost_at__isnull=True),
                name="deployment_unique_chain_address",
            )
        ]

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
        LOST = "lost", "Lost with its chain's deployment"

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
        DEPLOYMENT_LOST = "deployment_lost", "The chain lost the contract holding the root"

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


class SettlementRun(models.Model):
    """One settlement of a window ``[window_start, window_end)`` (a day, or any on-demand window).

    The row is the lock two workers take on the same window; re-running it counts an attempt and pays only
    what no earlier attempt paid (every item has a unique business key).
    """

    class Trigger(models.TextChoices):
        DAILY = "daily", "Daily schedule"
        ON_DEMAND = "on_demand", "On demand"
        EVENT = "event", "Event verified (ADR 0027)"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.ON_DEMAND)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    attempts = models.PositiveIntegerField(default=0)
    items_created = models.PositiveIntegerField(default=0, help_text="Items created by all attempts together.")
    last_attempt_items = models.PositiveIntegerField(default=0)
    totals = models.JSONField(default=dict, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-window_start"]
        constraints = [
            models.UniqueConstraint(fields=["window_start", "window_end"], name="settlement_run_unique_window"),
            models.CheckConstraint(condition=Q(window_end__gt=F("window_start")), name="settlement_run_window_order"),
        ]

    def __str__(self) -> str:
        return f"Run {self.window_start:%Y-%m-%d %H:%M}–{self.window_end:%H:%M} ({self.status})"


class AggregatorAgreement(models.Model):
    """The fee an aggregator keeps of its portfolio's revenue; the rest goes to its members."""

    aggregator = models.OneToOneField("accounts.Organisation", on_delete=models.PROTECT, related_name="fee_agreement")
    fee_percent = models.DecimalField(max_digits=5, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(fee_percent__gte=0, fee_percent__lte=100), name="agreement_fee_0_100")
        ]

    def __str__(self) -> str:
        return f"{self.aggregator} keeps {self.fee_percent} %"


class ParticipationContract(models.Model):
    """A capacity (reservation) contract between a grid operator and a participant (or an aggregator)."""

    participant = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="contracts")
    operator = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    premise = models.ForeignKey("accounts.Premise", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reserved_kw = models.DecimalField(max_digits=12, decimal_places=3)
    rate_per_kw_day = models.DecimalField(max_digits=12, decimal_places=4)
    start = models.DateTimeField()
    end = models.DateTimeField()
    premium = models.BooleanField(default=False, help_text="A premium-market contract: needs a stake, may be slashed.")
    bill_protection = models.BooleanField(default=False)
    tariff_per_kwh = models.DecimalField(max_digits=8, decimal_places=5, default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="contract_window_order"),
            models.CheckConstraint(condition=Q(reserved_kw__gt=0), name="contract_reserved_positive"),
        ]

    def __str__(self) -> str:
        return f"Contract {self.pk}: {self.reserved_kw} kW for {self.participant}"


class AuditRecord(models.Model):
    """Append-only audit trail of disputes, governance, staking and withdrawals."""

    actor = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    organisation = models.ForeignKey(
        "accounts.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=60)
    object_type = models.CharField(max_length=40)
    object_id = models.PositiveBigIntegerField()
    data = models.JSONField(default=dict)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object")]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}#{self.object_id}"


class Dispute(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        UPHELD = "upheld", "Upheld (adjusted)"
        REJECTED = "rejected", "Rejected"

    item = models.ForeignKey(SettlementItem, on_delete=models.PROTECT, related_name="disputes")
    raised_by = models.ForeignKey("auth.User", null=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    resolution = models.TextField(blank=True)
    adjustment_amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    adjustment_item = models.OneToOneField(
        SettlementItem, null=True, blank=True, on_delete=models.PROTECT, related_name="resolves"
    )
    resolved_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["item"], condition=Q(status="open"), name="dispute_one_open_per_item")
        ]

    def __str__(self) -> str:
        return f"Dispute {self.pk} on item {self.item_id} ({self.status})"


class Stake(models.Model):
    class Status(models.TextChoices):
        LOCKED = "locked", "Locked"
        RELEASED = "released", "Released"

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="stakes")
    asset = models.CharField(max_length=16)
    amount = models.DecimalField(max_digits=18, decimal_places=2, help_text="Still staked (after slashing).")
    locked_from = models.DateTimeField()
    locked_until = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.LOCKED)
    business_key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="stake_amount_non_negative"),
            models.CheckConstraint(condition=Q(locked_until__gt=F("locked_from")), name="stake_lock_order"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.asset} staked by {self.organisation_id}"


class Proposal(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Voting"
        PASSED = "passed", "Passed"
        REJECTED = "rejected", "Rejected"
        EXECUTED = "executed", "Executed"

    parameter = models.CharField(max_length=60)
    new_value = models.DecimalField(max_digits=18, decimal_places=6)
    old_value = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    rationale = models.TextField(blank=True)
    proposer = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    voting_starts = models.DateTimeField()
    voting_ends = models.DateTimeField()
    quorum_weight = models.DecimalField(
        max_digits=18, decimal_places=2, default=0, help_text="Weight needed, fixed when voting opens."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    weight_for = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    weight_against = models.DecimalField(max_digits=18, decimal_places=2, default=0)
    tallied_at = models.DateTimeField(null=True, blank=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.CheckConstraint(condition=Q(voting_ends__gt=F("voting_starts")), name="proposal_window")]

    def __str__(self) -> str:
        return f"Proposal {self.pk}: {self.parameter} -> {self.new_value} ({self.status})"


class Vote(models.Model):
    proposal = models.ForeignKey(Proposal, on_delete=models.PROTECT, related_name="votes")
    voter = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    support = models.BooleanField()
    weight = models.DecimalField(max_digits=18, decimal_places=2)
    cast_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["proposal", "voter"], name="vote_once_per_proposal")]

    def __str__(self) -> str:
        return f"{self.voter_id} {'for' if self.support else 'against'} {self.proposal_id} ({self.weight})"


class WalletLink(models.Model):
    organisation = models.OneToOneField("accounts.Organisation", on_delete=models.PROTECT, related_name="wallet")
    address = models.CharField(max_length=42)
    linked_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.address


class Withdrawal(models.Model):
    """Tokens leaving the platform for the linked wallet: pending until a later issue sends them on chain."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending on-chain transfer"
        SENT = "sent", "Sent"

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="withdrawals")
    asset = models.CharField(max_length=16)
    amount = models.DecimalField(max_digits=18, decimal_places=2)
    to_address = models.CharField(max_length=42)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    business_key = models.CharField(max_length=200, unique=True)
    journal_entry = models.OneToOneField(JournalEntry, on_delete=models.PROTECT, related_name="+")
    tx_hash = models.CharField(max_length=66, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="withdrawal_positive")]

    def __str__(self) -> str:
        return f"{self.amount} {self.asset} to {self.to_address} ({self.status})"


class RewardShortfall(models.Model):
    """What a reward pool could not pay: the pool was short, so the day's rewards were paid pro rata.

    One row per (reward, contract, day) that was paid less than owed, kept for the operator to top up the pool
    and for the participant's record; the amount is not paid later by itself."""

    business_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, help_text="The item kind the reward was paid as.")
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    contract = models.ForeignKey(ParticipationContract, null=True, on_delete=models.PROTECT, related_name="+")
    day = models.DateField()
    currency = models.CharField(max_length=16)
    owed = models.DecimalField(max_digits=18, decimal_places=2)
    paid = models.DecimalField(max_digits=18, decimal_places=2)
    shortfall = models.DecimalField(max_digits=18, decimal_places=2)
    pool_balance = models.DecimalField(
        max_digits=18, decimal_places=2, help_text="What the pool held for the whole day's rewards."
    )
    run = models.ForeignKey(SettlementRun, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-day", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(shortfall=F("owed") - F("paid")), name="shortfall_owed_less_paid"),
            models.CheckConstraint(condition=Q(shortfall__gt=0), name="shortfall_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.day}: {self.paid} of {self.owed} {self.currency} to {self.organisation_id}"


from settlement.models_claims import ClaimEpoch, ClaimLeaf, TokenClaim, TokenDeployment  # noqa: E402,F401
from settlement.models_collateral import *  # noqa: E402,F401,F403
from settlement.models_coverage import *  # noqa: E402,F401,F403
from settlement.models_payouts import *  # noqa: E402,F401,F403
from settlement.models_protection import BillProtectionEnrolment, BillProtectionMonth, PremiseTariff  # noqa: E402,F401
