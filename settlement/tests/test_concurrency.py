"""Exactly once under concurrency, on real Postgres: workers racing on the same or overlapping windows."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import connection

from activation.models import DREvent
from settlement.models import LedgerAccount, RewardShortfall, SettlementItem, SettlementRun
from settlement.selectors import balance_mismatches, ledger_is_balanced
from settlement.services.ledger import balance_of
from settlement.services.payments import settlement_create_for_event
from settlement.services.penalties import penalty_settle
from settlement.services.runs import settlement_run_execute

from .factories import DAY, NOW, contract_make, event_make, readings_make, world_make

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _world():
    w = world_make(n=4, aggregator_members=2, tag="cc")
    for i, p in enumerate(w.premises):
        readings_make(p, day=DAY, missing=i)
        event_make(
            w, p, start=DAY + timedelta(hours=9 + i), price=D("77.77"), target_kw=D("1"), delivered=[D("0.31")] * 4
        )
    contract_make(w, w.consumers[3], premise=w.premises[3])
    contract_make(w, w.aggregator, kw="5")
    return w


def _race(*jobs):
    barrier = threading.Barrier(len(jobs))
    errors = []

    def run(job):
        try:
            barrier.wait()
            job()
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(j,)) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def _settle(start, end):
    return lambda: settlement_run_execute(window_start=start, window_end=end, now=NOW)


def _snapshot():
    return sorted(SettlementItem.objects.values_list("business_key", "amount")), sorted(
        LedgerAccount.objects.values_list("code", "balance")
    )


def test_four_workers_on_the_same_window_pay_once():
    _world()
    errors = _race(*[_settle(DAY, DAY + timedelta(days=1)) for _ in range(4)])
    assert errors == []
    run = SettlementRun.objects.get()
    assert run.attempts == 4 and run.items_created == SettlementItem.objects.count() > 0
    once = _snapshot()
    settlement_run_execute(window_start=DAY, window_end=DAY + timedelta(days=1), now=NOW)  # the task delivered again
    assert _snapshot() == once
    assert ledger_is_balanced() and balance_mismatches() == []


def test_overlapping_windows_and_the_event_path_racing_pay_once():
    w = _world()
    event_ids = list(DREvent.objects.filter(premise__in=w.premises).values_list("pk", flat=True))
    jobs = [
        _settle(DAY, DAY + timedelta(days=1)),
        _settle(DAY + timedelta(hours=8), DAY + timedelta(hours=14)),
        _settle(DAY + timedelta(hours=9), DAY + timedelta(hours=10, minutes=5)),
    ] + [(lambda e=e: settlement_create_for_event(event_id=e, now=NOW)) for e in event_ids]
    errors = _race(*jobs)
    # The event path may lose the race to a run's entry for the same key (a unique violation), and Postgres may
    # abort one of two transactions that wait on each other (a deadlock): both roll back whole and the Celery
    # task retries (settlement.tasks: autoretry_for). Nothing else may go wrong.
    retriable = ("unique", "duplicate", "deadlock detected")
    assert all(any(r in str(e).lower() for r in retriable) for e in errors), errors
    for job in jobs:  # the retries: each finds what was paid and pays only what is missing
        job()
    keys = list(SettlementItem.objects.values_list("business_key", flat=True))
    assert len(keys) == len(set(keys))
    # premises 0 and 1 are the aggregator's members: their events pay member shares (ADR 0024)
    assert SettlementItem.objects.filter(kind="performance").count() == len(event_ids) - 2
    assert SettlementItem.objects.filter(business_key__startswith="member_share:event:").count() == 2
    assert ledger_is_balanced() and balance_mismatches() == []
    before = _snapshot()
    _race(_settle(DAY, DAY + timedelta(days=1)), _settle(DAY + timedelta(hours=8), DAY + timedelta(hours=14)))
    assert _snapshot() == before


def test_racing_runs_net_a_receivable_and_pay_the_reward_pool_once():
    w = _world()
    org = w.consumers[2]  # sells directly (a portfolio member's penalty is shared by its terms, ADR 0024)
    event = DREvent.objects.filter(premise=w.premises[2]).first()
    # owed 5.00 with nothing on the account; the day pays consumer 0 far less than that
    penalty_settle(event_id=event.pk, payee=org, amount=D("5.00"), reason="shortfall", business_key="cc-n")
    errors = _race(
        _settle(DAY, DAY + timedelta(days=1)),
        _settle(DAY, DAY + timedelta(days=1)),
        _settle(DAY - timedelta(hours=1), DAY + timedelta(days=1, hours=1)),
        _settle(DAY + timedelta(hours=8), DAY + timedelta(hours=12)),
    )
    retriable = ("unique", "duplicate", "deadlock detected")
    assert all(any(r in str(e).lower() for r in retriable) for e in errors), errors
    for job in (
        _settle(DAY, DAY + timedelta(days=1)),
        _settle(DAY - timedelta(hours=1), DAY + timedelta(days=1, hours=1)),
    ):
        job()
    paid = sum(
        SettlementItem.objects.filter(payee=org, currency="USD")
        .exclude(kind="penalty")
        .values_list("amount", flat=True),
        D("0"),
    )
    assert D("0") < paid < D("5.00")
    # everything paid went to the debt, once: nothing payable, the rest still owed
    assert balance_of(organisation=org, kind=LedgerAccount.Kind.PARTICIPANT, asset="USD") == D("0")
    assert balance_of(organisation=org, kind=LedgerAccount.Kind.RECEIVABLE, asset="USD") == paid - D("5.00")
    # fees of 2 % of 0.10 round to nothing: the reward pool stays empty and both contracts' rewards are
    # recorded as shortfalls, once each, whichever worker got there first
    assert not SettlementItem.objects.filter(kind="availability_reward").exists()
    assert RewardShortfall.objects.count() == 2
    keys = list(SettlementItem.objects.values_list("business_key", flat=True))
    assert len(keys) == len(set(keys))
    assert not LedgerAccount.objects.filter(allow_negative=False, balance__lt=0).exists()
    assert ledger_is_balanced() and balance_mismatches() == []
