"""Linking a web3 wallet by an EIP-4361 "Sign-In with Ethereum" message, verified server-side with eth-account.

The server issues the message (domain, address, statement, URI, version 1, chain id, a one-time nonce, issued
and expiration times); the user signs it with the wallet (EIP-191 ``personal_sign``); the server recovers the
signer and links the address. Each nonce works once, so re-linking (or linking another address) needs a new
message and a new signature. Spec: https://eips.ethereum.org/EIPS/eip-4361
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import is_address, to_checksum_address

from flexplatform.errors import ApplicationError, Conflict

from .audit import audit_record
from .errors import AccountsError
from .models import AuditEntry, SiweNonce, WalletLink

STATEMENT = "Link this wallet to my FlexMarket account."
NONCE_TTL = timedelta(minutes=10)
_FIELD = re.compile(r"^(URI|Version|Chain ID|Nonce|Issued At|Expiration Time): (.+)$")


def siwe_message(
    *, domain: str, address: str, uri: str, chain_id: int, nonce: str, issued_at: datetime, expires_at: datetime
) -> str:
    def iso(d: datetime) -> str:
        return d.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    return (
        f"{domain} wants you to sign in with your Ethereum account:\n{address}\n\n{STATEMENT}\n\n"
        f"URI: {uri}\nVersion: 1\nChain ID: {chain_id}\nNonce: {nonce}\n"
        f"Issued At: {iso(issued_at)}\nExpiration Time: {iso(expires_at)}"
    )


def siwe_parse(message: str) -> dict:
    lines = message.split("\n")
    if len(lines) < 6 or not lines[0].endswith(" wants you to sign in with your Ethereum account:"):
        raise ApplicationError("Not an EIP-4361 message.", fields={"message": ["Not a Sign-In with Ethereum message."]})
    out = {"domain": lines[0].split(" ", 1)[0], "address": lines[1].strip()}
    for line in lines[2:]:
        m = _FIELD.match(line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


@transaction.atomic
def wallet_nonce_issue(
    *, user, address: str, domain: str, uri: str, chain_id: int = 1, now: datetime | None = None
) -> SiweNonce:
    if not is_address(address):
        raise ApplicationError("Not an Ethereum address.", fields={"address": ["Invalid address."]})
    now = (now or timezone.now()).replace(microsecond=0)
    nonce = secrets.token_hex(8)
    message = siwe_message(
        domain=domain,
        address=to_checksum_address(address),
        uri=uri,
        chain_id=chain_id,
        nonce=nonce,
        issued_at=now,
        expires_at=now + NONCE_TTL,
    )
    return SiweNonce.objects.create(user=user, nonce=nonce, message=message, issued_at=now, expires_at=now + NONCE_TTL)


@transaction.atomic
def wallet_link(*, user, message: str, signature: str, domain: str, now: datetime | None = None) -> WalletLink:
    """Verify the signed message and link its address to ``user``. Refused: a message not issued to this user, a
    used or expired nonce, another domain, or a signature by another key."""
    now = now or timezone.now()
    fields = siwe_parse(message)
    nonce = SiweNonce.objects.select_for_update().filter(nonce=fields.get("Nonce", ""), user=user).first()
    if nonce is None or nonce.message != message:
        raise ApplicationError(
            "This message was not issued to you.",
            code=AccountsError.SIWE_UNKNOWN,
            fields={"message": ["Unknown nonce."]},
        )
    if nonce.used_at is not None:
        raise Conflict("This message was already used; request a new one.", code=AccountsError.SIWE_REPLAYED)
    if nonce.expires_at <= now:
        raise ApplicationError("This message has expired; request a new one.", code=AccountsError.SIWE_EXPIRED)
    if fields["domain"] != domain:
        raise ApplicationError("The message is for another domain.", code=AccountsError.SIWE_DOMAIN)
    try:
        signer = Account.recover_message(encode_defunct(text=message), signature=signature)
    except Exception:  # noqa: BLE001 - any malformed signature is a refusal
        raise ApplicationError(
            "The signature is invalid.", code=AccountsError.SIWE_SIGNATURE, fields={"signature": ["Invalid."]}
        ) from None
    address = to_checksum_address(fields["address"])
    if signer != address:
        raise ApplicationError(
            "The signature is not by the message's address.",
            code=AccountsError.SIWE_SIGNATURE,
            fields={"signature": ["Wrong signer."]},
        )
    nonce.used_at = now
    nonce.save(update_fields=["used_at"])
    previous = WalletLink.objects.select_for_update().filter(user=user).first()
    try:
        with transaction.atomic():
            if previous is None:
                link = WalletLink.objects.create(
                    user=user, address=address, message=message, signature=signature, linked_at=now
                )
            else:
                previous.address, previous.message, previous.signature, previous.linked_at = (
                    address,
                    message,
                    signature,
                    now,
                )
                previous.save(update_fields=["address", "message", "signature", "linked_at"])
                link = previous
    except IntegrityError:
        raise Conflict("This wallet is linked to another account.", code=AccountsError.WALLET_TAKEN) from None
    audit_record(
        subject_type=AuditEntry.Subject.WALLET,
        subject_id=link.pk,
        organisation=None,
        actor=user,
        from_status="linked" if previous else "",
        to_status="linked",
        reason=f"Wallet {address} (nonce {nonce.nonce}).",
        at=now,
    )
    return link
