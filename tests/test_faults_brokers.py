"""Faults of the brokers, each a private instance on a free port (the machine's shared Redis and Mosquitto are
never touched): Redis restarted while tasks are queued, Mosquitto restarted in the middle of a dispatch."""

from __future__ import annotations

import shutil
import uuid

import pytest

from activation.models import DREvent
from settlement.models import SettlementItem, SettlementRun
from settlement.selectors import balance_mismatches, ledger_is_balanced
from settlement.tests.factories import DAY

from .faults import RedisServer, WorkerProcess, queue_length, send_task, settlement_world, wait_for


@pytest.fixture
def redis_server():
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer().start()
    yield server
    server.stop()


def _paid_events() -> list[int]:
    return sorted(
        SettlementItem.objects.filter(kind=SettlementItem.Kind.PERFORMANCE).values_list("event_id", flat=True)
    )


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_redis_restarted_while_tasks_are_queued_loses_nothing(redis_server):
    settlement_world()
    events = list(DREvent.objects.order_by("start").values_list("pk", flat=True))
    queue = f"faults-{uuid.uuid4().hex[:10]}"
    url = redis_server.url
    worker = WorkerProcess(broker_url=url, queue=queue, visibility_timeout=30)
    try:
        # 1. Queued while no worker runs, then Redis lost with its disk (a new machine, no volume): gone.
        for event_id in events[2:]:
            send_task(url, "settlement.tasks.settle_event", [event_id], queue)
        redis_server.kill()
        redis_server.wipe()
        redis_server.start()
        assert queue_length(url, queue) == 0

        # 2. Queued, then Redis killed and started again from its append-only file: kept, and done by the worker.
        for event_id in events[:2]:
            send_task(url, "settlement.tasks.settle_event", [event_id], queue)
        redis_server.kill()
        redis_server.start()
        assert queue_length(url, queue) == 2
        worker.start()
        wait_for(lambda: _paid_events() == events[:2], "the two queued events to be paid")
        # Redis restarted once more under the running worker, which reconnects.
        redis_server.kill()
        redis_server.start()

        # 3. The beat's daily sweep (settle_day) finds what the lost tasks would have paid, and pays only that.
        send_task(url, "settlement.tasks.settle_day", [DAY.date().isoformat()], queue)
        wait_for(
            lambda: SettlementRun.objects.filter(status=SettlementRun.Status.COMPLETED).exists(), "the daily sweep"
        )
    finally:
        print(f"--- worker log ---\n{worker.log()[-6000:]}")
        worker.stop()
    assert _paid_events() == events  # every event paid, each once
    keys = list(SettlementItem.objects.values_list("business_key", flat=True))
    assert len(keys) == len(set(keys))
    run = SettlementRun.objects.get()
    assert run.items_created == SettlementItem.objects.filter(run=run).count() > 0
    assert ledger_is_balanced() and balance_mismatches() == []
