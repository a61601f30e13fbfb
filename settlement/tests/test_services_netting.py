"""Receivables netting: what a participant owes is settled first from its later payments, with ledger entries."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest

from settlement.models import JournalEntry, LedgerAccount, Posting
from settlement.selectors import balances_match_postings, earnings_total, ledger_is_balanced
from settlement.services.disputes import dispute_open, dispute_resolve
from settlement.services.ledger import balance_of
from settlement.services.netting import receivables_outstanding
from settlement.services.payments import settlement_create_for_event
from settlement.services.penalties import penalty_settle
from settlement.services.runs import settlement_run_execute

from .factories import DAY, NOW, event_make, world_make

pytestmark = pytest.mark.django_db
K = LedgerAccount.Kind


def _balances(org):
    return (
        balance_of(organisation=org, kind=K.PARTICIPANT, asset="USD"),
        balance_of(organisation=org, kind=K.RECEIVABLE, asset="USD"),
    )


def _netting_legs(org):
    entries = JournalEntry.objects.filter(business_key__startswith="netting:", business_key__endswith=f":org:{org.pk}")
    return [
        sorted((p.account.kind, p.amount) for p in Posting.objects.filter(entry=e).select_related("account"))
        for e in entries.order_by("pk")
    ]


def test_later_payments_settle_the_receivable_first_then_are_payable(django_user_model):
    w = world_make(n=1)
    org, premise = w.consumers[0], w.premises[0]
    # day 1: 10 kWh x 200/MWh = 2.00; day 2: 22.5 kWh x 200/MWh = 4.50 (delivered = commitment: no bonus)
    e1 = event_make(
        w, premise, start=DAY + timedelta(hours=9), price=D("200"), target_kw=D("10"), delivered=[D("2.5")] * 4
    )
    event_make(
        w,
        premise,
        start=DAY + timedelta(days=1, hours=9),
        price=D("200"),
        target_kw=D("22.5"),
        delivered=[D("5.625")] * 4,
    )
    # a penalty of 5.00 with nothing on the account: all of it is owed (a receivable)
    penalty_settle(event_id=e1.pk, payee=org, amount=D("5.00"), reason="shortfall", business_key="n1")
    assert _balances(org) == (D("0"), D("-5.00")) and receivables_outstanding() == {org.pk: D("5.00")}

    settlement_run_execute(window_start=DAY, window_end=DAY + timedelta(days=1), now=NOW)
    # the 2.00 paid goes to the debt: participant 2.00 - 2.00 = 0.00, owed 5.00 - 2.00 = 3.00
    assert _balances(org) == (D("0.00"), D("-3.00"))
    assert _netting_legs(org) == [[(K.PARTICIPANT, D("-2.00")), (K.RECEIVABLE, D("2.00"))]]

    settlement_run_execute(window_start=DAY + timedelta(days=1), window_end=DAY + timedelta(days=2), now=NOW)
    # 4.50 paid: 3.00 settles the rest of the debt, 1.50 is payable
    assert _balances(org) == (D("1.50"), D("0.00"))
    assert _netting_legs(org)[1] == [(K.PARTICIPANT, D("-3.00")), (K.RECEIVABLE, D("3.00"))]
    assert receivables_outstanding() == {}
    # netting moves money between the participant's own accounts: the net position is payments less penalties
    assert earnings_total(organisations=[org], currency="USD") == D("2.00") + D("4.50") - D("5.00")
    # nothing left to net: a re-run posts no netting entry
    settlement_run_execute(window_start=DAY, window_end=DAY + timedelta(days=2), now=NOW)
    assert len(_netting_legs(org)) == 2
    assert ledger_is_balanced() and balances_match_postings()


def test_event_payment_and_dispute_adjustment_net_the_receivable_too(django_user_model):
    w = world_make(n=1)
    org, premise = w.consumers[0], w.premises[0]
    e = event_make(
        w, premise, start=DAY + timedelta(hours=9), price=D("100"), target_kw=D("10"), delivered=[D("2.5")] * 4
    )
    penalty_settle(event_id=e.pk, payee=org, amount=D("3.00"), reason="opt-out", business_key="n2")
    item = settlement_create_for_event(event_id=e.pk, now=NOW)  # 10 kWh x 100 / 1000 = 1.00
    assert item.amount == D("1.00") and _balances(org) == (D("0.00"), D("-2.00"))
    admin = django_user_model.objects.create(username="adm")
    d = dispute_open(item=item, user=admin, organisations=[org], reason="meter read low")
    dispute_resolve(dispute_id=d.pk, admin=admin, uphold=True, resolution="re-read", adjustment=D("0.40"), now=NOW)
    # the 0.40 adjustment goes to the debt as well: owed 2.00 - 0.40 = 1.60
    assert _balances(org) == (D("0.00"), D("-1.60"))
    assert [legs[1] for legs in _netting_legs(org)] == [(K.RECEIVABLE, D("1.00")), (K.RECEIVABLE, D("0.40"))]
    assert ledger_is_balanced() and balances_match_postings()


def test_penalty_within_the_balance_needs_no_netting():
    w = world_make(n=1)
    org = w.consumers[0]
    e = event_make(
        w, w.premises[0], start=DAY + timedelta(hours=9), price=D("100"), target_kw=D("10"), delivered=[D("2.5")] * 4
    )
    settlement_run_execute(window_start=DAY, window_end=DAY + timedelta(days=1), now=NOW)  # 1.00 paid
    penalty_settle(event_id=e.pk, payee=org, amount=D("0.60"), reason="shortfall", business_key="n3")
    assert _balances(org) == (D("0.40"), D("0"))  # taken from the balance, nothing owed
    assert _netting_legs(org) == []
