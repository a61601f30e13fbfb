"""The double-entry ledger: balanced, idempotent, never overdrawn where it must not be, and append-only."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts import services as accounts_services
from accounts.models import Organisation
from settlement.models import JournalEntry, LedgerAccount, Posting
from settlement.selectors import ledger_is_balanced
from settlement.services.ledger import (
    InsufficientBalance,
    UnbalancedEntry,
    account_balance,
    account_for,
    journal_post,
    journal_reverse,
)

D = Decimal


@pytest.fixture
def accounts(db):
    """Two consumers' participant accounts, the operator's payable, the platform's fees (all USD), one EUR."""
    alice = accounts_services.organisation_create(name="Alice", kind=Organisation.Kind.CONSUMER)
    bob = accounts_services.organisation_create(name="Bob", kind=Organisation.Kind.CONSUMER)
    dso = accounts_services.organisation_create(name="DSO", kind=Organisation.Kind.GRID_OPERATOR)
    return {
        "alice": account_for(organisation=alice, kind=LedgerAccount.Kind.PARTICIPANT, asset="USD"),
        "bob": account_for(organisation=bob, kind=LedgerAccount.Kind.PARTICIPANT, asset="USD"),
        "payable": account_for(organisation=dso, kind=LedgerAccount.Kind.OPERATOR_PAYABLE, asset="USD"),
        "fees": account_for(organisation=None, kind=LedgerAccount.Kind.FEES, asset="USD"),
        "payable_eur": account_for(organisation=dso, kind=LedgerAccount.Kind.OPERATOR_PAYABLE, asset="EUR"),
    }


def _nothing_posted() -> bool:
    return not JournalEntry.objects.exists() and not Posting.objects.exists()


def test_unbalanced_entries_are_refused_and_create_nothing(accounts):
    a, payable = accounts["alice"], accounts["payable"]
    refused = [
        [(a, D("10.00")), (payable, D("-9.99"))],  # off by a cent
        [(a, D("10.00")), (accounts["payable_eur"], D("-10.00"))],  # balanced in number, not per asset
        [(a, D("10.00")), (payable, D("-10.00")), (accounts["bob"], D("0"))],  # a zero leg
        [],
    ]
    for legs in refused:
        with pytest.raises(UnbalancedEntry):
            journal_post(business_key="payment:1", memo="bad", legs=legs)
        assert _nothing_posted()
    assert account_balance(a) == 0


def test_repeated_business_key_returns_the_first_entry(accounts):
    a, payable = accounts["alice"], accounts["payable"]
    first = journal_post(business_key="payment:7", memo="pay", legs=[(a, D("12.34")), (payable, D("-12.34"))])
    again = journal_post(business_key="payment:7", memo="pay again", legs=[(a, D("99")), (payable, D("-99"))])
    assert again.pk == first.pk
    assert JournalEntry.objects.count() == 1
    assert Posting.objects.count() == 2
    assert account_balance(a) == D("12.34")


def test_participant_cannot_go_negative_but_operator_payable_can(accounts):
    a, payable = accounts["alice"], accounts["payable"]
    with pytest.raises(InsufficientBalance):
        journal_post(business_key="clawback:1", memo="clawback", legs=[(a, D("-5")), (payable, D("5"))])
    assert _nothing_posted()

    journal_post(business_key="payment:1", memo="pay", legs=[(a, D("10")), (payable, D("-10"))])
    assert account_balance(a) == D("10")
    assert account_balance(payable) == D("-10")  # the operator owes it

    with pytest.raises(InsufficientBalance):
        journal_post(business_key="clawback:2", memo="too much", legs=[(a, D("-10.01")), (payable, D("10.01"))])
    assert account_balance(a) == D("10")
    assert JournalEntry.objects.count() == 1

    journal_post(business_key="clawback:3", memo="all of it", legs=[(a, D("-10")), (payable, D("10"))])
    assert account_balance(a) == 0 == account_balance(payable)


def test_taking_back_exactly_what_was_paid_in_parts_is_allowed(accounts):
    """0.30 paid, then 0.10 and 0.20 taken back: the balance is exactly zero, not a float a hair below it."""
    a, payable = accounts["alice"], accounts["payable"]
    journal_post(business_key="payment:1", memo="pay", legs=[(a, D("0.30")), (payable, D("-0.30"))])
    journal_post(business_key="clawback:1", memo="part", legs=[(a, D("-0.10")), (payable, D("0.10"))])
    journal_post(business_key="clawback:2", memo="rest", legs=[(a, D("-0.20")), (payable, D("0.20"))])
    assert account_balance(a) == 0
    assert account_balance(payable) == 0
    assert ledger_is_balanced()


def test_ledger_is_balanced_notices_an_entry_off_by_the_smallest_unit(accounts):
    a, payable = accounts["alice"], accounts["payable"]
    journal_post(business_key="payment:1", memo="pay", legs=[(a, D("0.10")), (payable, D("-0.10"))])
    assert ledger_is_balanced()
    # Written past the service, as a bug or a hand edit would.
    entry = JournalEntry.objects.create(business_key="hand-made", memo="off by 0.0001")
    Posting.objects.create(entry=entry, account=a, asset="USD", amount=D("0.2001"))
    Posting.objects.create(entry=entry, account=payable, asset="USD", amount=D("-0.1000"))
    Posting.objects.create(entry=entry, account=payable, asset="USD", amount=D("-0.1000"))
    assert not ledger_is_balanced()


