"""FLEX token claims: the ledger's token balances become on-chain claims, and claims seen on chain come back.

Workflow (docs/adr/0023-flex-tokens-on-chain.md):

1. **Build an epoch** (:func:`claims_epoch_build`): for every organisation whose member linked a wallet by
   Sign-In with Ethereum (:func:`claim_address_for`), its free token balances (the ``participant`` accounts of
   FLEX-CAP/NRG/AVL/PRF/GOV) move to its ``claimable`` accounts in one journal entry per organisation, and the
   cumulative amounts are split over its addresses (:func:`settlement.claims_tree.allocate`: earlier wallets
   keep what they had, the current one gets the rest). Every leaf ever built is carried into the new tree.
2. **Anchor it** (:func:`claims_epoch_advance`): ``anchorClaims(epoch, root, leafCount)`` on FlexToken,
   signed under the same nonce lock (:class:`ChainAccount`) as the audit anchors, counted to
   ``CHAIN_CONFIRMATIONS``. Only then does the portal show the amounts as claimable.
3. **Watch claims** (:func:`claims_sync`): ``Claimed`` logs are recorded; one with ``CHAIN_CONFIRMATIONS``
   blocks on top moves its amount from ``claimable`` to ``claimed`` (one entry per log and generation); a log
   re-organised away within ``CHAIN_REORG_WINDOW_BLOCKS`` is reversed back to claimable (and counted again if
   it is mined again).

Amounts on chain are hundredths of a token (``UNITS_PER_TOKEN``); the ledger keeps tokens with two decimals.
"""

from __future__ import annotations

import functools
import logging
from collections import defaultdict
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Organisation, WalletLink

from .. import assets
from ..claims_tree import ASSETS_BY_ID, TOKEN_IDS, UNITS_PER_TOKEN, ClaimsTree, allocate
from ..models import ChainAccount, JournalEntry, LedgerAccount
from ..models_claims import ClaimEpoch, ClaimLeaf, TokenClaim, TokenDeployment
from .ledger import account_for, journal_post, journal_reverse

log = logging.getLogger(__name__)
K = LedgerAccount.Kind


@functools.lru_cache(maxsize=4)
def _client(rpc_url: str, private_key: str, address: str):
    from ..chain import TokenClient

    return TokenClient(rpc_url, private_key, address or None)


def token_client():
    """The FlexToken client for the configured chain and key (one per process)."""
    return _client(settings.CHAIN_RPC_URL, settings.CHAIN_PRIVATE_KEY, settings.CHAIN_TOKEN_ADDRESS)


def units(amount: Decimal) -> int:
    return int((amount * UNITS_PER_TOKEN).to_integral_value(rounding="ROUND_DOWN"))


def tokens_of(amount_units: int) -> Decimal:
    return (Decimal(amount_units) / UNITS_PER_TOKEN).quantize(assets.CENT)


def claim_address_for(organisation: Organisation | int) -> str | None:
    """The organisation's claim address: the wallet a member linked by Sign-In with Ethereum, the most recent
    one when several did (lower case). ``None`` without a linked wallet: its tokens stay in the ledger."""
    org_id = organisation if isinstance(organisation, int) else organisation.pk
    link = WalletLink.objects.filter(user__memberships__organisation_id=org_id).order_by("-linked_at", "-pk").first()
    return link.address.lower() if link is not None else None


def _nonce_lock(client) -> ChainAccount:
    ChainAccount.objects.get_or_create(chain_id=client.chain_id, address=client.address)
    return ChainAccount.objects.select_for_update().get(chain_id=client.chain_id, address=client.address)


