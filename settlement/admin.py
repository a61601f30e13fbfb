from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm

from .models import (
    AnchorAlert,
    AnchorTransaction,
    ChainAccount,
    ChainDeployment,
    JournalEntry,
    LedgerAccount,
    PeriodAnchor,
    Posting,
    RewardShortfall,
    SettlementItem,
    SettlementPeriod,
)
from .services.alerts import anchor_alerts_resolve


class ReadOnlyAdmin(admin.ModelAdmin):
    """The ledger is append-only: the admin shows it but never edits or deletes it."""

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(LedgerAccount)
class LedgerAccountAdmin(admin.ModelAdmin):
    list_display = ["code", "organisation", "kind", "asset", "allow_negative", "balance"]
    readonly_fields = ["balance"]
    list_filter = ["kind", "asset"]
    search_fields = ["code", "organisation__name"]


class PostingInline(admin.TabularInline):
    model = Posting
    extra = 0
    can_delete = False
    readonly_fields = ["account", "asset", "amount"]


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ["business_key", "memo", "created_at", "reverses"]
    search_fields = ["business_key", "memo"]
    inlines = [PostingInline]


@admin.register(Posting)
class PostingAdmin(ReadOnlyAdmin):
    list_display = ["entry", "account", "asset", "amount"]
    list_filter = ["asset", "account__kind"]
    search_fields = ["account__code", "entry__business_key"]


@admin.register(SettlementPeriod)
class SettlementPeriodAdmin(admin.ModelAdmin):
    list_display = ["start", "end", "sealed_at"]
    date_hierarchy = "start"


@admin.register(SettlementItem)
class SettlementItemAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "payee", "premise", "quantity_kwh", "price_per_mwh", "amount", "currency", "period"]
    list_filter = ["kind", "currency"]
    search_fields = ["business_key", "payee__name"]


class AnchorTransactionInline(admin.TabularInline):
    model = AnchorTransaction
    extra = 0
    can_delete = False
    fields = ["kind", "nonce", "tx_hash", "max_fee_per_gas", "max_priority_fee_per_gas", "gas", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PeriodAnchor)
class PeriodAnchorAdmin(admin.ModelAdmin):
    inlines = [AnchorTransactionInline]
    list_display = ["period", "leaf_count", "root", "status", "tx_hash", "block_number", "gas_used"]
    list_filter = ["status"]
    search_fields = ["root", "tx_hash"]
    exclude = ["tree_dump", "raw_tx"]
    readonly_fields = [
        "period",
        "root",
        "leaf_count",
        "deployment",
        "nonce",
        "tx_hash",
        "block_number",
        "block_hash",
        "gas_used",
    ]


class ChainRowAdmin(ReadOnlyAdmin):
    """Chain deployments and accounts (contract address, next nonce) are written only by the anchoring services:
    the admin shows them and changes nothing (a hand-edited nonce or address would break anchoring)."""


@admin.register(ChainDeployment)
class ChainDeploymentAdmin(ChainRowAdmin):
    list_display = ["address", "chain_id", "rpc_url", "created_at"]
    list_filter = ["chain_id"]


@admin.register(ChainAccount)
class ChainAccountAdmin(ChainRowAdmin):
    list_display = ["address", "chain_id", "next_nonce"]


class AlertResolveForm(ActionForm):
    reason = forms.CharField(required=False, label="Resolution", widget=forms.TextInput(attrs={"size": 50}))


@admin.register(AnchorAlert)
class AnchorAlertAdmin(ReadOnlyAdmin):
    """Integrity alerts of anchored periods (raised by the audit and the anchoring pipeline); resolved only
    through :func:`settlement.services.alerts.anchor_alert_resolve`, with a reason in the audit trail."""

    list_display = ["created_at", "kind", "anchor", "detail", "last_seen_at", "resolved_at"]
    list_filter = ["kind", ("resolved_at", admin.EmptyFieldListFilter)]
    readonly_fields = ["anchor", "kind", "detail", "created_at", "last_seen_at", "resolved_at"]
    actions = ["mark_resolved"]
    action_form = AlertResolveForm

    @admin.action(description="Mark selected alerts resolved (give the resolution)")
    def mark_resolved(self, request, queryset):
        done, refused = anchor_alerts_resolve(
            alert_ids=list(queryset.values_list("pk", flat=True)),
            by=request.user,
            reason=request.POST.get("reason", ""),
        )
        if done:
            self.message_user(request, f"{done} alert(s) resolved.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.ERROR)


from .models import (  # noqa: E402 - the compensation models, registered after the foundation's
    AggregatorAgreement,
    AuditRecord,
    Dispute,
    ParticipationContract,
    Proposal,
    SettlementRun,
    Stake,
    Vote,
    WalletLink,
    Withdrawal,
)


@admin.register(SettlementRun)
class SettlementRunAdmin(ReadOnlyAdmin):
    list_display = ["window_start", "window_end", "trigger", "status", "attempts", "items_created", "finished_at"]
    list_filter = ["status", "trigger"]


@admin.register(ParticipationContract)
class ParticipationContractAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "participant",
        "operator",
        "premise",
        "reserved_kw",
        "rate_per_kw_day",
        "premium",
        "bill_protection",
        "start",
        "end",
    ]
    list_filter = ["premium", "bill_protection"]


