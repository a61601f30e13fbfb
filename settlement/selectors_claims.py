"""Read models of FLEX token claims: a participant's held / claimable / claimed tokens, its open claims with
proofs and wallet calldata, and the proof bundle it can claim with when the platform is down."""

from __future__ import annotations

import functools
from decimal import Decimal

from django.conf import settings
from django.db.models import Max, Sum

from accounts.models import Organisation

from .assets import TOKENS
from .claims_tree import ASSETS_BY_ID, TOKEN_IDS, ClaimsTree, claim_calldata
from .models import LedgerAccount
from .models_claims import ClaimEpoch, ClaimLeaf, TokenClaim
from .selectors import token_positions
from .services.claims import claim_address_for, tokens_of

K = LedgerAccount.Kind
ZERO = Decimal("0.00")


@functools.lru_cache(maxsize=8)
def _tree(epoch_pk: int, root: str) -> ClaimsTree:
    return ClaimsTree.load(ClaimEpoch.objects.get(pk=epoch_pk).tree_dump)


def tx_url(tx_hash: str) -> str:
    template = settings.CHAIN_EXPLORER_TX_URL
    return template.replace("{tx}", tx_hash) if template and tx_hash else ""


def _claimed_cumulative(addresses: list[str]) -> dict[tuple[str, int], int]:
    rows = (
        TokenClaim.objects.filter(address__in=addresses)
        .exclude(status=TokenClaim.Status.REORGED)
        .values("address", "token_id")
        .annotate(c=Max("cumulative"))
    )
    return {(r["address"], r["token_id"]): r["c"] for r in rows}


def claims_open(*, organisation: Organisation) -> list[dict]:
    """What the organisation's addresses can claim now under the newest anchored epoch: one row per
    (address, token) with the amount, the proof and the ``claim`` calldata a wallet sends."""
    epoch = ClaimEpoch.objects.filter(status=ClaimEpoch.Status.CONFIRMED).order_by("-number").first()
    if epoch is None:
        return []
    leaves = list(ClaimLeaf.objects.filter(epoch=epoch, organisation=organisation).order_by("token_id", "address"))
    claimed = _claimed_cumulative([leaf.address for leaf in leaves])
    tree = _tree(epoch.pk, epoch.root)
    out = []
    for leaf in leaves:
        already = claimed.get((leaf.address, leaf.token_id), 0)
        if leaf.cumulative <= already:
            continue
        proof = tree.proof(tree.index_of(leaf.address, leaf.token_id))
        out.append(
            {
                "epoch": epoch.number,
                "address": leaf.address,
                "token_id": leaf.token_id,
                "asset": ASSETS_BY_ID[leaf.token_id],
                "cumulative": leaf.cumulative,
                "amount": tokens_of(leaf.cumulative - already),
                "proof": ["0x" + p.hex() for p in proof],
                "calldata": claim_calldata(epoch.number, leaf.token_id, leaf.cumulative, proof),
                "contract": epoch.deployment.address,
                "chain_id": epoch.deployment.chain_id,
            }
        )
    return out


def token_position(*, organisation: Organisation) -> dict:
    """Per token kind: held (free in the ledger), being anchored, claimable, claimed; the claim address and
    the claims seen on chain with their transaction links."""
    positions = token_positions(organisations=[organisation])  # the one reading of token balances
    balances = {
        (kind, asset): positions.get(asset, {}).get(key, ZERO)
        for kind, key in ((K.PARTICIPANT, "free"), (K.CLAIMABLE, "claimable"), (K.CLAIMED, "claimed"))
        for asset in TOKENS
    }
    pending = {
        ASSETS_BY_ID[r["token_id"]]: tokens_of(r["s"])
        for r in ClaimLeaf.objects.filter(organisation=organisation)
        .exclude(epoch__status=ClaimEpoch.Status.CONFIRMED)
        .values("token_id")
        .annotate(s=Sum("added"))
    }
    rows = []
    for asset in TOKENS:
        claimable = balances.get((K.CLAIMABLE, asset), ZERO)
        anchoring = pending.get(asset, ZERO)
        rows.append(
            {
                "asset": asset,
                "token_id": TOKEN_IDS[asset],
                "held": balances.get((K.PARTICIPANT, asset), ZERO).quantize(ZERO),
                "anchoring": anchoring,
                "claimable": (claimable - anchoring).quantize(ZERO),
                "claimed": balances.get((K.CLAIMED, asset), ZERO).quantize(ZERO),
            }
        )
    claims = [
        {
            "asset": ASSETS_BY_ID[c.token_id],
            "amount": tokens_of(c.amount),
            "address": c.address,
            "tx_hash": c.tx_hash,
            "tx_url": tx_url(c.tx_hash),
            "status": c.get_status_display(),
            "block": c.block_number,
        }
        for c in TokenClaim.objects.filter(organisation=organisation).order_by("-block_number", "-log_index")[:50]
    ]
    return {"address": claim_address_for(organisation), "tokens": rows, "claims": claims}


def claims_bundle(*, organisation: Organisation) -> dict:
    """The proof bundle for ``docs/claim_tokens.py``: everything needed to claim without the platform."""
    open_claims = claims_open(organisation=organisation)
    first = open_claims[0] if open_claims else None
    return {
        "format": "flexplatform-claims-v1",
        "chainId": first["chain_id"] if first else None,
        "contract": first["contract"] if first else None,
        "epoch": first["epoch"] if first else None,
        "root": ClaimEpoch.objects.get(number=first["epoch"]).root if first else None,
        "claims": [
            {
                "account": c["address"],
                "tokenId": c["token_id"],
                "asset": c["asset"],
                "cumulative": str(c["cumulative"]),
                "proof": c["proof"],
            }
            for c in open_claims
        ],
    }
