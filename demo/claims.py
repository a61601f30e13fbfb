"""The end of the demo's market day: one consumer links a wallet and claims its FLEX tokens on chain.

The same services the portal's "Wallet & claims" page calls: the consumer's wallet signs a Sign-In-with-Ethereum
message (``accounts.wallets``), the daily claims epoch moves the linked participants' tokens to claimable and
anchors its root (``settlement.services.claims``), the wallet sends ``claim`` with its proof (signed by the
wallet's own key, here a demo key), and the platform counts the Claimed events.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Sum
from eth_account import Account
from eth_account.messages import encode_defunct

from accounts import wallets
from accounts.models import Membership, WalletLink
from settlement.claims_tree import TOKEN_IDS
from settlement.merkle import keccak256
from settlement.models import LedgerAccount
from settlement.selectors_claims import claims_open
from settlement.services.claims import claims_epoch_close, claims_sync, token_client, token_deployment_current

from .world import World

DOMAIN = "localhost:8000"


@dataclass
class DemoClaim:
    email: str
    address: str
    contract: str = ""
    claims: list[tuple[str, str, int]] = field(default_factory=list)  # (asset, tx hash, gas used)
    balances: dict[str, int] = field(default_factory=dict)  # asset -> on-chain balance in 0.01 token


def demo_wallet_key(email: str) -> str:
    """The demo consumer's wallet key (a demo stands in for the consumer's own wallet; never a real key)."""
    return "0x" + keccak256(f"flexplatform demo wallet {email}".encode()).hex()


def consumer_claim_run(*, world: World) -> DemoClaim | None:
    """The demo consumer holding (or having claimed) the most tokens links its wallet and claims all it can."""
    totals = dict(
        LedgerAccount.objects.filter(
            kind__in=[LedgerAccount.Kind.PARTICIPANT, LedgerAccount.Kind.CLAIMABLE, LedgerAccount.Kind.CLAIMED],
            asset__in=list(TOKEN_IDS),
            balance__gt=0,
            organisation__isnull=False,
        )
        .values("organisation_id")
        .annotate(total=Sum("balance"))
        .values_list("organisation_id", "total")
    )
    members = Membership.objects.filter(organisation_id__in=totals, role=Membership.Role.CONSUMER).select_related(
        "user", "organisation"
    )
    # The consumer holding (or having claimed) the most tokens; ties by email.
    member = min(members, key=lambda m: (-totals[m.organisation_id], m.user.email), default=None)
    if member is None:
        return None
    user, org = member.user, member.organisation
    key = demo_wallet_key(user.email)
    wallet = Account.from_key(key)
    if not WalletLink.objects.filter(user=user, address=wallet.address).exists():
        nonce = wallets.wallet_nonce_issue(user=user, address=wallet.address, domain=DOMAIN, uri=f"http://{DOMAIN}/")
        signature = "0x" + wallet.sign_message(encode_defunct(text=nonce.message)).signature.hex().removeprefix("0x")
        wallets.wallet_link(user=user, message=nonce.message, signature=signature, domain=DOMAIN)
    client = token_client()
    deployment = token_deployment_current(client=client)
    claims_epoch_close(client=client, wait=True)
    holder = client.with_key(key)
    out = DemoClaim(email=user.email, address=wallet.address, contract=deployment.address)
    rows = claims_open(organisation=org)
    if rows and holder.w3.eth.get_balance(wallet.address) < 10**16:
        client.fund_dev_account(wallet.address)
    for row in rows:
        if row["address"] != wallet.address.lower():
            continue
        receipt = holder.claim(row["epoch"], row["token_id"], row["cumulative"], row["proof"])
        out.claims.append((row["asset"], receipt.tx_hash, receipt.gas_used))
    claims_sync(client=client)
    out.balances = {
        asset: holder.balance_of(wallet.address, token_id)
        for asset, token_id in TOKEN_IDS.items()
        if holder.balance_of(wallet.address, token_id)
    }
    return out