@admin.register(AggregatorAgreement)
class AggregatorAgreementAdmin(admin.ModelAdmin):
    list_display = ["aggregator", "fee_percent"]


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin):
    """Resolved through the settlement console or the API (which post the adjustment), never edited here."""

    list_display = ["id", "item", "status", "reason", "adjustment_amount", "created_at", "resolved_at"]
    list_filter = ["status"]


@admin.register(Stake)
class StakeAdmin(ReadOnlyAdmin):
    list_display = ["organisation", "asset", "amount", "locked_from", "locked_until", "status"]
    list_filter = ["asset", "status"]


class VoteInline(admin.TabularInline):
    model = Vote
    extra = 0
    can_delete = False
    readonly_fields = ["voter", "support", "weight", "cast_at"]


@admin.register(Proposal)
class ProposalAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "parameter",
        "old_value",
        "new_value",
        "status",
        "weight_for",
        "weight_against",
        "quorum_weight",
        "voting_ends",
    ]
    list_filter = ["status", "parameter"]
    inlines = [VoteInline]


@admin.register(AuditRecord)
class AuditRecordAdmin(ReadOnlyAdmin):
    list_display = ["at", "action", "object_type", "object_id", "organisation", "actor"]
    list_filter = ["action", "object_type"]


@admin.register(WalletLink)
class WalletLinkAdmin(ReadOnlyAdmin):
    list_display = ["organisation", "address", "linked_at"]


@admin.register(Withdrawal)
class WithdrawalAdmin(ReadOnlyAdmin):
    list_display = ["organisation", "asset", "amount", "to_address", "status", "created_at"]
    list_filter = ["status", "asset"]


@admin.register(RewardShortfall)
class RewardShortfallAdmin(ReadOnlyAdmin):
    """Rewards a short pool paid pro rata: what each was owed, paid, and is short."""

    list_display = ["day", "kind", "organisation", "contract", "owed", "paid", "shortfall", "pool_balance", "run"]
    list_filter = ["kind", "day"]
    search_fields = ["organisation__name", "business_key"]


from settlement import admin_protection  # noqa: E402,F401  (bill protection, ADR 0026)

from .models_payouts import BankAccount, Payout, PayoutConfirmation, PayoutRun  # noqa: E402 - ADR 0027


@admin.register(BankAccount)
class BankAccountAdmin(ReadOnlyAdmin):
    """Changed only by the participant through ``bank_account_set`` (IBAN/BIC checked)."""

    list_display = ["organisation", "holder_name", "iban", "bic", "updated_at"]
    search_fields = ["organisation__name", "iban"]


@admin.register(PayoutRun)
class PayoutRunAdmin(ReadOnlyAdmin):
    """Created, downloaded and confirmed in the portal's payout console (``/payouts/console/``)."""

    list_display = ["id", "message_id", "execution_date", "payouts_count", "total", "currency", "created_at"]
    exclude = ["document"]


@admin.register(Payout)
class PayoutAdmin(ReadOnlyAdmin):
    list_display = ["end_to_end_id", "organisation", "amount", "currency", "status", "bank_reference", "paid_at"]
    list_filter = ["status"]
    search_fields = ["end_to_end_id", "organisation__name", "bank_reference"]


@admin.register(PayoutConfirmation)
class PayoutConfirmationAdmin(ReadOnlyAdmin):
    list_display = ["id", "source", "message_id", "filename", "confirmed", "created_at"]


from .models_claims import ClaimEpoch, TokenClaim, TokenDeployment  # noqa: E402 - FLEX tokens on chain (ADR 0023)


@admin.register(TokenDeployment)
class TokenDeploymentAdmin(ReadOnlyAdmin):
    list_display = ["chain_id", "address", "deploy_block", "scanned_block", "lost_at"]


@admin.register(ClaimEpoch)
class ClaimEpochAdmin(ReadOnlyAdmin):
    list_display = ["number", "status", "leaf_count", "root", "tx_hash", "block_number", "gas_used", "confirmed_at"]
    list_filter = ["status"]
    exclude = ["tree_dump", "raw_tx"]


@admin.register(TokenClaim)
class TokenClaimAdmin(ReadOnlyAdmin):
    list_display = ["organisation", "address", "token_id", "amount", "tx_hash", "block_number", "status"]
    list_filter = ["status", "token_id"]