def token_deployment_current(*, client=None) -> TokenDeployment:
    """The FlexToken contract on the configured chain: the recorded one if its code is still there, else the
    configured ``CHAIN_TOKEN_ADDRESS``, else a new deployment (development chains)."""
    client = client or token_client()
    genesis = client.block_hash(0) or ""
    with transaction.atomic():
        account = _nonce_lock(client)
        for deployment in TokenDeployment.objects.filter(chain_id=client.chain_id, lost_at=None).order_by("-id"):
            if deployment.genesis_hash == genesis and client.w3.eth.get_code(deployment.address):
                client.contract_address = deployment.address
                return deployment
            TokenDeployment.objects.filter(pk=deployment.pk).update(lost_at=timezone.now())
            log.error("FlexToken deployment %s lost (chain reset)", deployment.address)
        if settings.CHAIN_TOKEN_ADDRESS:
            client.contract_address = settings.CHAIN_TOKEN_ADDRESS
            return TokenDeployment.objects.create(
                chain_id=client.chain_id, address=settings.CHAIN_TOKEN_ADDRESS, genesis_hash=genesis
            )
        address = client.deploy()
        account.next_nonce = client.pending_nonce()
        account.save(update_fields=["next_nonce"])
        receipt = client.deploy_receipt
        return TokenDeployment.objects.create(
            chain_id=client.chain_id,
            address=address,
            genesis_hash=genesis,
            deploy_tx_hash=receipt.tx_hash if receipt else "",
            deploy_block=receipt.block_number if receipt else None,
            scanned_block=receipt.block_number if receipt else 0,
        )


def _latest_leaves(last: ClaimEpoch | None) -> dict[tuple[str, int], ClaimLeaf]:
    """The newest leaf of every (address, token id) ever built: the last epoch's, which carries them all."""
    if last is None:
        return {}
    return {(leaf.address, leaf.token_id): leaf for leaf in ClaimLeaf.objects.filter(epoch=last)}


@transaction.atomic
def claims_epoch_build(*, client=None, now=None) -> ClaimEpoch | None:
    """Build the next claims epoch from the ledger (see the module docstring). ``None`` when nothing changed."""
    client = client or token_client()
    deployment = token_deployment_current(client=client)
    last = ClaimEpoch.objects.select_for_update().order_by("-number").first()
    number = (last.number + 1) if last is not None else 1
    latest = _latest_leaves(last)
    owner = {address: leaf.organisation_id for (address, _), leaf in latest.items()}
    held = defaultdict(dict)
    for account in LedgerAccount.objects.select_for_update().filter(
        kind=K.PARTICIPANT, asset__in=list(TOKEN_IDS), balance__gt=0, organisation__isnull=False
    ):
        held[account.organisation_id][account.asset] = account.balance
    new_leaves: dict[tuple[str, int], tuple[int, int, int]] = {}  # (address, id) -> (org, cumulative, added)
    for org_id in sorted(held):
        address = claim_address_for(org_id)
        if address is None or owner.get(address, org_id) != org_id:
            continue  # no wallet yet, or a wallet already used by another organisation: tokens stay held
        owner[address] = org_id  # a member of two organisations: the address serves the first one only
        legs = []
        for asset, balance in sorted(held[org_id].items()):
            amount = units(balance)
            if amount <= 0:
                continue
            token_id = TOKEN_IDS[asset]
            previous = {
                a: leaf.cumulative
                for (a, i), leaf in latest.items()
                if i == token_id and leaf.organisation_id == org_id
            }
            total = sum(previous.values()) + amount
            for addr, cumulative in allocate(previous=previous, total=total, current=address).items():
                if cumulative != previous.get(addr):
                    new_leaves[(addr, token_id)] = (org_id, cumulative, cumulative - previous.get(addr, 0))
            legs.append((asset, tokens_of(amount)))
        if legs:
            org = Organisation(pk=org_id)
            journal_post(
                business_key=f"token-claims:epoch{number}:org{org_id}",
                memo=f"Claims epoch {number}: tokens claimable on chain by {address}",
                legs=[
                    leg
                    for asset, amount in legs
                    for leg in (
                        (account_for(organisation=org, kind=K.PARTICIPANT, asset=asset), -amount),
                        (account_for(organisation=org, kind=K.CLAIMABLE, asset=asset), amount),
                    )
                ],
            )
    if not new_leaves:
        return None
    rows: dict[tuple[str, int], tuple[int, int, int]] = {
        key: (leaf.organisation_id, leaf.cumulative, 0) for key, leaf in latest.items()
    }
    rows.update(new_leaves)
    ordered = sorted(rows.items())
    tree = ClaimsTree([(address, token_id, cumulative) for (address, token_id), (_, cumulative, _) in ordered])
    epoch = ClaimEpoch.objects.create(
        number=number, deployment=deployment, root="0x" + tree.root.hex(), leaf_count=len(tree), tree_dump=tree.dump()
    )
    ClaimLeaf.objects.bulk_create(
        [
            ClaimLeaf(
                epoch=epoch, organisation_id=org, address=address, token_id=token_id, cumulative=cumulative, added=added
            )
            for (address, token_id), (org, cumulative, added) in ordered
        ]
    )
    return epoch


