"""Hourly Merkle anchoring of settlement items on an Ethereum chain.

Pipeline per settlement period (one hour): **seal** (no more items join; build the OpenZeppelin-format
Merkle tree of its items; store root, leaf count and the tree dump) -> **sign** (an EIP-1559 transaction
``anchor(period, root, leafCount)`` with the next nonce, stored before it is sent) -> **submit** (broadcast
the stored raw transaction; re-broadcasting the same bytes is harmless) -> **confirm** (receipt with enough
confirmations). Nonces are taken under a row lock on the platform's :class:`ChainAccount`, so concurrent or
retried tasks never reuse or skip one. A period whose root the chain already holds is recognised, not
re-sent. Periods are anchored in order; if the chain is unreachable they wait, and are sent when it returns.

Leaf tuple (see :mod:`settlement.merkle`): ``(item id, participant reference, asset, amount in minor
units, period start as unix seconds)``; the participant reference is
``keccak256("flexplatform:organisation:<id>")``.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..merkle import MerkleTree, asset_code, participant_ref
from ..models import ChainAccount, ChainDeployment, PeriodAnchor, SettlementItem, SettlementPeriod

log = logging.getLogger(__name__)


def organisation_ref(organisation_id: int) -> bytes:
    return participant_ref(f"flexplatform:organisation:{organisation_id}")


def period_number(period: SettlementPeriod) -> int:
    return int(period.start.timestamp())


def item_leaf_values(item: SettlementItem) -> tuple:
    return (
        item.pk,
        organisation_ref(item.payee_id),
        asset_code(item.currency),
        item.amount_minor,
        int(item.period.start.timestamp()),
    )


def period_leaf_values(period: SettlementPeriod) -> list[tuple]:
    start = int(period.start.timestamp())
    rows = SettlementItem.objects.filter(period=period).order_by("pk").values_list("pk", "payee_id", "currency", "amount")
    return [(pk, organisation_ref(payee), asset_code(cur), int(amount * 100), start) for pk, payee, cur, amount in rows]


def tree_for_values(values: list[tuple]) -> MerkleTree:
    return MerkleTree.of(values)


@functools.lru_cache(maxsize=4)
def _client(rpc_url: str, private_key: str):
    from ..chain import AnchorClient

    return AnchorClient(rpc_url=rpc_url, private_key=private_key)


def chain_client():
    """The anchoring client for the configured chain (one per process; in-process EVMs keep their state)."""
    return _client(settings.CHAIN_RPC_URL, settings.CHAIN_PRIVATE_KEY)


def _chain_account(client) -> ChainAccount:
    ChainAccount.objects.get_or_create(chain_id=client.chain_id, address=client.address)
    return ChainAccount.objects.select_for_update().get(chain_id=client.chain_id, address=client.address)


def deployment_current(*, client=None) -> ChainDeployment:
    """The platform's anchoring contract on the configured chain, deploying it if the chain has none."""
    client = client or chain_client()
    with transaction.atomic():
        account = _chain_account(client)
        for deployment in ChainDeployment.objects.filter(chain_id=client.chain_id).order_by("-id"):
            if client.w3.eth.get_code(deployment.address):
                client.contract_address = deployment.address
                return deployment
        address = client.deploy()
        account.next_nonce = client.pending_nonce()
        account.save(update_fields=["next_nonce"])
        return ChainDeployment.objects.create(chain_id=client.chain_id, address=address, rpc_url=settings.CHAIN_RPC_URL)


@transaction.atomic
def period_seal(*, period_id: int, now: datetime | None = None) -> PeriodAnchor | None:
    """Seal a period and build its Merkle root once; returns its anchor (None for a period without items)."""
    period = SettlementPeriod.objects.select_for_update().get(pk=period_id)
    existing = PeriodAnchor.objects.filter(period=period).first()
    if existing is not None:
        return existing
    values = period_leaf_values(period)
    if not values:
        return None
    tree = tree_for_values(values)
    period.sealed_at = now or timezone.now()
    period.save(update_fields=["sealed_at"])
    return PeriodAnchor.objects.create(
        period=period, root="0x" + tree.root.hex(), leaf_count=len(values), tree_dump=tree.dump()
    )


def _broadcast(client, anchor: PeriodAnchor) -> None:
    try:
        client.send_raw(bytes.fromhex(anchor.raw_tx.removeprefix("0x")))
    except Exception as exc:  # the node may already know the transaction; the receipt decides
        if client.receipt(anchor.tx_hash) is None and "known" not in str(exc).lower() and "nonce too low" not in str(exc).lower():
            raise
    PeriodAnchor.objects.filter(pk=anchor.pk, status=PeriodAnchor.Status.SIGNED).update(
        status=PeriodAnchor.Status.SUBMITTED, submitted_at=timezone.now()
    )


