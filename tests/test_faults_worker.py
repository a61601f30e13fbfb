"""Faults under a real Celery worker process on Postgres and Redis: the worker killed (SIGKILL) in the middle of a
settlement run and of an anchoring task, and its database connection terminated mid-run. Each time the task is
delivered again (late acknowledgement: ``task_acks_late``, ``task_reject_on_worker_lost``, the broker's visibility
timeout) or retried, and pays or anchors exactly once.

The fault lands at a known point: the test holds a row lock the task needs half-way, waits until the worker's
database backend waits for it (with its run's writes still uncommitted), then strikes.
"""

from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest

from settlement.chain import AnchorClient, AnvilProcess
from settlement.chain.anvil import anvil_binary
from settlement.models import (
    AnchorTransaction,
    JournalEntry,
    LedgerAccount,
    PeriodAnchor,
    SettlementItem,
    SettlementPeriod,
    SettlementRun,
)
from settlement.selectors import balance_mismatches, ledger_is_balanced
from settlement.services import anchoring
from settlement.services.ledger import accounts_ensure
from settlement.services.runs import settlement_run_execute
from settlement.tests.anchoring_helpers import closed_hours, items_create
from settlement.tests.factories import DAY

from .faults import RowLock, WorkerProcess, send_task, settlement_world, task_result, wait_for

# an event's revenue: a direct seller's performance item, or an aggregator member's share (ADR 0024), one per event
REVENUE_KINDS = ("performance", "member_share")

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def queue():
    """A queue of this test's own on the shared broker: no other run's worker takes its tasks."""
    name = f"faults-{uuid.uuid4().hex[:10]}"
    yield name
    import redis

    redis.Redis.from_url(os.environ["REDIS_URL"]).delete(name)


@pytest.fixture
def workers():
    started: list[WorkerProcess] = []

    def start(**kw) -> WorkerProcess:
        worker = WorkerProcess(broker_url=os.environ["REDIS_URL"], **kw)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        print(f"--- worker log ({worker.queue}) ---\n{worker.log()[-6000:]}")  # shown when the test fails
        worker.stop()


def _snapshot():
    return (
        sorted(SettlementItem.objects.values_list("business_key", "amount")),
        sorted(LedgerAccount.objects.values_list("code", "balance")),
        JournalEntry.objects.count(),
    )


def _pool_account() -> int:
    """The staking pool's account: a run locks it after posting its event and contract entries."""
    key = (None, LedgerAccount.Kind.STAKING_POOL, "USD")
    return accounts_ensure({key})[key]


def _assert_paid_once(run: SettlementRun):
    assert run.status == SettlementRun.Status.COMPLETED
    assert run.attempts == 1  # the interrupted attempt left nothing behind: one attempt committed
    assert run.items_created == SettlementItem.objects.count() > 0
    keys = list(SettlementItem.objects.values_list("business_key", flat=True))
    assert len(keys) == len(set(keys))
    assert SettlementItem.objects.filter(kind__in=REVENUE_KINDS).count() == 4  # one per event
    assert ledger_is_balanced() and balance_mismatches() == []
    once = _snapshot()
    day = DAY.replace(hour=0)
    settlement_run_execute(window_start=day, window_end=day + timedelta(days=1))  # delivered once more: pays nothing
    assert _snapshot() == once


def test_worker_killed_in_the_middle_of_a_settlement_run_is_delivered_again_and_pays_once(queue, workers):
    settlement_world()
    pool = _pool_account()
    lock = RowLock()
    try:
        lock.lock("settlement_ledgeraccount", pool)
        first = workers(queue=queue, visibility_timeout=4)
        task_id = send_task(os.environ["REDIS_URL"], "settlement.tasks.settle_day", [DAY.date().isoformat()], queue)
        backend = lock.waiter()
        assert lock.writes_pending(backend, "settlement_journalentry")  # entries posted, not committed: mid-run
        first.kill()  # SIGKILL: the message is neither acknowledged nor rejected
    finally:
        lock.release()
        lock.close()
    assert not SettlementItem.objects.exists() and not JournalEntry.objects.exists()

    second = workers(queue=queue, visibility_timeout=4)  # a new worker: the unacknowledged message comes back to it
    assert task_result(task_id) == SettlementRun.objects.get().pk
    assert f"settle_day[{task_id}] received" in first.log() and f"settle_day[{task_id}] received" in second.log()
    _assert_paid_once(SettlementRun.objects.get())