def test_reversal_posts_the_exact_opposite_and_balances_return_to_zero(accounts):
    a, b, payable = accounts["alice"], accounts["bob"], accounts["payable"]
    entry = journal_post(
        business_key="payment:9", memo="pay two", legs=[(a, D("7.50")), (b, D("2.25")), (payable, D("-9.75"))]
    )
    reversal = journal_reverse(entry=entry, memo="wrong meter data")
    assert reversal.reverses_id == entry.pk
    original = sorted((p.account_id, p.amount) for p in entry.postings.all())
    opposite = sorted((p.account_id, -p.amount) for p in reversal.postings.all())
    assert opposite == original
    for account in (a, b, payable):
        assert account_balance(account) == 0
    # Reversing again changes nothing: the reversal is a business fact too.
    assert journal_reverse(entry=entry, memo="again").pk == reversal.pk
    assert JournalEntry.objects.count() == 2
    assert ledger_is_balanced()


def _a_posting(accounts) -> Posting:
    journal_post(
        business_key="payment:1", memo="pay", legs=[(accounts["alice"], D("5")), (accounts["payable"], D("-5"))]
    )
    return Posting.objects.get(account=accounts["alice"])


def test_database_refuses_to_update_a_posting(accounts):
    posting = _a_posting(accounts)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Posting._meta.db_table} SET amount = 500 WHERE id = %s", [posting.pk])  # noqa: S608
    posting.refresh_from_db()
    assert posting.amount == D("5")


@pytest.mark.postgres
def test_postgres_refuses_to_delete_a_posting(accounts):
    posting = _a_posting(accounts)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {Posting._meta.db_table} WHERE id = %s", [posting.pk])  # noqa: S608
    assert Posting.objects.filter(pk=posting.pk).exists()
    assert account_balance(accounts["alice"]) == D("5")


NAMES = ["alice", "bob", "payable", "fees"]
CAN_GO_NEGATIVE = {"payable"}
cents = st.integers(min_value=-50_000, max_value=50_000).filter(bool)
post_op = st.tuples(
    st.just("post"),
    st.lists(st.tuples(st.sampled_from(NAMES), cents), min_size=1, max_size=3),
    st.sampled_from(NAMES),  # the account that balances the entry
)
reverse_op = st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=20), st.none())
repeat_op = st.tuples(st.just("repeat"), st.integers(min_value=0, max_value=20), st.none())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(st.one_of(post_op, reverse_op, repeat_op), max_size=8))
def test_any_sequence_of_entries_keeps_the_books_straight(accounts, ops):
    """Whatever is posted, reversed or repeated: each balance is what a simple model of the postings says,
    no account that may not go negative does, and every entry sums to zero."""
    with transaction.atomic():
        expected = dict.fromkeys(NAMES, D("0"))
        posted: list[JournalEntry] = []
        reversed_keys: set[str] = set()

        def apply(legs, post):
            after = dict(expected)
            for name, amount in legs:
                after[name] += amount
            if any(after[n] < 0 for n in NAMES if n not in CAN_GO_NEGATIVE):
                with pytest.raises(InsufficientBalance):
                    post()
                return None
            entry = post()
            expected.update(after)
            return entry

        for n, (kind, arg, balancer) in enumerate(ops):
            if kind == "post":
                legs = [(name, D(c) / 100) for name, c in arg]
                total = sum((amount for _, amount in legs), D("0"))
                if total:
                    legs.append((balancer, -total))
                entry = apply(
                    legs,
                    lambda legs=legs, n=n: journal_post(
                        business_key=f"fact:{n}", memo="fact", legs=[(accounts[k], v) for k, v in legs]
                    ),
                )
                if entry is not None:
                    posted.append(entry)
            elif posted and kind == "reverse":
                entry = posted[arg % len(posted)]
                if entry.business_key in reversed_keys:
                    count = JournalEntry.objects.count()
                    journal_reverse(entry=entry, memo="again")
                    assert JournalEntry.objects.count() == count
                    continue
                legs = [
                    (NAMES[[accounts[k].pk for k in NAMES].index(p.account_id)], -p.amount)
                    for p in entry.postings.all()
                ]
                reversal = apply(legs, lambda entry=entry: journal_reverse(entry=entry, memo="correction"))
                if reversal is not None:
                    reversed_keys.add(entry.business_key)
                    posted.append(reversal)
            elif posted and kind == "repeat":
                entry = posted[arg % len(posted)]
                count = JournalEntry.objects.count()
                legs = [(accounts["alice"], D("1")), (accounts["payable"], D("-1"))]
                assert journal_post(business_key=entry.business_key, memo="repeat", legs=legs).pk == entry.pk
                assert JournalEntry.objects.count() == count

            for name in NAMES:
                assert account_balance(accounts[name]) == expected[name], (n, name)
        stored = dict.fromkeys(NAMES, D("0"))
        by_pk = {accounts[k].pk: k for k in NAMES}
        for account_id, amount in Posting.objects.values_list("account_id", "amount"):
            stored[by_pk[account_id]] += amount
        assert stored == expected
        assert all(expected[n] >= 0 for n in NAMES if n not in CAN_GO_NEGATIVE)
        assert JournalEntry.objects.count() == len(posted)
        assert ledger_is_balanced()
        transaction.set_rollback(True)  # the next example starts from empty books
