"""Penalties recorded by the activation app (shortfall x penalty rate), settled into the ledger.

The activation app computes the penalty and calls :func:`penalty_settle` with plain values. The penalty is
taken from the participant's account up to its balance; what the balance cannot cover becomes a receivable
(the participant owes it, netted against later payments by a later issue). Both legs credit the platform's
penalty pool. Exactly once per business key.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Organisation
from activation.models import DREvent, Penalty
from flexplatform.errors import ApplicationError

from .. import assets
from ..errors import SettlementError
from ..models import LedgerAccount, SettlementItem
from .ledger import account_for, journal_post, platform_account
from .payments import period_for
from .splits import event_awards, penalty_allocation, portfolio_sales

K = LedgerAccount.Kind


def penalty_settle(
    *, event_id: int, payee: Organisation, amount: Decimal, reason: str, business_key: str, now: datetime | None = None
) -> SettlementItem:
    """Charge the penalty once. An event of an award sold through a portfolio charges the member only their share
    under the accepted terms and the aggregator the rest (``settlement.services.splits``, ADR 0024); the first
    item charged is returned."""
    now = now or timezone.now()
    key = f"penalty:{business_key}"
    existing = SettlementItem.objects.filter(business_key__in=[key, f"{key}:aggregator"]).order_by("pk").first()
    if existing is not None:
        return existing
    if amount <= 0 or amount != assets.money(amount):
        raise ApplicationError(
            "A penalty is a positive amount in cents.",
            code=SettlementError.INVALID_PENALTY,
            fields={"amount": ["Positive, 2 decimals."]},
        )
    event = DREvent.objects.get(pk=event_id)
    award_id = event_awards([event.pk]).get(event.pk)
    sale = portfolio_sales([award_id]).get(award_id)
    if sale is None or sale.member_id != payee.pk:
        return _charge(
            event_id=event_id, payee=payee, amount=amount, memo=f"Penalty, event {event_id}: {reason}", key=key, now=now
        )
    terms = sale.terms()
    member_pct = terms.member_penalty_pct if terms else Decimal("0")
    member, aggregator = penalty_allocation(amount=amount, member_pct=member_pct)
    named = f"terms v{terms.version}" if terms else "no terms accepted"
    memo = f"Penalty {amount}, event {event_id}: {reason}; member bears {member_pct} % ({named})"
    first = None
    with transaction.atomic():
        for org, part, k, who in (
            (payee, member, key, "Member's share of p"),
            (
                Organisation.objects.get(pk=sale.aggregator_id),
                aggregator,
                f"{key}:aggregator",
                "Aggregator's share of p",
            ),
        ):
            if part > 0:
                item = _charge(event_id=event_id, payee=org, amount=part, memo=f"{who}{memo[1:]}", key=k, now=now)
                first = first or item
    return first


def penalty_settle_recorded(*, penalty: Penalty) -> SettlementItem:
    """Charge a penalty the activation app recorded (shortfall or opt-out) to its payer, once."""
    return penalty_settle(
        event_id=penalty.event_id,
        payee=penalty.payer,
        amount=penalty.amount,
        reason=f"{penalty.get_reason_display()}: {penalty.shortfall_kwh} kWh x {penalty.rate_per_mwh}/MWh",
        business_key=f"activation:{penalty.pk}",
    )


def penalties_settle_recorded(*, penalty_ids: list[int]) -> list[int]:
    """:func:`penalty_settle_recorded` for each of these penalties (read in one query), in id order; returns the
    items' ids (each charged once: a repeat returns the item charged before)."""
    penalties = Penalty.objects.filter(pk__in=penalty_ids).select_related("payer").order_by("pk")
    return [penalty_settle_recorded(penalty=p).pk for p in penalties]


def _charge(
    *, event_id: int, payee: Organisation, amount: Decimal, memo: str, key: str, now: datetime
) -> SettlementItem:
    currency = settings.SETTLEMENT_CURRENCY
    with transaction.atomic():
        event = DREvent.objects.select_for_update().get(pk=event_id)
        existing = SettlementItem.objects.filter(business_key=key).first()
        if existing is not None:
            return existing
        wallet = account_for(organisation=payee, kind=K.PARTICIPANT, asset=currency)
        wallet = LedgerAccount.objects.select_for_update().get(pk=wallet.pk)
        from_balance = min(amount, max(wallet.balance, Decimal("0")))
        legs = [(platform_account(K.PENALTY_POOL, currency), amount)]
        if from_balance > 0:
            legs.append((wallet, -from_balance))
        if amount - from_balance > 0:
            legs.append((account_for(organisation=payee, kind=K.RECEIVABLE, asset=currency), -(amount - from_balance)))
        memo = memo[:300]
        entry = journal_post(business_key=key, memo=memo, legs=legs)
        return SettlementItem.objects.create(
            business_key=key,
            kind=SettlementItem.Kind.PENALTY,
            payee=payee,
            premise_id=event.premise_id,
            event=event,
            award_id=event.award_id,
            quantity_kwh=0,
            price_per_mwh=0,
            amount=-amount,
            currency=currency,
            delivery_start=event.start,
            period=period_for(delivery_start=event.start, now=now),
            journal_entry=entry,
            memo=memo,
        )
