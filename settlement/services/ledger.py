"""The double-entry ledger: balanced, idempotent, append-only journal entries.

Sign convention: a posting's ``amount`` adds to its account's balance. A participant account's balance is
what the platform owes the participant; an operator payable account goes negative by what the operator owes.
Every entry's postings sum to zero per asset. Corrections are new, reversing entries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum

from accounts.models import Organisation
from flexplatform.errors import ApplicationError

from ..models import JournalEntry, LedgerAccount, Posting


class UnbalancedEntry(ApplicationError):
    code = "unbalanced_entry"


class InsufficientBalance(ApplicationError):
    code = "insufficient_balance"


def account_for(*, organisation: Organisation | None, kind: str, asset: str) -> LedgerAccount:
    allow_negative = kind in (LedgerAccount.Kind.OPERATOR_PAYABLE, LedgerAccount.Kind.TREASURY)
    owner = f"org{organisation.pk}" if organisation is not None else "platform"
    account, _ = LedgerAccount.objects.get_or_create(
        organisation=organisation,
        kind=kind,
        asset=asset,
        defaults={"code": f"{owner}:{kind}:{asset}", "allow_negative": allow_negative},
    )
    return account


# A posting's amount has four decimal places. SQLite sums decimals as floats (0.1 + 0.2 - 0.3 is 5.6e-17 there),
# so sums are rounded back to those places; on Postgres (exact numeric) this changes nothing.
AMOUNT_QUANTUM = Decimal("0.0001")


def account_balance(account: LedgerAccount) -> Decimal:
    total = Posting.objects.filter(account=account).aggregate(total=Sum("amount"))["total"] or Decimal("0")
    return total.quantize(AMOUNT_QUANTUM)


@transaction.atomic
def journal_post(
    *, business_key: str, memo: str, legs: Sequence[tuple[LedgerAccount, Decimal]], reverses: JournalEntry | None = None
) -> JournalEntry:
    """Post a balanced entry once per ``business_key``; a repeat returns the entry already posted."""
    existing = JournalEntry.objects.filter(business_key=business_key).first()
    if existing is not None:
        return existing
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for account, amount in legs:
        if amount == 0:
            raise UnbalancedEntry("A posting cannot be zero.")
        totals[account.asset] += amount
    unbalanced = {asset: total for asset, total in totals.items() if total != 0}
    if unbalanced or not legs:
        raise UnbalancedEntry(f"Postings do not sum to zero per asset: {unbalanced}.")
    # Lock the accounts in a fixed order so concurrent entries cannot deadlock or overdraw.
    ids = sorted({account.pk for account, _ in legs})
    locked = {a.pk: a for a in LedgerAccount.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    entry = JournalEntry.objects.create(business_key=business_key, memo=memo, reverses=reverses)
    Posting.objects.bulk_create(
        [Posting(entry=entry, account=account, asset=account.asset, amount=amount) for account, amount in legs]
    )
    for pk in ids:
        account = locked[pk]
        if not account.allow_negative and account_balance(account) < 0:
            raise InsufficientBalance(f"Account {account.code} would go negative.")
    return entry


@transaction.atomic
def journal_reverse(*, entry: JournalEntry, memo: str) -> JournalEntry:
    """Correct an entry by posting its exact opposite (the original stays)."""
    legs = [(p.account, -p.amount) for p in entry.postings.select_related("account")]
    return journal_post(business_key=f"reversal:{entry.business_key}", memo=memo, legs=legs, reverses=entry)
