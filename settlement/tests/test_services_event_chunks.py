"""A chunk of verifications is settled in one task (issue #21, ADR 0044): ``events_settle`` runs each window the
chunk needs once and pays exactly what one ``event_settle`` per event paid; a repeated chunk pays and runs
nothing; the chunk's penalties are charged once each.

World as in ``test_services_event_coverage``: several events per window, shifting premises among them (so a
recovery window too), one in five paying nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest

from activation.models import Penalty
from settlement.models import JournalEntry, Posting, SettlementCoverage, SettlementItem, SettlementRun
from settlement.selectors import balance_mismatches, ledger_is_balanced
from settlement.services.event_settlement import event_settle, events_settle
from settlement.services.penalties import penalties_settle_recorded

from .factories import DAY, NOW
from .test_services_event_coverage import _paid, _windows, _world

pytestmark = pytest.mark.django_db


def _ledger():
    return (
        sorted(JournalEntry.objects.values_list("business_key", flat=True)),
        sorted(Posting.objects.values_list("entry__business_key", "account__code", "amount")),
        sorted(SettlementItem.objects.values_list("business_key", "amount", "quantity_kwh")),
    )


def test_a_chunk_pays_what_one_task_per_event_paid_and_runs_each_window_once(django_assert_max_num_queries):
    first, second = DAY + timedelta(hours=12), DAY + timedelta(hours=13)
    w_chunk, chunk = _world("chunk-new", first)
    w_each, each = _world("chunk-old", second)
    for e in each:  # the path before: one task per verification
        event_settle(event_id=e.pk, now=NOW)
    runs = events_settle(event_ids=[e.pk for e in chunk], now=NOW)
    assert _paid(w_chunk, chunk) == _paid(w_each, each)
    assert len(runs) == 2  # the event window and the recovery window, once each
    for start, end in _windows(first):
        assert SettlementRun.objects.get(window_start=start, window_end=end).attempts == 1
    assert SettlementCoverage.objects.filter(verification__event__in=chunk, role="event").count() == len(chunk)
    assert SettlementCoverage.objects.filter(verification__event__in=chunk, role="recovery").count() == 8
    assert ledger_is_balanced() and balance_mismatches() == []
    # a repeated chunk (acks_late: redelivered after the runs) pays nothing and runs nothing: three reads
    before = _ledger()
    attempts = sorted(SettlementRun.objects.values_list("window_start", "attempts"))
    with django_assert_max_num_queries(4):
        assert events_settle(event_ids=[e.pk for e in chunk], now=NOW) == []
    assert _ledger() == before
    assert sorted(SettlementRun.objects.values_list("window_start", "attempts")) == attempts


def test_a_chunk_skips_what_the_per_event_tasks_settled_and_events_not_verified():
    start = DAY + timedelta(hours=15)
    _w, events = _world("chunk-mixed", start)
    event_settle(event_id=events[0].pk, now=NOW)  # a task of the window ran it for every event verified by then
    before = _ledger()
    assert events_settle(event_ids=[e.pk for e in events] + [10**9], now=NOW) == []
    assert _ledger() == before


def test_a_window_not_ended_is_left_to_the_daily_run():
    start = DAY + timedelta(hours=17)
    _w, events = _world("chunk-early", start)
    assert events_settle(event_ids=[e.pk for e in events], now=start + timedelta(minutes=3)) == []
    assert not SettlementRun.objects.exists()


def test_the_chunks_penalties_are_charged_once_each():
    start = DAY + timedelta(hours=18)
    w, events = _world("chunk-penalty", start)
    penalties = [
        Penalty.objects.create(
            event=e,
            reason=Penalty.Reason.SHORTFALL,
            premise=e.premise,
            payer=e.premise.organisation,
            shortfall_kwh=D("1.000"),
            rate_per_mwh=D("300.00"),
            amount=D("0.30"),
            delivery_start=e.start,
            created_at=NOW,
        )
        for e in events[:3]
    ]
    ids = [p.pk for p in penalties]
    items = penalties_settle_recorded(penalty_ids=ids)
    assert len(items) == 3
    charged = sorted(SettlementItem.objects.filter(kind="penalty").values_list("event_id", "amount"))
    assert charged == sorted((e.pk, D("-0.30")) for e in events[:3])
    before = _ledger()
    assert penalties_settle_recorded(penalty_ids=ids) == items  # a repeated chunk charges nothing twice
    assert _ledger() == before
    assert ledger_is_balanced() and balance_mismatches() == []
