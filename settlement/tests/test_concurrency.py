"""Exactly once under concurrency, on real Postgres: workers racing on the same or overlapping windows."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import connection

from settlement.models import LedgerAccount, SettlementItem, SettlementRun
from settlement.selectors import balance_mismatches, ledger_is_balanced
from settlement.services.payments import settlement_create_for_event
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
    from activation.models import DREvent

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
    assert SettlementItem.objects.filter(kind="performance").count() == len(event_ids)
    assert ledger_is_balanced() and balance_mismatches() == []
    before = _snapshot()
    _race(_settle(DAY, DAY + timedelta(days=1)), _settle(DAY + timedelta(hours=8), DAY + timedelta(hours=14)))
    assert _snapshot() == before
