"""Disputes: a participant contests a settlement item; an admin upholds (posting an adjustment) or rejects it.

The original item and its entry are never changed. An upheld dispute posts a new, balanced adjustment entry
between the payee and whoever paid the original item (its counter-leg; the treasury when there are several),
as a new ``adjustment`` item. Every step is in the audit trail.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import NotificationKind
from accounts.notifications import notification_create
from flexplatform.errors import ApplicationError, Conflict, NotPermitted

from .. import assets
from ..errors import SettlementError
from ..models import Dispute, LedgerAccount, SettlementItem
from .audit_trail import audit
from .ledger import account_for, journal_post, platform_account
from .netting import receivables_net
from .payments import period_for

K = LedgerAccount.Kind


def dispute_open(*, item: SettlementItem, user, organisations: list, reason: str) -> Dispute:
    if item.payee not in organisations:
        raise NotPermitted("Only the payee may dispute an item.")
    if not reason.strip():
        raise ApplicationError(
            "Give a reason.", code=SettlementError.INVALID, fields={"reason": ["This field may not be blank."]}
        )
    try:
        with transaction.atomic():
            dispute = Dispute.objects.create(item=item, raised_by=user, reason=reason.strip())
            audit(
                action="dispute.opened", obj=dispute, actor=user, organisation=item.payee, item=item.pk, reason=reason
            )
    except IntegrityError as exc:
        raise Conflict("This item already has an open dispute.") from exc
    return dispute


def dispute_resolve(
    *,
    dispute_id: int,
    admin,
    uphold: bool,
    resolution: str,
    adjustment: Decimal | None = None,
    now: datetime | None = None,
) -> Dispute:
    now = now or timezone.now()
    if not resolution.strip():
        raise ApplicationError(
            "Explain the resolution.", code=SettlementError.INVALID, fields={"resolution": ["Required."]}
        )
    if uphold and (adjustment is None or adjustment == 0 or adjustment != assets.money(adjustment)):
        raise ApplicationError(
            "An upheld dispute needs a non-zero adjustment in cents.",
            code=SettlementError.INVALID,
            fields={"adjustment": ["Non-zero, 2 decimals."]},
        )
    with transaction.atomic():
        dispute = Dispute.objects.select_for_update().select_related("item").get(pk=dispute_id)
        if dispute.status != Dispute.Status.OPEN:
            raise Conflict(f"Dispute {dispute.pk} is already {dispute.status}.")
        item = dispute.item
        if uphold:
            payee_acct = account_for(organisation=item.payee, kind=K.PARTICIPANT, asset=item.currency)
            counter = None
            if item.journal_entry_id:
                others = [
                    p.account
                    for p in item.journal_entry.postings.select_related("account")
                    if p.account_id != payee_acct.pk
                ]
                counter = others[0] if len(others) == 1 else None
            counter = counter or platform_account(K.TREASURY, item.currency)
            key = f"adjustment:dispute:{dispute.pk}"
            memo = f"Dispute {dispute.pk} on item {item.pk} upheld: {resolution}"[:300]
            entry = journal_post(business_key=key, memo=memo, legs=[(payee_acct, adjustment), (counter, -adjustment)])
            dispute.adjustment_item = SettlementItem.objects.create(
                business_key=key,
                kind=SettlementItem.Kind.ADJUSTMENT,
                payee=item.payee,
                premise=item.premise,
                event=item.event,
                award=item.award,
                contract=item.contract,
                quantity_kwh=0,
                price_per_mwh=0,
                amount=adjustment,
                currency=item.currency,
                delivery_start=item.delivery_start,
                period=period_for(delivery_start=now, now=now),
                journal_entry=entry,
                memo=memo,
            )
            dispute.adjustment_amount = adjustment
            if adjustment > 0:
                receivables_net(reference=key, currency=item.currency, organisation_ids=[item.payee_id])
        dispute.status = Dispute.Status.UPHELD if uphold else Dispute.Status.REJECTED
        dispute.resolution = resolution.strip()
        dispute.resolved_by = admin
        dispute.resolved_at = now
        dispute.save(
            update_fields=["status", "resolution", "resolved_by", "resolved_at", "adjustment_item", "adjustment_amount"]
        )
        audit(
            action=f"dispute.{dispute.status}",
            obj=dispute,
            actor=admin,
            organisation=item.payee,
            adjustment=adjustment or 0,
            resolution=resolution,
        )
        notification_create(  # in the outcome's transaction (ADR 0030)
            organisation_ids=[item.payee_id],
            kind=NotificationKind.DISPUTE_OUTCOME,
            key=f"dispute_outcome:{dispute.pk}",
            title=f"Your dispute {dispute.pk} was {dispute.get_status_display().lower()}",
            body=f"{resolution.strip()}" + (f" Adjustment: {adjustment} {item.currency}." if uphold else ""),
            url=f"/payments/{item.pk}/",
            now=now,
        )
    return dispute