def claims_epoch_advance(*, epoch_id: int, client=None, wait: bool = False) -> ClaimEpoch:
    """BUILT -> SUBMITTED (signed under the nonce lock, stored, broadcast) -> CONFIRMED (mined with
    ``CHAIN_CONFIRMATIONS``). A root the contract already holds for the epoch is adopted."""
    client = client or token_client()
    token_deployment_current(client=client)
    with transaction.atomic():
        account = _nonce_lock(client)
        epoch = ClaimEpoch.objects.select_for_update().get(pk=epoch_id)
        if epoch.status == ClaimEpoch.Status.BUILT:
            if client.root_of(epoch.number) == bytes.fromhex(epoch.root[2:]):
                event_tx = _anchor_tx_of(client, epoch.number)
                epoch.tx_hash = event_tx or epoch.tx_hash
            else:
                nonce = max(account.next_nonce, client.pending_nonce())
                signed = client.build_anchor_tx(
                    epoch.number, bytes.fromhex(epoch.root[2:]), epoch.leaf_count, nonce=nonce
                )
                epoch.nonce, epoch.raw_tx, epoch.tx_hash = nonce, signed.raw_hex, signed.tx_hash
                account.next_nonce = nonce + 1
                account.save(update_fields=["next_nonce"])
            epoch.status = ClaimEpoch.Status.SUBMITTED
            epoch.save(update_fields=["nonce", "raw_tx", "tx_hash", "status"])
    if epoch.status == ClaimEpoch.Status.SUBMITTED and epoch.raw_tx and client.receipt(epoch.tx_hash) is None:
        client.send_raw(epoch.raw_tx)
    if wait and epoch.status == ClaimEpoch.Status.SUBMITTED:
        client.wait(epoch.tx_hash)
    return claims_epoch_confirm(epoch_id=epoch_id, client=client)


def _anchor_tx_of(client, number: int) -> str | None:
    logs = client.contract().events.ClaimRootAnchored().get_logs(from_block=0, argument_filters={"epoch": number})
    return "0x" + bytes(logs[-1]["transactionHash"]).hex() if logs else None


def claims_epoch_confirm(*, epoch_id: int, client=None) -> ClaimEpoch:
    client = client or token_client()
    with transaction.atomic():
        epoch = ClaimEpoch.objects.select_for_update().get(pk=epoch_id)
        if epoch.status != ClaimEpoch.Status.SUBMITTED:
            return epoch
        receipt = client.receipt(epoch.tx_hash) if epoch.tx_hash else None
        if receipt is None or not receipt.succeeded:
            return epoch
        epoch.block_number, epoch.block_hash, epoch.gas_used = (
            receipt.block_number,
            receipt.block_hash,
            receipt.gas_used,
        )
        if client.block_number() - receipt.block_number + 1 >= max(settings.CHAIN_CONFIRMATIONS, 1):
            epoch.status = ClaimEpoch.Status.CONFIRMED
            epoch.confirmed_at = timezone.now()
        epoch.save()
    return epoch


def claims_epoch_close(*, client=None, wait: bool = True) -> ClaimEpoch | None:
    """Build the next epoch and anchor it, and advance any epoch still on its way (the periodic task)."""
    client = client or token_client()
    claims_epoch_build(client=client)
    latest = None
    for pk in (
        ClaimEpoch.objects.exclude(status=ClaimEpoch.Status.CONFIRMED).order_by("number").values_list("pk", flat=True)
    ):
        latest = claims_epoch_advance(epoch_id=pk, client=client, wait=wait)
    return latest


def _claim_entry(claim: TokenClaim) -> JournalEntry | None:
    return JournalEntry.objects.filter(business_key=f"token-claim:{claim.pk}:{claim.generation}").first()


def _count(claim: TokenClaim) -> None:
    asset = ASSETS_BY_ID[claim.token_id]
    amount = tokens_of(claim.amount)
    org = claim.organisation
    journal_post(
        business_key=f"token-claim:{claim.pk}:{claim.generation}",
        memo=f"Claimed on chain by {claim.address} in {claim.tx_hash}",
        legs=[
            (account_for(organisation=org, kind=K.CLAIMABLE, asset=asset), -amount),
            (account_for(organisation=org, kind=K.CLAIMED, asset=asset), amount),
        ],
    )
    claim.status = TokenClaim.Status.CONFIRMED


