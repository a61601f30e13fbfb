"""Staked FLEX collateral: what a participant has locked as a performance bond for premium markets.

The market's staking gate (premium products such as the ancillary services require staked collateral
proportional to the offered kW, see ``market.engine.products``) reads :func:`staked_collateral`. The stake is
the balance of the organisation's ``staked`` ledger account in the ``FLEX`` asset, kept by the double-entry
ledger (``settlement.services.ledger``): staking moves FLEX from the platform treasury (or a participant's
FLEX wallet account, once the compensation work adds it) into that account, unstaking moves it back, and
slashing for non-delivery moves it to fees. Only :func:`stake_deposit` exists so far; unstaking, lock-up
periods and slashing are built on top of these two functions.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from accounts.models import Organisation

from ..models import LedgerAccount, Posting
from .ledger import account_for, journal_post

STAKE_ASSET = "FLEX"


def staked_collateral(organisation: Organisation) -> Decimal:
    """The FLEX an organisation has staked (0 if it never staked). Read-only: creates no account."""
    total = Posting.objects.filter(
        account__organisation=organisation, account__kind=LedgerAccount.Kind.STAKED, account__asset=STAKE_ASSET
    ).aggregate(total=Sum("amount"))["total"]
    return total or Decimal("0")


def stake_deposit(*, organisation: Organisation, amount: Decimal, business_key: str) -> Decimal:
    """Stake ``amount`` FLEX for an organisation, once per ``business_key``; returns the new stake."""
    if amount <= 0:
        from flexplatform.errors import ApplicationError

        raise ApplicationError("A stake must be positive.", fields={"amount": ["Must be greater than zero."]})
    staked = account_for(organisation=organisation, kind=LedgerAccount.Kind.STAKED, asset=STAKE_ASSET)
    treasury = account_for(organisation=None, kind=LedgerAccount.Kind.TREASURY, asset=STAKE_ASSET)
    journal_post(
        business_key=f"stake:{business_key}",
        memo=f"FLEX staked by {organisation}",
        legs=[(treasury, -Decimal(amount)), (staked, Decimal(amount))],
    )
    return staked_collateral(organisation)