def anchor_submit(*, anchor_id: int, client=None) -> PeriodAnchor:
    """Sign (once) and broadcast the anchoring transaction of a sealed period."""
    client = client or chain_client()
    deployment = deployment_current(client=client)
    with transaction.atomic():
        account = _chain_account(client)  # the nonce lock
        anchor = PeriodAnchor.objects.select_for_update().select_related("period").get(pk=anchor_id)
        if anchor.status == PeriodAnchor.Status.BUILT:
            onchain_root, _count, _at = client.root_of(period_number(anchor.period))
            if onchain_root != b"\x00" * 32:
                anchor.deployment = deployment
                if "0x" + onchain_root.hex() == anchor.root:
                    anchor.status = PeriodAnchor.Status.CONFIRMED
                    anchor.confirmed_at = timezone.now()
                    anchor.last_error = "Root already on chain; recorded without a new transaction."
                else:
                    anchor.status = PeriodAnchor.Status.FAILED
                    anchor.last_error = f"Chain holds a different root 0x{onchain_root.hex()} for this period."
                anchor.save()
                return anchor
            nonce = max(account.next_nonce, client.pending_nonce())
            signed = client.build_anchor_tx(
                period_number(anchor.period), bytes.fromhex(anchor.root[2:]), anchor.leaf_count, nonce=nonce
            )
            anchor.deployment = deployment
            anchor.nonce = nonce
            anchor.raw_tx = "0x" + signed.raw.hex()
            anchor.tx_hash = signed.tx_hash
            anchor.status = PeriodAnchor.Status.SIGNED
            anchor.save(update_fields=["deployment", "nonce", "raw_tx", "tx_hash", "status"])
            account.next_nonce = nonce + 1
            account.save(update_fields=["next_nonce"])
    if anchor.status == PeriodAnchor.Status.SIGNED:
        _broadcast(client, anchor)
    anchor.refresh_from_db()
    return anchor


def anchor_confirm(*, anchor_id: int, client=None) -> PeriodAnchor:
    """Record the receipt once the transaction has the configured number of confirmations."""
    client = client or chain_client()
    with transaction.atomic():
        anchor = PeriodAnchor.objects.select_for_update().get(pk=anchor_id)
        if anchor.status != PeriodAnchor.Status.SUBMITTED:
            return anchor
        receipt = client.receipt(anchor.tx_hash)
        if receipt is None:
            return anchor
        if client.block_number() - receipt.block_number + 1 < max(settings.CHAIN_CONFIRMATIONS, 1):
            return anchor
        anchor.block_number = receipt.block_number
        anchor.block_hash = receipt.block_hash
        anchor.gas_used = receipt.gas_used
        if receipt.status == 1:
            anchor.status = PeriodAnchor.Status.CONFIRMED
            anchor.confirmed_at = timezone.now()
        else:
            anchor.status = PeriodAnchor.Status.FAILED
            anchor.last_error = "The anchoring transaction reverted."
        anchor.save()
    return anchor


def periods_anchor_closed(*, now: datetime | None = None, client=None, wait: bool = False) -> list[PeriodAnchor]:
    """Seal, submit and confirm every closed period, oldest first. Stops at the first chain failure
    (later periods wait, so periods are anchored in order)."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.ANCHOR_GRACE_MINUTES)
    out = []
    for period_id in SettlementPeriod.objects.filter(end__lte=cutoff).exclude(
        anchor__status=PeriodAnchor.Status.CONFIRMED
    ).order_by("start").values_list("pk", flat=True):
        anchor = period_seal(period_id=period_id, now=now)
        if anchor is None:
            continue
        try:
            client = client or chain_client()
            anchor = anchor_submit(anchor_id=anchor.pk, client=client)
            if wait and anchor.status == PeriodAnchor.Status.SUBMITTED:
                client.wait(anchor.tx_hash)
            anchor = anchor_confirm(anchor_id=anchor.pk, client=client)
        except (ConnectionError, OSError) as exc:
            log.warning("chain unreachable, period %s waits: %s", anchor.period_id, exc)
            PeriodAnchor.objects.filter(pk=anchor.pk).update(last_error=f"Chain unreachable: {exc}")
            break
        out.append(anchor)
    return out
