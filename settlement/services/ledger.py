"""The double-entry ledger: balanced, idempotent, append-only journal entries.

Sign convention: a posting's ``amount`` adds to its account's balance. A participant account's balance is
what the platform owes the participant; an operator payable account goes negative by what the operator owes.
Every entry's postings sum to zero per asset. Corrections are new, reversing entries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Sum

from accounts.models import Organisation
from flexplatform.errors import ApplicationError

from ..errors import SettlementError
from ..models import JournalEntry, LedgerAccount, Posting


class UnbalancedEntry(ApplicationError):
    code = SettlementError.UNBALANCED_ENTRY


class InsufficientBalance(ApplicationError):
    code = SettlementError.INSUFFICIENT_BALANCE


NEGATIVE_ALLOWED = frozenset(
    {
        LedgerAccount.Kind.OPERATOR_PAYABLE,  # what an operator owes
        LedgerAccount.Kind.TREASURY,  # fiat funding and the token mint (minus the tokens outstanding)
        LedgerAccount.Kind.RECEIVABLE,  # what a participant owes (penalties beyond their balance)
        LedgerAccount.Kind.ROUNDING,
    }
)


def account_for(*, organisation: Organisation | None, kind: str, asset: str) -> LedgerAccount:
    allow_negative = kind in NEGATIVE_ALLOWED
    owner = f"org{organisation.pk}" if organisation is not None else "platform"
    account, _ = LedgerAccount.objects.get_or_create(
        organisation=organisation,
        kind=kind,
        asset=asset,
        defaults={"code": f"{owner}:{kind}:{asset}", "allow_negative": allow_negative},
    )
    return account


def platform_account(kind: str, asset: str) -> LedgerAccount:
    return account_for(organisation=None, kind=kind, asset=asset)


# A posting's amount has four decimal places. SQLite sums decimals as floats (0.1 + 0.2 - 0.3 is 5.6e-17 there),
# so sums are rounded back to those places; on Postgres (exact numeric) this changes nothing.
AMOUNT_QUANTUM = Decimal("0.0001")


def account_balance(account: LedgerAccount) -> Decimal:
    total = Posting.objects.filter(account=account).aggregate(total=Sum("amount"))["total"] or Decimal("0")
    return total.quantize(AMOUNT_QUANTUM)


def balance_of(*, organisation: Organisation | None, kind: str, asset: str) -> Decimal:
    account = LedgerAccount.objects.filter(organisation=organisation, kind=kind, asset=asset).first()
    if organisation is None:
        account = LedgerAccount.objects.filter(code=f"platform:{kind}:{asset}").first()
    return account.balance if account is not None else Decimal("0")


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
    if JournalEntry.objects.filter(business_key=business_key).exists():  # posted while we waited for the locks
        return JournalEntry.objects.get(business_key=business_key)
    deltas: dict[int, Decimal] = defaultdict(Decimal)
    for account, amount in legs:
        deltas[account.pk] += amount
    for pk in ids:
        account = locked[pk]
        if not account.allow_negative and account.balance + deltas[pk] < 0:
            raise InsufficientBalance(f"Account {account.code} would go negative.")
    entry = JournalEntry.objects.create(business_key=business_key, memo=memo, reverses=reverses)
    # The balance column follows by trigger (migration 0004); its CHECK constraint is the last line of defence.
    # Credits go in before debits: where the trigger runs per row (SQLite), an account with legs on both sides of
    # one entry then never passes through a negative balance on its way to its (checked) final one.
    Posting.objects.bulk_create(
        [
            Posting(entry=entry, account=account, asset=account.asset, amount=amount)
            for account, amount in sorted(legs, key=lambda leg: leg[1], reverse=True)
        ]
    )
    return entry


@transaction.atomic
def journal_reverse(*, entry: JournalEntry, memo: str) -> JournalEntry:
    """Correct an entry by posting its exact opposite (the original stays)."""
    legs = [(p.account, -p.amount) for p in entry.postings.select_related("account")]
    return journal_post(business_key=f"reversal:{entry.business_key}", memo=memo, legs=legs, reverses=entry)


def accounts_ensure(keys: set[tuple[int | None, str, str]]) -> dict[tuple[int | None, str, str], int]:
    """Ids of the accounts ``(organisation id or None for the platform, kind, asset)``, creating missing ones."""

    def code(org_id, kind, asset):
        return f"{'platform' if org_id is None else f'org{org_id}'}:{kind}:{asset}"

    codes = {code(*k): k for k in keys}
    if connection.vendor == "postgresql" and len(codes) > 1000:
        return _accounts_ensure_copy(codes)
    found = _codes_found(list(codes))
    # Inserted in code order, so two workers creating overlapping sets cannot deadlock on the unique index.
    missing = [
        LedgerAccount(code=c, organisation_id=k[0], kind=k[1], asset=k[2], allow_negative=k[1] in NEGATIVE_ALLOWED)
        for c, k in sorted(codes.items())
        if c not in found
    ]
    if missing:
        LedgerAccount.objects.bulk_create(missing, ignore_conflicts=True, batch_size=5000)
        found = _codes_found(list(codes))
    return {k: found[c] for c, k in codes.items()}


def _codes_found(codes: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for i in range(0, len(codes), 20000):
        found.update(LedgerAccount.objects.filter(code__in=codes[i : i + 20000]).values_list("code", "pk"))
    return found


def _accounts_ensure_copy(codes: dict[str, tuple[int | None, str, str]]) -> dict[tuple[int | None, str, str], int]:
    """Postgres, many accounts: ``COPY`` the wanted codes, insert the missing ones in code order, read all ids."""
    with connection.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE stg_account (code text, organisation_id bigint, kind text, asset text, allow_negative bool)"
        )
        try:
            with cur.copy("COPY stg_account FROM STDIN") as copy:
                for c, (org, kind, asset) in codes.items():
                    copy.write_row((c, org, kind, asset, kind in NEGATIVE_ALLOWED))
            cur.execute(
                "INSERT INTO settlement_ledgeraccount (code, organisation_id, kind, asset, allow_negative, balance, created_at)"
                " SELECT s.code, s.organisation_id, s.kind, s.asset, s.allow_negative, 0, now() FROM stg_account s"
                " WHERE NOT EXISTS (SELECT 1 FROM settlement_ledgeraccount a WHERE a.code = s.code)"
                " ORDER BY s.code ON CONFLICT DO NOTHING"
            )
            cur.execute("SELECT a.code, a.id FROM settlement_ledgeraccount a JOIN stg_account s ON s.code = a.code")
            found = dict(cur.fetchall())
        finally:
            cur.execute("DROP TABLE stg_account")
    return {k: found[c] for c, k in codes.items()}
