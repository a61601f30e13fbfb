"""Faults of the brokers, each a private instance on a free port (the machine's shared Redis and Mosquitto are
never touched): Redis restarted while tasks are queued, Mosquitto restarted in the middle of a dispatch."""

from __future__ import annotations

import shutil
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from activation import services
from activation.models import DREvent, OutboxMessage
from activation.protocols.mqtt import MqttListener, command_topic
from activation.simulator import AckCollector, DeviceFleet, SimDevice, apply_messages
from settlement.models import SettlementItem, SettlementRun
from settlement.selectors import balance_mismatches, ledger_is_balanced
from settlement.tests.factories import DAY

from .faults import MosquittoBroker, RedisServer, WorkerProcess, queue_length, send_task, settlement_world, wait_for

# an event's revenue: a direct seller's performance item, or an aggregator member's share (ADR 0024), one per event
REVENUE_KINDS = ("performance", "member_share")


@pytest.fixture
def redis_server():
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer().start()
    yield server
    server.stop()


def _paid_events() -> list[int]:
    return sorted(SettlementItem.objects.filter(kind__in=REVENUE_KINDS).values_list("event_id", flat=True))


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


@pytest.fixture
def mosquitto(settings):
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed")
    broker = MosquittoBroker().start()
    settings.MQTT_PORT = broker.port
    settings.MQTT_TIMEOUT_SECONDS = 2.0
    yield broker
    broker.stop()


def _commands(n: int) -> list[OutboxMessage]:
    """One command per device of an event, as the dispatch writes them (``activation.services.outbox.outbox_put``)."""
    from settlement.tests.factories import event_make, world_make

    w = world_make(n=1, tag="mq")
    event = event_make(
        w, w.premises[0], start=DAY, price=Decimal("50"), target_kw=Decimal("1"), delivered=[Decimal("0.3")] * 4
    )
    now = timezone.now()
    rows = []
    for i in range(n):
        message_id = uuid.uuid4()
        device = f"flt-{i:03d}"
        rows.append(
            OutboxMessage(
                event=event,
                channel=OutboxMessage.Channel.MQTT,
                destination=device,
                message_id=message_id,
                topic=command_topic(device),
                payload={"command": "SHED_KW", "shed_kw": "1", "event_id": event.pk, "message_id": str(message_id)},
                next_attempt_at=now,
                ack_deadline=now + timedelta(seconds=settings.DEVICE_ACK_SECONDS),
            )
        )
    return OutboxMessage.objects.bulk_create(rows)


def _record_acks(collector: AckCollector, want: int, timeout: float = 10.0) -> int:
    """Write the acknowledgements the listener collected (as the platform's listener process does)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        apply_messages(collector.drain(timeout=0.1))
        if OutboxMessage.objects.filter(status=OutboxMessage.Status.ACKNOWLEDGED).count() >= want:
            break
    return OutboxMessage.objects.filter(status=OutboxMessage.Status.ACKNOWLEDGED).count()


@pytest.mark.mqtt
@pytest.mark.django_db
def test_mosquitto_restarted_during_dispatch_each_device_is_commanded_once(mosquitto):
    rows = _commands(40)
    devices = [SimDevice(r.destination, 0, 5.0) for r in rows]
    fleet = DeviceFleet(devices, port=mosquitto.port, ramp_seconds=0).start()
    collector = AckCollector()
    listener = MqttListener(on_ack=collector.on_ack, on_telemetry=collector.on_telemetry).start()
    t0 = timezone.now()
    try:
        # Half the fleet is commanded and acknowledges; then the broker dies in the middle of the dispatch.
        assert services.outbox_flush(now=t0, limit=20)["sent"] == 20
        assert _record_acks(collector, 20) == 20
        mosquitto.kill()
        fleet.stop()  # the devices lose their connection with it
        assert services.outbox_flush(now=t0)["failed"] == 20  # broker down: kept pending, retried with backoff

        # The broker comes back empty (no sessions, no subscriptions) and the retry goes out before the
        # devices have reconnected: the broker acknowledges commands nobody receives.
        mosquitto.start()
        assert services.outbox_flush(now=t0 + timedelta(seconds=6))["sent"] == 20
        fleet = DeviceFleet(devices, port=mosquitto.port, ramp_seconds=0).start()  # the devices reconnect

        # The periodic flushes (beat: every 5 s) until the acknowledgement deadline.
        for seconds in (11, 16, 21, 26):
            services.outbox_flush(now=t0 + timedelta(seconds=seconds))
            if _record_acks(collector, len(rows), timeout=1.0) == len(rows):
                break
    finally:
        listener.stop()
        fleet.stop()
    for row in rows:
        device = fleet.devices[row.destination]
        assert device.applied == {str(row.message_id)}, row.destination  # commanded, and once
    statuses = set(OutboxMessage.objects.values_list("status", flat=True))
    assert statuses == {OutboxMessage.Status.ACKNOWLEDGED}
