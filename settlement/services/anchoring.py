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
from ..models import (
    AnchorAlert,
    AnchorTransaction,
    ChainAccount,
    ChainDeployment,
    PeriodAnchor,
    SettlementItem,
    SettlementPeriod,
)

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
    rows = (
        SettlementItem.objects.filter(period=period).order_by("pk").values_list("pk", "payee_id", "currency", "amount")
    )
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


class ChainRevert(Exception):  # noqa: N818 - a domain event, not a programming error
    """The node refused to estimate the anchoring call: it would revert (e.g. the key lost its role)."""


def _chain_account(client) -> ChainAccount:
    ChainAccount.objects.get_or_create(chain_id=client.chain_id, address=client.address)
    return ChainAccount.objects.select_for_update().get(chain_id=client.chain_id, address=client.address)


def deployment_current(*, client=None) -> ChainDeployment:
    """The platform's anchoring contract on the configured chain, deploying it if the chain has none.

    A recorded deployment whose chain has another genesis block, or whose address holds no code, is gone (the
    node was restarted without its state): it is marked lost (:func:`deployment_lost`) and a new one deployed."""
    client = client or chain_client()
    genesis = client.block_hash(0) or ""
    with transaction.atomic():
        account = _chain_account(client)
        for deployment in ChainDeployment.objects.filter(chain_id=client.chain_id, lost_at=None).order_by("-id"):
            if deployment.genesis_hash and deployment.genesis_hash != genesis:
                reason = f"the chain's genesis block is now {genesis}, not {deployment.genesis_hash}"
            elif not client.w3.eth.get_code(deployment.address):
                reason = f"no contract code at {deployment.address}"
            else:
                if not deployment.genesis_hash:  # recorded before genesis hashes were kept
                    deployment.genesis_hash = genesis
                    deployment.save(update_fields=["genesis_hash"])
                client.contract_address = deployment.address
                return deployment
            deployment_lost(deployment=deployment, reason=f"Chain {client.chain_id} was reset: {reason}.")
        address = client.deploy()
        account.next_nonce = client.pending_nonce()
        account.save(update_fields=["next_nonce"])
        receipt = client.deploy_receipt
        return ChainDeployment.objects.create(
            chain_id=client.chain_id,
            address=address,
            rpc_url=settings.CHAIN_RPC_URL,
            genesis_hash=genesis,
            deploy_tx_hash=receipt.tx_hash if receipt else "",
            deploy_block=receipt.block_number if receipt else None,
        )


def deployment_lost(*, deployment: ChainDeployment, reason: str, now: datetime | None = None) -> int:
    """The chain no longer holds ``deployment``: record it, and take back what was anchored there.

    Confirmed anchors become LOST with an alert each (the root is proven nowhere now; re-anchoring an old period
    on a new contract would date it wrongly, so a person decides); anchors still on their way go back to BUILT and
    are signed again for the next deployment. Returns the number of anchors lost."""
    now = now or timezone.now()
    ChainDeployment.objects.filter(pk=deployment.pk).update(lost_at=now, lost_reason=reason)
    log.error("anchoring deployment %s lost: %s", deployment, reason)
    lost = 0
    for anchor in PeriodAnchor.objects.select_for_update().filter(deployment=deployment).select_related("period"):
        if anchor.status == PeriodAnchor.Status.CONFIRMED:
            anchor.status = PeriodAnchor.Status.LOST
            alert_raise(
                anchor=anchor,
                kind=AnchorAlert.Kind.DEPLOYMENT_LOST,
                detail=f"{reason} Anchored in block {anchor.block_number} ({anchor.tx_hash}), which this chain lacks.",
            )
            lost += 1
        elif anchor.status in (PeriodAnchor.Status.SIGNED, PeriodAnchor.Status.SUBMITTED):
            anchor.status = PeriodAnchor.Status.BUILT
            anchor.deployment = None
        else:
            continue
        anchor.last_error = reason
        anchor.save(update_fields=["status", "deployment", "last_error"])
    return lost


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


