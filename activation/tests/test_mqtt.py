"""Through the real broker (Mosquitto on MQTT_HOST:MQTT_PORT): commands, acks, telemetry, outage, cascades."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts.models import GridZone
from activation import services
from activation.models import Cascade, CascadeStep, DREvent, OutboxMessage, Telemetry
from activation.protocols.mqtt import MqttListener
from activation.selectors import event_measured_kw, registry_device_specs
from activation.simulator import AckCollector, DeviceFleet, SimDevice, apply_messages

pytestmark = [pytest.mark.django_db, pytest.mark.mqtt]


def _fleet_for(premises, **kw):
    devices = [SimDevice(ref, pid, kw_, **kw) for ref, pid, kw_ in registry_device_specs(premises=premises)]
    return DeviceFleet(devices, ramp_seconds=0).start()


def _pump(collector, until, timeout=10.0):
    deadline = time.monotonic() + timeout
    applied = {"acks": 0, "telemetry": 0}
    while time.monotonic() < deadline:
        got = apply_messages(collector.drain(timeout=0.2))
        applied = {k: applied[k] + got[k] for k in applied}
        if until(applied):
            break
    return applied


def test_mqtt_round_trip_command_ack_telemetry(act_world):
    w = act_world
    now = timezone.now()
    premise = w.premises[3]  # commercial: HVAC (VEN), chargers (OCPP), a building battery (MQTT)
    fleet = _fleet_for([premise])
    collector = AckCollector()
    listener = MqttListener(on_ack=collector.on_ack, on_telemetry=collector.on_telemetry).start()
    try:
        w.program.notice_minutes = 0
        w.program.save()
        event = services.event_create(
            program=w.program,
            premise=premise,
            target_kw=Decimal("30"),
            start=now,
            end=now + timedelta(hours=1),
            now=now,
        )
        rows = list(OutboxMessage.objects.filter(event=event))
        assert [r.payload["kind"] for r in rows] == ["battery"]  # 30 kW: the battery covers it
        assert services.outbox_flush(now=now)["sent"] == len(rows)
        applied = _pump(collector, lambda a: a["acks"] >= len(rows))
        assert applied["acks"] == len(rows)
        assert set(OutboxMessage.objects.filter(event=event).values_list("status", flat=True)) == {"acknowledged"}
        # The device applied its command and reports its reduced draw.
        fleet.report_telemetry()
        _pump(collector, lambda a: a["telemetry"] >= 1)
        t = Telemetry.objects.get(event=event)
        assert t.baseline_kw == Decimal("50.000") and t.kw == Decimal("20.000")
        assert event_measured_kw(event=event, now=timezone.now() + timedelta(seconds=1)) == Decimal("30.000")
        assert fleet.received[rows[0].destination] == [str(rows[0].message_id)]
    finally:
        listener.stop()
        fleet.stop()


def test_outbox_survives_broker_outage_each_device_gets_its_command_once(act_world):
    w = act_world
    now = timezone.now()
    premises = w.premises[3:6]  # the businesses and the factory: each has a battery on MQTT
    fleet = _fleet_for(premises)
    try:
        w.program.notice_minutes = 0
        w.program.save()
        events = [
            services.event_create(
                program=w.program, premise=p, target_kw=Decimal("3"), start=now, end=now + timedelta(hours=1), now=now
            )
            for p in premises
        ]
        rows = list(OutboxMessage.objects.filter(event__in=events, channel="mqtt"))
        assert len(rows) >= 3
        with override_settings(MQTT_PORT=1):  # the broker is "down": nothing listens there
            result = services.outbox_flush(now=now)
        assert result["sent"] == 0 and result["failed"] == len(rows)
        pending = OutboxMessage.objects.filter(event__in=events, status=OutboxMessage.Status.PENDING)
        assert pending.count() == len(rows) and all(r.attempts == 1 and r.last_error for r in pending)
        # Not due again until the backoff has passed.
        assert services.outbox_flush(now=now)["sent"] == 0
        later = now + timedelta(seconds=60)
        assert services.outbox_flush(now=later)["sent"] == len(rows)
        assert services.outbox_flush(now=later + timedelta(minutes=10))["sent"] == 0  # nothing sent twice
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and sum(map(len, fleet.received.values())) < len(rows):
            time.sleep(0.05)
        time.sleep(0.3)
        for row in rows:
            assert fleet.received[row.destination] == [str(row.message_id)]
        assert sum(map(len, fleet.received.values())) == len(rows)
    finally:
        fleet.stop()


def test_device_dedupes_a_redelivered_message(act_world):
    fleet = DeviceFleet([SimDevice("dedupe-dev", act_world.premises[0].pk, 3.0)], ramp_seconds=0).start()
    try:
        from activation.protocols.mqtt import MqttPublisher, command_topic

        pub = MqttPublisher()
        msg = {"message_id": "11111111-1111-1111-1111-111111111111", "command": "DISCHARGE_KW", "shed_kw": "1"}
        assert pub.publish_many([(command_topic("dedupe-dev"), msg), (command_topic("dedupe-dev"), msg)]) == [
            True,
            True,
        ]
        pub.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(fleet.received["dedupe-dev"]) < 2:
            time.sleep(0.05)
        assert len(fleet.received["dedupe-dev"]) == 2  # delivered twice ...
        assert len(fleet.devices["dedupe-dev"].applied) == 1  # ... applied once
    finally:
        fleet.stop()


def _ack(row, now):
    """The device's acknowledgement over its own channel (MQTT ack, or the OCPP station's Accepted)."""
    if row.channel == "ocpp":
        services.ocpp_command_result(message_id=str(row.message_id), station=row.topic, accepted=True, now=now)
    else:
        services.device_ack_record(message_id=str(row.message_id), device_id=row.destination, now=now)


def _cascade_setup(w):
    w.program.notice_minutes = 0
    w.program.save()
    return GridZone.objects.get(code="sub-east-1")  # R1 (t1, 3), C5 (t1, 40), R2 (t2, 3), I6 (t2, 200)


def test_cascade_escalates_when_tier_one_falls_short_then_meets_target(act_world):
    w = act_world
    zone = _cascade_setup(w)
    now = timezone.now()
    cascade = services.cascade_start(
        program=w.program, zone=zone, target_kw=Decimal("60"), start=now, end=now + timedelta(hours=2), now=now
    )
    tier1 = list(cascade.events.all())
    assert {e.tier for e in tier1} == {1} and sum(e.target_kw for e in tier1) == Decimal("43")
    services.outbox_flush(now=now)
    # Tier 1 acknowledges but delivers only 20 kW (measured from telemetry).
    for row in OutboxMessage.objects.filter(event__in=tier1):
        _ack(row, now)
    c5 = next(e for e in tier1 if e.target_kw == Decimal("40"))
    (battery,) = [r for r in OutboxMessage.objects.filter(event=c5) if r.payload["kind"] == "battery"]
    services.telemetry_record(
        device_id=battery.destination,
        data={
            "premise_id": c5.premise_id,
            "kw": "30",
            "baseline_kw": "50",
            "event_id": c5.pk,
            "at": (now + timedelta(minutes=5)).isoformat(),
        },
    )
    # Not yet: the tier's response time (10 min) has not passed.
    assert services.cascades_evaluate_due(now=now + timedelta(minutes=5)) == []
    check = now + timedelta(minutes=10)
    services.cascades_evaluate_due(now=check)
    cascade.refresh_from_db()
    assert cascade.status == Cascade.Status.RUNNING and cascade.current_tier == 2
    tier2 = list(cascade.events.filter(tier=2))
    assert sum(e.target_kw for e in tier2) == Decimal("40")  # the 40 kW shortfall
    actions = list(cascade.steps.values_list("tier", "action"))
    assert actions == [(1, "dispatch"), (1, "measure"), (2, "escalate"), (2, "dispatch")]
    assert cascade.steps.get(action="measure").measured_kw == Decimal("20.000")
    # Tier 2 delivers.
    services.outbox_flush(now=check)
    i6 = next(e for e in tier2 if e.target_kw > 3)
    for row in OutboxMessage.objects.filter(event__in=tier2):
        _ack(row, check)
    r1 = next(e for e in tier1 if e.target_kw == Decimal("3"))
    for event in (i6, r1):  # I6 delivers its 37 kW, R1 (tier 1, late) its 3 kW: 20 + 3 + 37 = 60
        for row in OutboxMessage.objects.filter(event=event):
            services.telemetry_record(
                device_id=row.destination,
                data={
                    "premise_id": event.premise_id,
                    "kw": "1",
                    "baseline_kw": str(1 + Decimal(row.payload["shed_kw"])),
                    "event_id": event.pk,
                    "at": (check + timedelta(minutes=5)).isoformat(),
                },
            )
    services.cascades_evaluate_due(now=check + timedelta(minutes=10))
    cascade.refresh_from_db()
    assert cascade.status == Cascade.Status.MET
    assert cascade.steps.last().action == CascadeStep.Action.MET


def test_unacknowledged_devices_are_marked_and_the_cascade_escalates(act_world):
    w = act_world
    zone = _cascade_setup(w)
    now = timezone.now()
    cascade = services.cascade_start(
        program=w.program, zone=zone, target_kw=Decimal("10"), start=now, end=now + timedelta(hours=2), now=now
    )
    services.outbox_flush(now=now)
    tier1 = set(cascade.events.values_list("pk", flat=True))
    rows = OutboxMessage.objects.filter(event__in=tier1, channel="mqtt")
    deadline = max(r.ack_deadline for r in rows)
    assert services.acks_overdue_mark(now=deadline - timedelta(seconds=1)) == []
    marked = services.acks_overdue_mark(now=deadline + timedelta(seconds=1))
    assert set(marked) == tier1
    assert set(rows.values_list("status", flat=True)) == {OutboxMessage.Status.NO_ACK}
    cascade.refresh_from_db()
    assert cascade.current_tier == 2 and cascade.events.filter(tier=2).exists()
    assert cascade.steps.filter(action="escalate").exists()


def test_emergency_stop_halts_a_running_cascade(act_world):
    w = act_world
    zone = _cascade_setup(w)
    now = timezone.now()
    cascade = services.cascade_start(
        program=w.program, zone=zone, target_kw=Decimal("10"), start=now, end=now + timedelta(hours=2), now=now
    )
    services.emergency_stop_engage(user=w.user("operator@demo.flex"), reason="test", now=now)
    cascade.refresh_from_db()
    assert cascade.status == Cascade.Status.HALTED and cascade.steps.last().action == "halted"
    assert services.outbox_flush(now=now)["sent"] == 0
    assert services.cascades_evaluate_due(now=now + timedelta(hours=1)) == []
    assert DREvent.objects.filter(cascade=cascade).count() == cascade.events.count()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_flushes_send_each_command_once(act_world):
    """Two outbox workers at the same time (row locks, SKIP LOCKED): every device still gets its command once."""
    import threading

    from django.db import connection

    w = act_world
    now = timezone.now()
    w.program.notice_minutes = 0
    w.program.save()
    fleet = _fleet_for(w.premises)
    try:
        events = [
            services.event_create(
                program=w.program, premise=p, target_kw=Decimal("2"), start=now, end=now + timedelta(hours=1), now=now
            )
            for p in w.premises
        ]
        # the MQTT commands (an EV charger's goes over OCPP, sent by the charging-station endpoint, ADR 0029)
        rows = list(OutboxMessage.objects.filter(event__in=events, channel=OutboxMessage.Channel.MQTT))
        assert rows and OutboxMessage.objects.filter(event__in=events).exclude(channel="mqtt").count() < len(rows)
        results = []
        barrier = threading.Barrier(2)

        def worker():
            try:
                barrier.wait()
                results.append(services.outbox_flush(now=now))
            finally:
                connection.close()

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(r["sent"] for r in results) == len(rows)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and sum(map(len, fleet.received.values())) < len(rows):
            time.sleep(0.05)
        time.sleep(0.3)
        assert sum(map(len, fleet.received.values())) == len(rows)
        assert all(fleet.received[r.destination] == [str(r.message_id)] for r in rows)
    finally:
        fleet.stop()


@pytest.mark.django_db(transaction=True)
def test_management_commands_simulator_and_listener_end_to_end(act_world):
    """``device_simulator`` (devices) and ``mqtt_listen`` (platform) through the broker: commands out, acks and
    telemetry back into the database."""
    import threading

    from django.core.management import call_command
    from django.db import connection

    w = act_world
    premise = w.premises[3]
    sim = threading.Thread(
        target=lambda: (
            call_command(
                "device_simulator",
                seconds=6,
                telemetry_every=1,
                non_responders=0,
                partial=0,
                stdout=open("/dev/null", "w"),
            ),
            connection.close(),
        ),  # noqa: SIM115
    )
    sim.start()
    time.sleep(1.5)  # the fleet subscribes
    now = timezone.now()
    w.program.notice_minutes = 0
    w.program.save()
    event = services.event_create(
        program=w.program, premise=premise, target_kw=Decimal("30"), start=now, end=now + timedelta(hours=1), now=now
    )
    call_command("mqtt_listen", seconds=4, tick=0.5, stdout=open("/dev/null", "w"))  # noqa: SIM115
    sim.join()
    row = OutboxMessage.objects.get(event=event)
    assert row.status == OutboxMessage.Status.ACKNOWLEDGED and row.acked_at is not None
    assert Telemetry.objects.filter(event=event, device_id=row.destination).exists()
    assert event_measured_kw(event=event, now=timezone.now()) > 0
