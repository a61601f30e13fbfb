"""Event tasks of one window racing on real Postgres (issue #21): each item is posted once, and the tasks wait for
each other on the window instead of each running it (the second finds its verification covered)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from settlement.models import SettlementCoverage, SettlementItem, SettlementRun
from settlement.selectors import balance_mismatches, ledger_is_balanced
from settlement.services.event_settlement import event_settle
from settlement.services.runs import settlement_run_execute

from .factories import DAY, NOW
from .test_concurrency import _race, _snapshot
from .test_services_event_coverage import _windows, _world

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_tasks_of_one_window_racing_post_each_item_once_and_run_each_window_once():
    start = DAY + timedelta(hours=12)
    _w, events = _world("race-cov", start)
    errors = _race(*[(lambda e=e: event_settle(event_id=e.pk, now=NOW)) for e in events])
    assert errors == []
    keys = list(SettlementItem.objects.values_list("business_key", flat=True))
    assert len(keys) == len(set(keys)) > 0
    # 10 events (4 paid nothing, 8 of shifting premises, 4 credited): one attempt per window all the same
    assert [SettlementRun.objects.get(window_start=s, window_end=e).attempts for s, e in _windows(start)] == [1, 1]
    assert SettlementCoverage.objects.filter(role="event").count() == len(events)
    assert SettlementItem.objects.filter(kind="shift_credit").count() == 4
    assert ledger_is_balanced() and balance_mismatches() == []


def test_two_settlements_of_one_window_and_its_tasks_racing_post_each_item_once():
    start = DAY + timedelta(hours=13)
    _w, events = _world("race-cov2", start)
    (event_start, event_end), _recovery = _windows(start)
    window = lambda: settlement_run_execute(window_start=event_start, window_end=event_end, now=NOW)  # noqa: E731
    jobs = [window, window] + [(lambda e=e: event_settle(event_id=e.pk, now=NOW)) for e in events]
    errors = _race(*jobs)
    # a loser rolls back whole (unique key taken, or a deadlock victim) and its Celery task retries
    assert all(any(r in str(e).lower() for r in ("unique", "duplicate", "deadlock detected")) for e in errors), errors
    for job in jobs:
        job()
    keys = list(SettlementItem.objects.values_list("business_key", flat=True))
    assert len(keys) == len(set(keys))
    assert SettlementItem.objects.filter(kind="shift_credit").count() == 4
    assert SettlementItem.objects.filter(kind="performance").count() == 8
    once = _snapshot()
    _race(window, window, *[(lambda e=e: event_settle(event_id=e.pk, now=NOW)) for e in events])
    assert _snapshot() == once
    assert ledger_is_balanced() and balance_mismatches() == []
