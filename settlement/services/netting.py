"""Receivables netting: what a participant owes is settled first from what the platform later owes it.

A penalty is taken from the participant's balance; what the balance cannot cover becomes a receivable (a
negative ``receivable`` account, :mod:`settlement.services.penalties`). Every later payment into the
participant's account then first settles that receivable: one journal entry per netting,
``participant -x, receivable +x`` with x = min(participant balance, amount owed), and only the rest stays
payable to the participant. The participant's net position (participant + receivable) does not change; the
entry is the record that shows the payment was applied to the debt.

Called in the same transaction as the payment: by every settlement run (after all its payments), by the
per-event payment and by dispute adjustments. The accounts are locked in id order, so two nettings of one
participant run one after the other and the second finds nothing left to net.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from ..models import JournalEntry, LedgerAccount
from .ledger import journal_post

K = LedgerAccount.Kind


def receivables_outstanding(*, currency: str | None = None, organisation_ids: Iterable[int] | None = None) -> dict:
    """Organisation id -> what it owes the platform (a positive amount) in ``currency``."""
    currency = currency or settings.SETTLEMENT_CURRENCY
    rows = LedgerAccount.objects.filter(kind=K.RECEIVABLE, asset=currency, balance__lt=0)
    if organisation_ids is not None:
        rows = rows.filter(organisation_id__in=list(organisation_ids))
    return {org: -balance for org, balance in rows.values_list("organisation_id", "balance")}


@transaction.atomic
def receivables_net(
    *, reference: str, currency: str | None = None, organisation_ids: Iterable[int] | None = None
) -> list[JournalEntry]:
    """Net every outstanding receivable (of ``organisation_ids``, or of everyone) against the participant's
    balance. ``reference`` names the payment or run that triggered it and makes each netting's key unique:
    ``netting:<reference>:org:<id>``."""
    currency = currency or settings.SETTLEMENT_CURRENCY
    owing = receivables_outstanding(currency=currency, organisation_ids=organisation_ids)
    entries = []
    for org in sorted(owing):
        accounts = list(
            LedgerAccount.objects.select_for_update()
            .filter(organisation_id=org, asset=currency, kind__in=[K.PARTICIPANT, K.RECEIVABLE])
            .order_by("pk")
        )
        by_kind = {a.kind: a for a in accounts}
        wallet, receivable = by_kind.get(K.PARTICIPANT), by_kind.get(K.RECEIVABLE)
        if wallet is None or receivable is None:
            continue
        amount = min(wallet.balance, -receivable.balance)  # re-read under the locks
        if amount <= Decimal("0"):
            continue
        owed = -receivable.balance
        entries.append(
            journal_post(
                business_key=f"netting:{reference}:org:{org}",
                memo=(
                    f"Netting: {amount} {currency} of the payments ({reference}) applied to the {owed} owed"
                    f"{'' if amount == owed else f'; {owed - amount} still owed'}"
                )[:300],
                legs=[(wallet, -amount), (receivable, amount)],
            )
        )
    return entries