def alert_raise(*, anchor: PeriodAnchor, kind: str, detail: str) -> AnchorAlert:
    """Open an alert (or refresh the open one of the same kind for this anchor)."""
    alert, created = AnchorAlert.objects.get_or_create(
        anchor=anchor, kind=kind, resolved_at=None, defaults={"detail": detail}
    )
    if not created:
        alert.detail = detail
        alert.save(update_fields=["detail", "last_seen_at"])
    log.error("anchor alert %s for period %s: %s", kind, anchor.period_id, detail)
    return alert


def _bump(value: int) -> int:
    """``value`` raised by at least 12.5 % (rounded up): nodes refuse a same-nonce replacement below +10 %."""
    return value + -(-value // 8)


def _record_tx(*, anchor: PeriodAnchor, client, signed, kind: str) -> AnchorTransaction:
    tx = AnchorTransaction.objects.create(
        anchor=anchor,
        kind=kind,
        chain_id=client.chain_id,
        sender=client.address,
        nonce=signed.nonce,
        tx_hash=signed.tx_hash,
        raw_tx="0x" + signed.raw.hex(),
        gas=signed.gas,
        max_fee_per_gas=signed.max_fee_per_gas,
        max_priority_fee_per_gas=signed.max_priority_fee_per_gas,
    )
    anchor.nonce = signed.nonce
    anchor.raw_tx = tx.raw_tx
    anchor.tx_hash = tx.tx_hash
    return tx


def _record_onchain(anchor: PeriodAnchor, client, onchain_root: bytes, deployment: ChainDeployment) -> PeriodAnchor:
    """The chain already holds a root for this period (e.g. a crash after broadcast): adopt or flag it."""
    anchor.deployment = deployment
    if "0x" + onchain_root.hex() == anchor.root:
        event = client.anchor_event(period_number(anchor.period))
        if event is not None:
            anchor.tx_hash, anchor.block_number, anchor.block_hash = event.tx_hash, event.block_number, event.block_hash
        anchor.status = PeriodAnchor.Status.SUBMITTED  # counted to CHAIN_CONFIRMATIONS like any other
        anchor.last_error = "Root already on chain; recorded without a new transaction."
    else:
        anchor.status = PeriodAnchor.Status.FAILED
        anchor.last_error = f"Chain holds a different root 0x{onchain_root.hex()} for this period."
        alert_raise(anchor=anchor, kind=AnchorAlert.Kind.CHAIN_MISMATCH, detail=anchor.last_error)
    anchor.save()
    return anchor


def _sign(*, anchor_id: int, client, deployment: ChainDeployment) -> None:
    """BUILT -> SIGNED: take the next nonce under the account lock and store the signed transaction."""
    from ..chain import decode_revert

    with transaction.atomic():
        account = _chain_account(client)  # the nonce lock, always taken before an anchor row
        anchor = PeriodAnchor.objects.select_for_update().select_related("period").get(pk=anchor_id)
        if anchor.status != PeriodAnchor.Status.BUILT:
            return
        onchain_root = client.root_of(period_number(anchor.period))
        if onchain_root != bytes(32):
            _record_onchain(anchor, client, onchain_root, deployment)
            return
        nonce = max(account.next_nonce, client.pending_nonce())
        try:
            signed = client.build_anchor_tx(
                period_number(anchor.period), bytes.fromhex(anchor.root[2:]), anchor.leaf_count, nonce=nonce
            )
        except (ConnectionError, OSError):
            raise
        except Exception as exc:  # the node's estimate reverted: nothing is sent, no nonce is used
            try:
                info = decode_revert(exc)
            except ValueError:
                raise exc from None
            raise ChainRevert(f"{info.name}{info.args}") from exc
        kind = AnchorTransaction.Kind.RESUBMISSION if anchor.transactions.exists() else AnchorTransaction.Kind.ORIGINAL
        _record_tx(anchor=anchor, client=client, signed=signed, kind=kind)
        anchor.deployment = deployment
        anchor.status = PeriodAnchor.Status.SIGNED
        anchor.last_error = ""
        anchor.save(update_fields=["deployment", "nonce", "raw_tx", "tx_hash", "status", "last_error"])
        account.next_nonce = nonce + 1
        account.save(update_fields=["next_nonce"])


def _mined_receipt(client, anchor: PeriodAnchor):
    """The receipt of whichever of the anchor's transactions is mined (newest first), with its hash."""
    hashes = list(anchor.transactions.order_by("-id").values_list("tx_hash", flat=True)) or [anchor.tx_hash]
    for tx_hash in hashes:
        receipt = client.receipt(tx_hash)
        if receipt is not None:
            return receipt
    return None


def _is_nonce_conflict(exc: Exception) -> bool:
    text = str(exc).lower()
    return "nonce too low" in text or "nonce has already been used" in text or "invalid nonce" in text


def _broadcast(*, anchor_id: int, client) -> None:
    """SIGNED -> SUBMITTED: (re-)broadcast the stored raw transaction; the same bytes twice are harmless."""
    with transaction.atomic():
        anchor = PeriodAnchor.objects.select_for_update().get(pk=anchor_id)
        if anchor.status != PeriodAnchor.Status.SIGNED:
            return
        try:
            client.send_raw(bytes.fromhex(anchor.raw_tx.removeprefix("0x")))
        except (ConnectionError, OSError):
            raise
        except Exception as exc:
            if _mined_receipt(client, anchor) is None:
                if not _is_nonce_conflict(exc):
                    raise
                # Our nonce was taken by another transaction: sign again with a new nonce.
                anchor.status = PeriodAnchor.Status.BUILT
                anchor.last_error = f"Re-broadcast refused ({exc}); will be re-signed with a new nonce."
                anchor.save(update_fields=["status", "last_error"])
                return
        anchor.status = PeriodAnchor.Status.SUBMITTED
        anchor.submitted_at = timezone.now()
        anchor.save(update_fields=["status", "submitted_at"])


def _replace_if_underpriced(*, anchor_id: int, client) -> bool:
    """A pending transaction whose fee cap is below the current base fee cannot be mined: re-sign it with
    the SAME nonce and fees raised by >= 12.5 %; both stay recorded and whichever is mined wins."""
    with transaction.atomic():
        anchor = PeriodAnchor.objects.select_for_update().select_related("period").get(pk=anchor_id)
        if anchor.status != PeriodAnchor.Status.SUBMITTED:
            return False
        latest = anchor.transactions.order_by("-id").first()
        if latest is None:
            return False
        base_fee = client.base_fee()
        if latest.max_fee_per_gas >= base_fee:
            return False
        priority = _bump(latest.max_priority_fee_per_gas)
        max_fee = max(_bump(latest.max_fee_per_gas), 2 * base_fee + priority)
        signed = client.build_anchor_tx(
            period_number(anchor.period),
            bytes.fromhex(anchor.root[2:]),
            anchor.leaf_count,
            nonce=latest.nonce,
            gas=latest.gas,
            max_fee_per_gas=max_fee,
            max_priority_fee_per_gas=priority,
        )
        _record_tx(anchor=anchor, client=client, signed=signed, kind=AnchorTransaction.Kind.FEE_REPLACEMENT)
        anchor.status = PeriodAnchor.Status.SIGNED
        anchor.last_error = f"Fee cap {latest.max_fee_per_gas} below base fee {base_fee}: replaced (same nonce)."
        anchor.save(update_fields=["nonce", "raw_tx", "tx_hash", "status", "last_error"])
    _broadcast(anchor_id=anchor_id, client=client)
    return True


def anchor_confirm(*, anchor_id: int, client=None) -> PeriodAnchor:
    """SUBMITTED -> CONFIRMED once a transaction of the anchor is mined with ``CHAIN_CONFIRMATIONS`` blocks
    on top. A reverted transaction is accepted when the chain holds our root anyway (another of our
    transactions won); otherwise the period goes back to BUILT to be re-signed with a new nonce."""
    client = client or chain_client()
    with transaction.atomic():
        anchor = PeriodAnchor.objects.select_for_update().select_related("period").get(pk=anchor_id)
        if anchor.status != PeriodAnchor.Status.SUBMITTED:
            return anchor
        receipt = _mined_receipt(client, anchor)
        if receipt is None:
            onchain_root = client.root_of(period_number(anchor.period))
            event = client.anchor_event(period_number(anchor.period)) if onchain_root != bytes(32) else None
            if event is None or "0x" + event.root.hex() != anchor.root:
                return anchor  # still pending
            receipt = client.receipt(event.tx_hash)  # anchored by a transaction we adopted
            if receipt is None:  # pragma: no cover - a log without a receipt
                return anchor
        anchor.tx_hash = receipt.tx_hash
        anchor.block_number = receipt.block_number
        anchor.block_hash = receipt.block_hash
        anchor.gas_used = receipt.gas_used
        if receipt.status != 1:
            onchain_root = client.root_of(period_number(anchor.period))
            if "0x" + onchain_root.hex() == anchor.root:
                event = client.anchor_event(period_number(anchor.period))
                if event is not None:
                    anchor.tx_hash, anchor.block_number, anchor.block_hash = (
                        event.tx_hash,
                        event.block_number,
                        event.block_hash,
                    )
            elif onchain_root != bytes(32):
                anchor.status = PeriodAnchor.Status.FAILED
                anchor.last_error = f"Transaction reverted; chain holds a different root 0x{onchain_root.hex()}."
                alert_raise(anchor=anchor, kind=AnchorAlert.Kind.CHAIN_MISMATCH, detail=anchor.last_error)
                anchor.save()
                return anchor
            else:
                anchor.status = PeriodAnchor.Status.BUILT
                anchor.last_error = f"Transaction {receipt.tx_hash} reverted; the period will be re-signed."
                alert_raise(anchor=anchor, kind=AnchorAlert.Kind.ANCHOR_FAILED, detail=anchor.last_error)
                anchor.save()
                return anchor
        if client.block_number() - anchor.block_number + 1 < max(settings.CHAIN_CONFIRMATIONS, 1):
            anchor.save(update_fields=["tx_hash", "block_number", "block_hash", "gas_used"])
            return anchor
        anchor.status = PeriodAnchor.Status.CONFIRMED
        anchor.confirmed_at = timezone.now()
        anchor.save()
    return anchor


def anchor_advance(*, anchor_id: int, client=None) -> PeriodAnchor:
    """Move one anchor as far as the chain allows now: sign, broadcast, replace if underpriced, confirm."""
    client = client or chain_client()
    deployment = deployment_current(client=client)
    for _attempt in range(2):  # a second round when a re-broadcast found its nonce taken (back to BUILT)
        _sign(anchor_id=anchor_id, client=client, deployment=deployment)
        _broadcast(anchor_id=anchor_id, client=client)
        if PeriodAnchor.objects.filter(pk=anchor_id, status=PeriodAnchor.Status.BUILT).exists() is False:
            break
    anchor = anchor_confirm(anchor_id=anchor_id, client=client)
    if anchor.status == PeriodAnchor.Status.SUBMITTED and anchor.block_number is None:
        # Underpriced first (a node may also evict such a transaction); else re-send one the node lost.
        if not _replace_if_underpriced(anchor_id=anchor_id, client=client) and _lost_from_pool(client, anchor):
            PeriodAnchor.objects.filter(pk=anchor_id, status=PeriodAnchor.Status.SUBMITTED).update(
                status=PeriodAnchor.Status.SIGNED
            )
            _broadcast(anchor_id=anchor_id, client=client)
        anchor = anchor_confirm(anchor_id=anchor_id, client=client)
    return anchor


def _lost_from_pool(client, anchor: PeriodAnchor) -> bool:
    """None of the anchor's transactions is known to the node (dropped pool, restarted node, reorg)."""
    hashes = list(anchor.transactions.values_list("tx_hash", flat=True)) or [anchor.tx_hash]
    return not any(client.has_transaction(h) for h in hashes)


def anchors_check_reorgs(*, client=None) -> list[PeriodAnchor]:
    """Re-check recent confirmed anchors: if the block holding one changed hash or its receipt vanished
    (a reorganisation), its transaction is re-submitted (the stored bytes first; a new nonce if the old
    one is taken) and counted to ``CHAIN_CONFIRMATIONS`` again."""
    client = client or chain_client()
    head = client.block_number()
    window = settings.CHAIN_REORG_WINDOW_BLOCKS
    reorged = []
    deployment = deployment_current(client=client)
    for anchor in PeriodAnchor.objects.filter(
        status=PeriodAnchor.Status.CONFIRMED, deployment=deployment, block_number__gte=max(head - window, 0)
    ).order_by("period__start"):
        if client.block_hash(anchor.block_number) == anchor.block_hash:
            continue
        with transaction.atomic():
            locked = PeriodAnchor.objects.select_for_update().get(pk=anchor.pk)
            if locked.status != PeriodAnchor.Status.CONFIRMED or locked.block_hash != anchor.block_hash:
                continue
            receipt = _mined_receipt(client, locked)
            locked.last_error = f"Block {locked.block_number} ({locked.block_hash}) was re-organised away."
            locked.block_number = None
            locked.block_hash = ""
            locked.confirmed_at = None
            # Still mined elsewhere: just count confirmations again; gone: re-broadcast the stored bytes.
            locked.status = PeriodAnchor.Status.SUBMITTED if receipt is not None else PeriodAnchor.Status.SIGNED
            locked.save()
            log.warning("anchor of period %s re-organised out; re-submitting", locked.period_id)
        reorged.append(locked)
    return reorged


def periods_anchor_closed(*, now: datetime | None = None, client=None, wait: bool = False) -> list[PeriodAnchor]:
    """Seal and anchor every closed period, oldest first, after re-checking recent anchors for reorgs.

    Safe to run twice or concurrently (every step re-reads and locks its row and checks the status first).
    If the chain is unreachable it stops and the periods wait; if the node refuses the call (a revert in
    the estimate, e.g. a missing role) it stops too, with an alert, so periods stay in order.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.ANCHOR_GRACE_MINUTES)
    out: list[PeriodAnchor] = []
    anchor = None
    # Sealing needs no chain: every closed hour gets its root now, whatever the chain's state.
    anchor_ids = []
    for period_id in (
        SettlementPeriod.objects.filter(end__lte=cutoff)
        .exclude(
            anchor__status__in=[PeriodAnchor.Status.CONFIRMED, PeriodAnchor.Status.FAILED, PeriodAnchor.Status.LOST]
        )
        .order_by("start")
        .values_list("pk", flat=True)
    ):
        sealed = period_seal(period_id=period_id, now=now)
        if sealed is not None:
            anchor_ids.append(sealed.pk)
    try:
        client = client or chain_client()
        anchors_check_reorgs(client=client)
        # Every anchor not yet confirmed (including re-organised ones), in period order.
        pending = [PeriodAnchor.Status.BUILT, PeriodAnchor.Status.SIGNED, PeriodAnchor.Status.SUBMITTED]
        anchor_ids = list(PeriodAnchor.objects.filter(status__in=pending).values_list("pk", flat=True))
        for anchor in PeriodAnchor.objects.filter(pk__in=anchor_ids).order_by("period__start"):
            anchor = anchor_advance(anchor_id=anchor.pk, client=client)
            if wait and anchor.status == PeriodAnchor.Status.SUBMITTED:
                client.wait(anchor.tx_hash)
                anchor = anchor_confirm(anchor_id=anchor.pk, client=client)
            out.append(anchor)
    except (ConnectionError, OSError) as exc:
        log.warning("chain unreachable, periods wait: %s", exc)
        PeriodAnchor.objects.filter(pk__in=anchor_ids).exclude(status=PeriodAnchor.Status.CONFIRMED).update(
            last_error=f"Chain unreachable: {exc}"
        )
    except ChainRevert as exc:
        log.error("anchoring refused by the contract: %s", exc)
        if anchor is not None:
            PeriodAnchor.objects.filter(pk=anchor.pk).update(last_error=f"Refused by the contract: {exc}")
            alert_raise(anchor=anchor, kind=AnchorAlert.Kind.ANCHOR_FAILED, detail=f"Refused by the contract: {exc}")
    except Exception as exc:  # any other node error: record it and stop; the next run resumes in order
        log.exception("anchoring stopped by a node error")
        if anchor is not None:
            PeriodAnchor.objects.filter(pk=anchor.pk).update(last_error=f"Node error: {exc}"[:2000])
    return out
