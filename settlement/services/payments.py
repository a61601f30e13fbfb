"""Payments for verified delivery.

Performance payment (rule ``performance-2``, :data:`settlement.assets.PERFORMANCE_RULE`):
``amount = min(delivered kWh, dispatched kWh) x clearing price per MWh / 1000``, rounded half-up to the
currency's minor unit (cents). The dispatched quantity is the event's commitment (target kW x duration): an ISO
pays demand-response energy up to the dispatch instruction (CAISO PDR); delivery above it is rewarded only by the
capped over-delivery bonus of the settlement run (:func:`settlement.assets.over_delivery_bonus`). The operator that bought the flexibility pays the
premise's owner: one journal entry debits the operator's payable account and credits the participant.
Rounding happens once per item, so an item's amount equals its journal entry to the cent.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Organisation
from activation.models import DREvent, EventVerification
from flexplatform.errors import ApplicationError

from ..assets import PERFORMANCE_RULE, paid_kwh
from ..errors import SettlementError
from ..models import LedgerAccount, SettlementItem, SettlementPeriod
from .ledger import account_for, accounts_ensure, journal_post

CENT = Decimal("0.01")
PERIOD = timedelta(hours=1)


def performance_amount(*, delivered_kwh: Decimal, price_per_mwh: Decimal) -> Decimal:
    return (delivered_kwh * price_per_mwh / Decimal(1000)).quantize(CENT, rounding=ROUND_HALF_UP)


def performance_memo(event_id: int, delivered: Decimal, paid: Decimal, price: Decimal) -> str:
    capped = f", capped at the dispatched {paid} kWh" if paid < delivered else ""
    return (
        f"Performance payment ({PERFORMANCE_RULE}), event {event_id}: {delivered} kWh delivered{capped} at {price}/MWh"
    )


def hour_floor(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def period_for(*, delivery_start: datetime, now: datetime) -> SettlementPeriod:
    """The open period an item joins: its delivery hour, or, if that hour is already sealed, the current hour.

    The period row is locked, so an item and the sealing of its period cannot interleave.
    """
    for start in (hour_floor(delivery_start), hour_floor(now)):
        SettlementPeriod.objects.get_or_create(start=start, defaults={"end": start + PERIOD})
        period = SettlementPeriod.objects.select_for_update(no_key=True).get(start=start)
        if period.sealed_at is None:
            return period
    start = hour_floor(now) + PERIOD
    SettlementPeriod.objects.get_or_create(start=start, defaults={"end": start + PERIOD})
    return SettlementPeriod.objects.select_for_update(no_key=True).get(start=start)


def periods_ensure(starts) -> None:
    """Create the hourly periods starting at ``starts`` (in order, each committed on its own when not inside an
    outer transaction), so long settlement transactions only lock existing period rows and never wait on
    another's uncommitted insert."""
    for start in sorted({hour_floor(s) for s in starts}):
        SettlementPeriod.objects.get_or_create(start=start, defaults={"end": start + PERIOD})


def settlement_create_for_event(*, event_id: int, now: datetime | None = None) -> SettlementItem:
    """Pay the premise owner for the event's verified delivery, exactly once (business key per event)."""
    now = now or timezone.now()
    business_key = f"performance:event:{event_id}"
    currency = settings.SETTLEMENT_CURRENCY
    from .splits import portfolio_event_settle  # splits posts through posting, which imports this module

    split_item = portfolio_event_settle(event_id=event_id, now=now)
    if split_item is not None:  # sold through a portfolio: member share and aggregator fee (ADR 0024)
        return split_item
    # The accounts are created outside the payment's transaction (committed at once), so a settlement run
    # creating the same accounts never waits on this transaction's uncommitted rows.
    facts = DREvent.objects.filter(pk=event_id).values_list("buyer_id", "premise__organisation_id").first()
    if facts is not None:
        periods_ensure([DREvent.objects.values_list("start", flat=True).get(pk=event_id), now])
        accounts_ensure(
            {
                (facts[0], LedgerAccount.Kind.OPERATOR_PAYABLE, currency),
                (facts[1], LedgerAccount.Kind.PARTICIPANT, currency),
            }
        )
    with transaction.atomic():
        existing = SettlementItem.objects.filter(business_key=business_key).first()
        if existing is not None:
            return existing
        event = (
            DREvent.objects.select_for_update(of=("self",))
            .select_related("buyer", "premise__organisation")
            .get(pk=event_id)
        )
        verification = EventVerification.objects.filter(event=event).first()
        if verification is None:
            raise ApplicationError(f"Event {event.pk} has not been verified.", code=SettlementError.NOT_VERIFIED)
        existing = SettlementItem.objects.filter(business_key=business_key).first()
        if existing is not None:  # settled by a concurrent worker while we waited for the lock
            return existing
        payee: Organisation = event.premise.organisation
        # the price and buyer fixed on the event when it was created (award, trade, reservation, program)
        operator: Organisation | None = event.buyer
        price = event.price_per_mwh
        if operator is None or price is None:
            raise ApplicationError(
                f"Event {event.pk} has no buyer or price to settle at.", code=SettlementError.NOT_SETTLEABLE
            )
        paid = paid_kwh(delivered_kwh=verification.delivered_kwh, dispatched_kwh=verification.committed_kwh)
        amount = performance_amount(delivered_kwh=paid, price_per_mwh=price)
        period = period_for(delivery_start=event.start, now=now)
        memo = performance_memo(event.pk, verification.delivered_kwh, paid, price)
        legs = []
        if amount:
            legs = [
                (account_for(organisation=operator, kind=LedgerAccount.Kind.OPERATOR_PAYABLE, asset=currency), -amount),
                (account_for(organisation=payee, kind=LedgerAccount.Kind.PARTICIPANT, asset=currency), amount),
            ]
        entry = journal_post(business_key=business_key, memo=memo, legs=legs) if legs else None
        if entry is not None:
            from .netting import receivables_net

            receivables_net(reference=business_key, currency=currency, organisation_ids=[payee.pk])
        return SettlementItem.objects.create(
            business_key=business_key,
            kind=SettlementItem.Kind.PERFORMANCE,
            payee=payee,
            premise=event.premise,
            event=event,
            award_id=event.award_id,
            quantity_kwh=paid,
            price_per_mwh=price,
            amount=amount,
            currency=currency,
            delivery_start=event.start,
            period=period,
            journal_entry=entry,
            memo=memo,
        )
