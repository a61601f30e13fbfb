"""Exactly once across the event path and the daily sweep, on real Postgres: both racing (ADR 0027, ADR 0008)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest

from activation.models import DREvent
from settlement.models import SettlementItem
from settlement.selectors import balance_mismatches, ledger_is_balanced
from settlement.services.event_settlement import event_settle
from settlement.services.runs import settlement_run_execute

from .factories import DAY, NOW, event_make, readings_make, world_make
from .test_concurrency import _race, _snapshot

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
RETRIABLE = ("unique", "duplicate", "deadlock detected")


def test_event_tasks_racing_the_daily_run_pay_each_event_once():
    w = world_make(n=4, aggregator_members=2, tag="ev")
    for i, p in enumerate(w.premises):
        readings_make(p, day=DAY)
        # two events share the 09:00-09:05 window, two have windows of their own
        start = DAY + timedelta(hours=9, minutes=(0 if i < 2 else 10 * i))
        event_make(w, p, start=start, price=D("91.11"), target_kw=D("1"), delivered=[D("0.3")] * 4)
    event_ids = list(DREvent.objects.filter(premise__in=w.premises).values_list("pk", flat=True))
    daily = lambda: settlement_run_execute(window_start=DAY, window_end=DAY + timedelta(days=1), now=NOW)  # noqa: E731
    jobs = [daily, daily] + [(lambda e=e: event_settle(event_id=e, now=NOW)) for e in event_ids * 2]
    errors = _race(*jobs)
    # a loser rolls back whole (unique key taken, or chosen as the deadlock victim) and its Celery task retries
    assert all(any(r in str(e).lower() for r in RETRIABLE) for e in errors), errors
    for job in jobs:  # the retries pay only what is missing, which is nothing
        job()
    keys = list(SettlementItem.objects.values_list("business_key", flat=True))
    assert len(keys) == len(set(keys))
    # 4 x 0.3 = 1.2 kWh, paid up to the dispatched 1.0 kWh x 91.11/MWh = 0.09111 -> 0.09, once per event
    # direct sellers' events are paid as a performance item; the aggregator members' ones as a member share and
    # an aggregator fee (ADR 0024): either way each event's revenue is paid once
    perf = SettlementItem.objects.filter(kind="performance", event_id__in=event_ids)
    shares = SettlementItem.objects.filter(kind="member_share", event_id__in=event_ids)
    paid = sorted(list(perf.values_list("event_id", flat=True)) + list(shares.values_list("event_id", flat=True)))
    assert paid == sorted(event_ids) and shares.count() == 2
    assert sorted(perf.values_list("amount", flat=True)) == [D("0.09"), D("0.09")]
    assert ledger_is_balanced() and balance_mismatches() == []
    once = _snapshot()
    _race(daily, *[(lambda e=e: event_settle(event_id=e, now=NOW)) for e in event_ids])
    assert _snapshot() == once


def test_two_payout_runs_racing_pay_each_balance_once(settings):
    """Finance creates a payout run twice at once: the participant accounts are locked, the second sees nothing."""
    from settlement.models import Payout
    from settlement.services.ledger import balance_of
    from settlement.services.payouts import bank_account_set, payout_run_create

    from .factories import tokens_grant

    settings.SETTLEMENT_CURRENCY = "EUR"
    w = world_make(n=2, tag="pr")
    for org, amount in zip(w.consumers, ("10.00", "2.50"), strict=True):
        tokens_grant(org, "EUR", D(amount), f"pr-{org.pk}")
        bank_account_set(organisation=org, holder_name=org.name, iban="DE02120300000000202051", bic="BYLADEM1001")
    errors = _race(payout_run_create, payout_run_create, payout_run_create)
    # the losers find every balance already on its way to the bank
    assert len(errors) == 2 and all("nothing to pay out" in str(e) for e in errors), errors
    assert sorted(Payout.objects.values_list("amount", flat=True)) == [D("2.50"), D("10.00")]
    assert balance_of(organisation=None, kind="withdrawal_pending", asset="EUR") == D("12.50")
    assert ledger_is_balanced() and balance_mismatches() == []
