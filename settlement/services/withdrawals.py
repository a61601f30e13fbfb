"""Withdrawals of tokens to the participant's linked wallet, recorded as pending on-chain transfers.

The tokens leave the participant's account for the platform's ``withdrawal_pending`` account in one entry;
a later issue sends them on chain and marks the withdrawal sent. Exactly once per business key.
"""

from __future__ import annotations

import re
from decimal import Decimal

from django.db import transaction

from flexplatform.errors import ApplicationError

from .. import assets
from ..errors import SettlementError
from ..models import LedgerAccount, WalletLink, Withdrawal
from .audit_trail import audit
from .ledger import account_for, journal_post, platform_account

K = LedgerAccount.Kind
ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def wallet_link(*, organisation, address: str, actor=None) -> WalletLink:
    if not ADDRESS.match(address):
        raise ApplicationError(
            "Not an Ethereum address.", code=SettlementError.INVALID, fields={"address": ["0x + 40 hex digits."]}
        )
    with transaction.atomic():
        link, _ = WalletLink.objects.update_or_create(organisation=organisation, defaults={"address": address})
        audit(action="wallet.linked", obj=link, actor=actor, organisation=organisation, address=address)
    return link


def withdrawal_request(*, organisation, asset: str, amount: Decimal, business_key: str, actor=None) -> Withdrawal:
    key = f"withdrawal:org{organisation.pk}:{business_key}"
    existing = Withdrawal.objects.filter(business_key=key).first()
    if existing is not None:
        return existing
    errors = {}
    if not assets.is_token(asset):
        errors["asset"] = [f"Withdraw one of {', '.join(assets.TOKENS)}."]
    if amount <= 0 or amount != amount.quantize(assets.CENT):
        errors["amount"] = ["A positive amount with at most 2 decimals."]
    link = WalletLink.objects.filter(organisation=organisation).first()
    if link is None:
        errors["wallet"] = ["Link a wallet first."]
    if errors:
        raise ApplicationError("Invalid withdrawal.", code=SettlementError.INVALID, fields=errors)
    with transaction.atomic():
        entry = journal_post(
            business_key=key,
            memo=f"Withdrawal of {amount} {asset} to {link.address}",
            legs=[
                (account_for(organisation=organisation, kind=K.PARTICIPANT, asset=asset), -amount),
                (platform_account(K.WITHDRAWAL_PENDING, asset), amount),
            ],
        )
        withdrawal = Withdrawal.objects.create(
            organisation=organisation,
            asset=asset,
            amount=amount,
            to_address=link.address,
            business_key=key,
            journal_entry=entry,
        )
        audit(
            action="withdrawal.requested",
            obj=withdrawal,
            actor=actor,
            organisation=organisation,
            amount=amount,
            asset=asset,
        )
    return withdrawal
