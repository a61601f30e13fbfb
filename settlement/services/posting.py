"""Posting many settlement entries at once, exactly once each.

An :class:`EntrySpec` is one journal entry (its business key is the exactly-once gate) with its legs and
the settlement items it pays. On Postgres the batch goes through ``COPY`` into temporary tables and three
set-based statements: ``INSERT .. ON CONFLICT (business_key) DO NOTHING RETURNING`` for the entries, then
the postings and items of exactly the entries this call inserted. A concurrent worker inserting the same
key waits for the first to commit and then skips it, so nothing is paid twice. Balances follow by trigger
(migration 0004), whose CHECK constraint refuses an overdraft. Elsewhere (SQLite) the same batch is posted
entry by entry through :func:`journal_post`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import NotificationKind
from accounts.notifications import notifications_create

from ..models import JournalEntry, LedgerAccount, SettlementItem
from .ledger import UnbalancedEntry, journal_post
from .payments import hour_floor, period_for


@dataclass
class ItemSpec:
    business_key: str
    kind: str
    payee_id: int
    asset: str
    amount: Decimal
    delivery_start: datetime
    quantity_kwh: Decimal = Decimal("0")
    price_per_mwh: Decimal = Decimal("0")
    premise_id: int | None = None
    event_id: int | None = None
    award_id: int | None = None
    contract_id: int | None = None
    memo: str = ""


@dataclass
class EntrySpec:
    business_key: str
    memo: str
    legs: list[tuple[int, str, Decimal]]  # (account id, asset, amount)
    items: list[ItemSpec] = field(default_factory=list)

    def check(self) -> None:
        totals: dict[str, Decimal] = {}
        for _, asset, amount in self.legs:
            if amount == 0:
                raise UnbalancedEntry(f"{self.business_key}: a posting cannot be zero.")
            totals[asset] = totals.get(asset, Decimal("0")) + amount
        if not self.legs or any(totals.values()):
            raise UnbalancedEntry(f"{self.business_key}: postings do not sum to zero per asset: {totals}.")


def entries_post(*, entries: list[EntrySpec], run_id: int | None = None, now: datetime | None = None) -> int:
    """Post every entry not posted before; returns the number of settlement items created."""
    now = now or timezone.now()
    entries = [e for e in entries if e.legs]
    if not entries:
        return 0
    for e in entries:
        e.check()
    with transaction.atomic():
        periods = {}
        for hour in sorted({hour_floor(i.delivery_start) for e in entries for i in e.items}):
            periods[hour] = period_for(delivery_start=hour, now=now).pk
        if connection.vendor == "postgresql":
            created = _post_copy(entries, periods=periods, run_id=run_id, now=now)
        else:
            created = _post_each(entries, periods=periods, run_id=run_id)
        if created:
            _notify_payees(entries, run_id=run_id, now=now)
    return created


def _notify_payees(entries: list[EntrySpec], *, run_id: int | None, now: datetime) -> None:
    """One notification per payee of what this posting paid or charged it (per asset), in the posting's
    transaction (ADR 0030); keyed by the run (or the first entry), so a re-run notifies nothing twice."""
    totals: dict[int, dict[str, Decimal]] = {}
    for e in entries:
        for i in e.items:
            per = totals.setdefault(i.payee_id, {})
            per[i.asset] = per.get(i.asset, Decimal("0")) + i.amount
    ref = f"run{run_id}" if run_id is not None else entries[0].business_key[:60]
    facts = []
    for payee, per in totals.items():
        text = ", ".join(f"{amount:.2f} {asset}" for asset, amount in sorted(per.items()))
        kind = NotificationKind.PENALTY if all(v < 0 for v in per.values()) else NotificationKind.PAYMENT
        facts.append(
            {
                "organisation_ids": [payee],
                "kind": kind,
                "key": f"payment:{ref}:{payee}",
                "title": f"Settled: {text}",
                "body": f"Settlement posted {text} to your account; each item has its proof on the payments page.",
                "url": "/compensation/",
            }
        )
    notifications_create(facts=facts, now=now)


def _post_each(entries: list[EntrySpec], *, periods: dict, run_id: int | None) -> int:
    accounts = LedgerAccount.objects.in_bulk({a for e in entries for a, _, _ in e.legs})
    created = 0
    for e in entries:
        if JournalEntry.objects.filter(business_key=e.business_key).exists():
            continue
        entry = journal_post(
            business_key=e.business_key, memo=e.memo[:300], legs=[(accounts[a], amt) for a, _, amt in e.legs]
        )
        items = [_item(i, periods=periods, run_id=run_id, entry_id=entry.pk) for i in e.items]
        SettlementItem.objects.bulk_create(items)
        created += len(items)
    return created


def _item(i: ItemSpec, *, periods: dict, run_id, entry_id) -> SettlementItem:
    return SettlementItem(
        business_key=i.business_key,
        kind=i.kind,
        payee_id=i.payee_id,
        premise_id=i.premise_id,
        event_id=i.event_id,
        award_id=i.award_id,
        contract_id=i.contract_id,
        quantity_kwh=i.quantity_kwh,
        price_per_mwh=i.price_per_mwh,
        amount=i.amount,
        currency=i.asset,
        delivery_start=i.delivery_start,
        period_id=periods[hour_floor(i.delivery_start)],
        journal_entry_id=entry_id,
        run_id=run_id,
        memo=i.memo[:300],
    )


_ITEM_COLS = (
    "business_key",
    "entry_key",
    "kind",
    "payee_id",
    "premise_id",
    "event_id",
    "award_id",
    "contract_id",
    "quantity_kwh",
    "price_per_mwh",
    "amount",
    "currency",
    "delivery_start",
    "period_id",
    "memo",
)


def _post_copy(entries: list[EntrySpec], *, periods: dict, run_id: int | None, now: datetime) -> int:
    with connection.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE stg_entry (business_key text, memo text) ON COMMIT DROP;"
            "CREATE TEMP TABLE stg_leg (entry_key text, account_id bigint, asset text, amount numeric) ON COMMIT DROP;"
            "CREATE TEMP TABLE stg_item (business_key text, entry_key text, kind text, payee_id bigint, "
            "premise_id bigint, event_id bigint, award_id bigint, contract_id bigint, quantity_kwh numeric, "
            "price_per_mwh numeric, amount numeric, currency text, delivery_start timestamptz, period_id bigint, "
            "memo text) ON COMMIT DROP;"
        )
        with cur.copy("COPY stg_entry (business_key, memo) FROM STDIN") as copy:
            for e in entries:
                copy.write_row((e.business_key, e.memo[:300]))
        with cur.copy("COPY stg_leg (entry_key, account_id, asset, amount) FROM STDIN") as copy:
            for e in entries:
                for account_id, asset, amount in e.legs:
                    copy.write_row((e.business_key, account_id, asset, amount))
        with cur.copy(f"COPY stg_item ({', '.join(_ITEM_COLS)}) FROM STDIN") as copy:
            for e in entries:
                for i in e.items:
                    copy.write_row(
                        (
                            i.business_key,
                            e.business_key,
                            i.kind,
                            i.payee_id,
                            i.premise_id,
                            i.event_id,
                            i.award_id,
                            i.contract_id,
                            i.quantity_kwh,
                            i.price_per_mwh,
                            i.amount,
                            i.asset,
                            i.delivery_start,
                            periods[hour_floor(i.delivery_start)],
                            i.memo[:300],
                        )
                    )
        cur.execute(
            "CREATE TEMP TABLE new_entry ON COMMIT DROP AS WITH ins AS ("
            " INSERT INTO settlement_journalentry (business_key, memo, created_at)"
            " SELECT business_key, memo, %s FROM stg_entry ORDER BY business_key"
            " ON CONFLICT (business_key) DO NOTHING RETURNING id, business_key)"
            " SELECT id, business_key FROM ins",
            [now],
        )
        cur.execute("CREATE INDEX ON new_entry (business_key); ANALYZE new_entry; ANALYZE stg_leg; ANALYZE stg_item;")
        # Lock the touched accounts in id order so concurrent batches cannot deadlock in the balance trigger.
        cur.execute(
            "SELECT a.id FROM settlement_ledgeraccount a WHERE a.id IN ("
            " SELECT DISTINCT l.account_id FROM stg_leg l JOIN new_entry n ON n.business_key = l.entry_key)"
            " ORDER BY a.id FOR UPDATE"
        )
        cur.execute(
            "INSERT INTO settlement_posting (entry_id, account_id, asset, amount)"
            " SELECT n.id, l.account_id, l.asset, l.amount FROM stg_leg l JOIN new_entry n ON n.business_key = l.entry_key"
        )
        cur.execute(
            "INSERT INTO settlement_settlementitem (business_key, kind, payee_id, premise_id, event_id, award_id,"
            " contract_id, quantity_kwh, price_per_mwh, amount, currency, delivery_start, period_id, memo,"
            " journal_entry_id, run_id, created_at)"
            " SELECT s.business_key, s.kind, s.payee_id, s.premise_id, s.event_id, s.award_id, s.contract_id,"
            " s.quantity_kwh, s.price_per_mwh, s.amount, s.currency, s.delivery_start, s.period_id, s.memo,"
            " n.id, %s, %s FROM stg_item s JOIN new_entry n ON n.business_key = s.entry_key",
            [run_id, now],
        )
        created = cur.rowcount
        cur.execute("DROP TABLE stg_entry, stg_leg, stg_item, new_entry")
    return created