def _uncount(claim: TokenClaim, reason: str) -> None:
    entry = _claim_entry(claim)
    if entry is not None and claim.status == TokenClaim.Status.CONFIRMED:
        journal_reverse(entry=entry, memo=f"Claim {claim.tx_hash} re-organised away: {reason}"[:300])
        claim.generation += 1


@transaction.atomic
def claims_sync(*, client=None) -> list[TokenClaim]:
    """Read ``Claimed`` logs from the last scanned block minus the reorg window to the head; record new ones,
    count those with enough confirmations, and reverse counted ones that a reorganisation removed. Returns
    the claims that changed."""
    client = client or token_client()
    deployment = TokenDeployment.objects.select_for_update().get(pk=token_deployment_current(client=client).pk)
    head = client.block_number()
    start = max(deployment.scanned_block - settings.CHAIN_REORG_WINDOW_BLOCKS, deployment.deploy_block or 0, 0)
    on_chain = {(e.tx_hash, e.log_index): e for e in client.claim_events(from_block=start, to_block=head)}
    changed: list[TokenClaim] = []
    known = {
        (c.tx_hash, c.log_index): c
        for c in TokenClaim.objects.select_for_update().filter(deployment=deployment, block_number__gte=start)
    }
    for key, claim in known.items():
        event = on_chain.get(key)
        if claim.status != TokenClaim.Status.REORGED and (event is None or event.block_hash != claim.block_hash):
            _uncount(claim, "block changed" if event else "log gone")
            claim.status = TokenClaim.Status.REORGED if event is None else TokenClaim.Status.SEEN
        elif claim.status == TokenClaim.Status.REORGED and event is not None:
            claim.status = TokenClaim.Status.SEEN
        else:
            continue
        if event is not None:
            claim.block_number, claim.block_hash = event.block_number, event.block_hash
        claim.save(update_fields=["status", "generation", "block_number", "block_hash"])
        changed.append(claim)
    leaves = {(leaf.address, leaf.token_id): leaf.organisation_id for leaf in ClaimLeaf.objects.all()}
    for key, event in on_chain.items():
        if key in known:
            continue
        org_id = leaves.get((event.account.lower(), event.token_id))
        if org_id is None:  # pragma: no cover - only leaves the platform built can be claimed
            log.error("Claimed event %s for an unknown leaf", key)
            continue
        claim, created = TokenClaim.objects.get_or_create(
            deployment=deployment,
            tx_hash=event.tx_hash,
            log_index=event.log_index,
            defaults={
                "organisation_id": org_id,
                "address": event.account.lower(),
                "token_id": event.token_id,
                "epoch_number": event.epoch,
                "amount": event.amount,
                "cumulative": event.cumulative,
                "block_number": event.block_number,
                "block_hash": event.block_hash,
            },
        )
        if created:
            changed.append(claim)
    confirmations = max(settings.CHAIN_CONFIRMATIONS, 1)
    for claim in (
        TokenClaim.objects.select_for_update()
        .filter(deployment=deployment, status=TokenClaim.Status.SEEN, block_number__lte=head - confirmations + 1)
        .select_related("organisation")
    ):
        _count(claim)
        claim.save(update_fields=["status"])
        if claim not in changed:
            changed.append(claim)
    deployment.scanned_block = head
    deployment.save(update_fields=["scanned_block"])
    _epochs_check_reorgs(client=client, deployment=deployment, head=head)
    return changed


def _epochs_check_reorgs(*, client, deployment: TokenDeployment, head: int) -> None:
    """A confirmed epoch whose block changed hash (a reorganisation) is counted again from SUBMITTED: its stored
    transaction is re-broadcast by the next :func:`claims_epoch_advance` if the chain lost it."""
    window = settings.CHAIN_REORG_WINDOW_BLOCKS
    for epoch in ClaimEpoch.objects.select_for_update().filter(
        deployment=deployment, status=ClaimEpoch.Status.CONFIRMED, block_number__gte=max(head - window, 0)
    ):
        if client.block_hash(epoch.block_number) != epoch.block_hash:
            log.warning("claims epoch %s re-organised out; re-submitting", epoch.number)
            epoch.status, epoch.confirmed_at = ClaimEpoch.Status.SUBMITTED, None
            epoch.save(update_fields=["status", "confirmed_at"])
