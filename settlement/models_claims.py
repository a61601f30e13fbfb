"""FLEX tokens on chain: the token contract's deployment, claims epochs, their leaves and the claims seen on chain.

See :mod:`settlement.services.claims` (the workflow) and docs/adr/0023-flex-tokens-on-chain.md.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class TokenDeployment(models.Model):
    """The FlexToken contract on one chain (a chain reset without its state loses it, like the anchor's)."""

    chain_id = models.PositiveBigIntegerField()
    address = models.CharField(max_length=42)
    genesis_hash = models.CharField(max_length=66, blank=True)
    deploy_tx_hash = models.CharField(max_length=66, blank=True)
    deploy_block = models.PositiveBigIntegerField(null=True, blank=True)
    scanned_block = models.PositiveBigIntegerField(
        default=0, help_text="Claimed events are scanned up to this block (minus the reorg window)."
    )
    lost_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"FlexToken {self.address} on chain {self.chain_id}"


class ClaimEpoch(models.Model):
    """One claims tree: built from the ledger (amounts leave the participants' token accounts for their
    ``claimable`` accounts), then its root anchored in FlexToken (``anchorClaims``)."""

    class Status(models.TextChoices):
        BUILT = "built", "Built"
        SUBMITTED = "submitted", "Submitted"
        CONFIRMED = "confirmed", "Anchored"

    number = models.PositiveBigIntegerField(unique=True)
    deployment = models.ForeignKey(TokenDeployment, on_delete=models.PROTECT, related_name="epochs")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.BUILT)
    root = models.CharField(max_length=66)
    leaf_count = models.PositiveIntegerField()
    tree_dump = models.JSONField(help_text="OpenZeppelin StandardMerkleTree dump (standard-v1).")
    nonce = models.PositiveBigIntegerField(null=True, blank=True)
    raw_tx = models.TextField(blank=True)
    tx_hash = models.CharField(max_length=66, blank=True)
    block_number = models.PositiveBigIntegerField(null=True, blank=True)
    block_hash = models.CharField(max_length=66, blank=True)
    gas_used = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"claims epoch {self.number} ({self.status})"


class ClaimLeaf(models.Model):
    """One leaf of an epoch: ``address`` may have claimed ``cumulative`` units (0.01 token) of ``token_id``
    in total; ``added`` is what this epoch moved to claimable for it."""

    epoch = models.ForeignKey(ClaimEpoch, on_delete=models.PROTECT, related_name="leaves")
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="claim_leaves")
    address = models.CharField(max_length=42, help_text="Lower-case 0x address.")
    token_id = models.PositiveSmallIntegerField()
    cumulative = models.PositiveBigIntegerField()
    added = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["epoch", "address", "token_id"], name="claim_leaf_unique"),
        ]
        indexes = [models.Index(fields=["organisation", "token_id"])]

    def __str__(self) -> str:
        return f"{self.address} id {self.token_id}: {self.cumulative}"


class TokenClaim(models.Model):
    """A ``Claimed`` event seen on chain. Counted (``claimable`` -> ``claimed`` in the ledger) once it has the
    configured confirmations; a claim re-organised away is reversed back to claimable."""

    class Status(models.TextChoices):
        SEEN = "seen", "Seen"
        CONFIRMED = "confirmed", "Confirmed"
        REORGED = "reorged", "Re-organised away"

    deployment = models.ForeignKey(TokenDeployment, on_delete=models.PROTECT, related_name="claims")
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="token_claims")
    tx_hash = models.CharField(max_length=66)
    log_index = models.PositiveIntegerField()
    address = models.CharField(max_length=42)
    token_id = models.PositiveSmallIntegerField()
    epoch_number = models.PositiveBigIntegerField()
    amount = models.PositiveBigIntegerField()
    cumulative = models.PositiveBigIntegerField()
    block_number = models.PositiveBigIntegerField()
    block_hash = models.CharField(max_length=66)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SEEN)
    generation = models.PositiveIntegerField(default=0, help_text="Times it was (re-)counted; names its entry.")
    seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["block_number", "log_index"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "tx_hash", "log_index"], name="token_claim_unique_log"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="token_claim_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"claim {self.tx_hash}#{self.log_index}: {self.amount} of id {self.token_id}"