def test_database_connection_terminated_mid_run_then_the_retry_pays_once(queue, workers):
    settlement_world()
    pool = _pool_account()
    lock = RowLock()
    try:
        lock.lock("settlement_ledgeraccount", pool)
        worker = workers(queue=queue, visibility_timeout=120)  # no redelivery here: the task's own retry must do it
        task_id = send_task(os.environ["REDIS_URL"], "settlement.tasks.settle_day", [DAY.date().isoformat()], queue)
        backend = lock.waiter()
        assert lock.writes_pending(backend, "settlement_journalentry")
        assert RowLock.terminate(backend)  # pg_terminate_backend from another connection
    finally:
        lock.release()
        lock.close()
    assert task_result(task_id) == SettlementRun.objects.get().pk
    assert worker.log().count(f"settle_day[{task_id}] received") == 2  # the retry, published through the broker
    _assert_paid_once(SettlementRun.objects.get())


@pytest.mark.anvil
def test_worker_killed_in_the_middle_of_an_anchoring_task_is_delivered_again_and_anchors_once(queue, workers, settings):
    if not anvil_binary().is_file():
        pytest.skip(f"anvil binary not found at {anvil_binary()} (run `npm ci`)")
    hours = closed_hours(4)
    items_create(hours)
    anchors = [anchoring.period_seal(period_id=p.pk) for p in SettlementPeriod.objects.order_by("start")]
    with AnvilProcess() as node:
        settings.CHAIN_RPC_URL = node.url
        anchoring._client.cache_clear()
        lock = RowLock()
        try:
            lock.lock("settlement_periodanchor", anchors[2].pk)  # the third period's row: two go through first
            worker = workers(queue=queue, pool="prefork", visibility_timeout=120, env={"TEST_CHAIN_RPC_URL": node.url})
            task_id = send_task(os.environ["REDIS_URL"], "settlement.tasks.anchor_closed_periods", [], queue)
            lock.waiter()
            statuses = list(PeriodAnchor.objects.order_by("period__start").values_list("status", flat=True))
            assert statuses == ["confirmed", "confirmed", "built", "built"]
            worker.kill_child()  # the pool process dies under the task; the worker requeues its message
        finally:
            lock.release()
            lock.close()
        done = task_result(task_id)
        assert "WorkerLostError" in worker.log()
        assert worker.log().count(f"anchor_closed_periods[{task_id}] received") == 2  # delivered again
        wait_for(
            lambda: set(PeriodAnchor.objects.values_list("status", flat=True)) == {"confirmed"},
            "every period to be anchored",
        )
        assert sorted(done) == sorted(a.pk for a in anchors[2:])  # the rerun anchored the rest
        client = AnchorClient(node.url, settings.CHAIN_PRIVATE_KEY, PeriodAnchor.objects.first().deployment.address)
        periods = [anchoring.period_number(a.period) for a in anchors]
        counts = {p: 0 for p in periods}
        for event in client.anchor_events():
            counts[event.period] += 1
        assert counts == {p: 1 for p in periods}  # each period anchored exactly once on chain
        nonces = sorted(AnchorTransaction.objects.values_list("nonce", flat=True))
        assert nonces == list(range(nonces[0], nonces[0] + 4))  # one transaction per period, no nonce skipped
        assert client.latest_nonce() == nonces[-1] + 1
        for anchor in PeriodAnchor.objects.select_related("period"):
            assert "0x" + client.root_of(anchoring.period_number(anchor.period)).hex() == anchor.root
    anchoring._client.cache_clear()
