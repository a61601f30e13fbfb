"""Bulk dispatch: the emergency call's set-based path (chunked commits), the outbox's exactly-once writing, the
batched acks, and the real-broker round trip of a whole fleet after an outage."""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts.models import Device, GridZone, Premise
from activation import services
from activation.models import DispatchSignal, DREvent, Enrollment, OutboxMessage, Program
from activation.selectors import registry_device_specs
from activation.services import emergency
from flexplatform.errors import Conflict

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleet_program(act_world, monkeypatch):
    """The three households in an emergency program where every one of their 4 devices is commanded; the
    emergency call commits 2 resources per transaction."""
    monkeypatch.setattr(emergency, "EMERGENCY_CHUNK", 2)
    program = services.program_create(
        code="emergency-fleet",
        name="Emergency fleet",
        kind=Program.Kind.EMERGENCY,
        notice_minutes=0,
        max_events_per_day=2,
        max_events_per_month=10,
    )
    households = [p for p in act_world.premises if p.segment == "residential"]
    for p in households:
        services.enrollment_create(program=program, premise=p, committed_kw=Decimal("20"), safety_max_kw=Decimal("20"))
    return program, households


def _call(w, program, now=None, minutes=60):
    now = now or w.now
    return services.emergency_event_create(
        program=program,
        zone=GridZone.objects.get(code="iso-east"),
        start=now,
        end=now + timedelta(minutes=minutes),
        user=w.user("operator@demo.flex"),
        now=now,
    )


def test_emergency_call_writes_exactly_one_command_per_device_and_a_repeat_writes_none(act_world, fleet_program):
    w = act_world
    program, households = fleet_program
    aggregator_endpoint = services.webhook_endpoint_create(
        organisation=w.world.aggregator, url="https://agg.example/hook", secret="s" * 32
    )
    events = _call(w, program)
    assert len(events) == 3 and all(e.pk and e.status == DREvent.Status.NOTIFIED for e in events)
    # Every registered MQTT device that can act without notice (the thermostats need 30 minutes: not them).
    devices = {
        f"dev-{pk}"
        for pk in Device.objects.filter(premise__in=households, control_channel="mqtt", notice_minutes=0).values_list(
            "pk", flat=True
        )
    }
    rows = OutboxMessage.objects.filter(channel=OutboxMessage.Channel.MQTT)
    assert rows.count() == len(devices) >= 4
    assert {r.destination for r in rows} == devices  # one command per device, each device once
    assert all(r.payload["message_id"] == str(r.message_id) and r.payload["emergency"] for r in rows)
    assert DispatchSignal.objects.filter(event__in=events).count() == 3
    with_aggregator = [e for e in events if e.premise.aggregator_id]
    hooks = OutboxMessage.objects.filter(channel=OutboxMessage.Channel.WEBHOOK)
    assert with_aggregator and {(h.event_id, h.destination) for h in hooks} == {
        (e.pk, f"endpoint-{aggregator_endpoint.pk}") for e in with_aggregator
    }
    ids = dict(rows.values_list("destination", "message_id"))

    # The same call again (e.g. retried after a failure part-way): nobody is commanded twice.
    assert _call(w, program) == []
    # Dispatching an event again writes nothing either; message ids stay those of the first write.
    for e in events:
        services.event_dispatch(event=e, now=w.now)
    assert DREvent.objects.filter(program=program).count() == 3
    assert dict(OutboxMessage.objects.filter(channel="mqtt").values_list("destination", "message_id")) == ids
    assert DispatchSignal.objects.filter(event__in=events).count() == 3


def test_emergency_call_in_bulk_keeps_caps_comfort_and_safety_limits(act_world, fleet_program):
    w = act_world
    program, households = fleet_program
    # One household already had two events that day: the cap (2 a day) skips it, not the whole call.
    capped = households[0]
    for minutes_ahead in (0, 120):
        start = w.now + timedelta(minutes=minutes_ahead)
        services.event_create(
            program=program,
            premise=capped,
            target_kw=Decimal("1"),
            start=start,
            end=start + timedelta(minutes=30),
            now=w.now,
        )
    # Another has a tight safety limit.
    tight = households[1]
    Enrollment.objects.filter(program=program, premise=tight).update(safety_max_kw=Decimal("6"))
    events = _call(w, program, now=w.now + timedelta(hours=4))
    assert {e.premise_id for e in events} == {p.pk for p in households[1:]}
    for e in events:
        commands = [r.payload for r in OutboxMessage.objects.filter(event=e, channel="mqtt")]
        safety = Enrollment.objects.get(program=program, premise_id=e.premise_id).safety_max_kw
        assert sum(Decimal(c["shed_kw"]) for c in commands) <= safety
        for c in commands:
            if c["kind"] == "thermostat":
                assert Decimal(c["value"]) <= 2  # comfort: at most 2 °C offset
            if c["kind"] == "ev_charger":
                assert Decimal(c["value"]) >= Decimal("1.4")  # the owner's minimum charging power
            if c["kind"] == "water_heater":
                assert c["duration_minutes"] <= 120
    assert len(OutboxMessage.objects.filter(event__premise=tight, event__in=events)) < 4


def test_emergency_call_refused_under_the_emergency_stop_writes_nothing(act_world, fleet_program):
    w = act_world
    program, _ = fleet_program
    services.emergency_stop_engage(user=w.user("operator@demo.flex"), reason="drill", now=w.now)
    with pytest.raises(Conflict) as exc:
        _call(w, program)
    assert exc.value.code == "emergency_stop"
    assert not DREvent.objects.filter(program=program).exists() and not OutboxMessage.objects.exists()


def test_batched_acks_count_once_for_the_right_device_even_when_they_overtake_the_sent_mark(act_world, fleet_program):
    w = act_world
    program, _ = fleet_program
    _call(w, program)
    rows = list(OutboxMessage.objects.filter(channel="mqtt").order_by("id"))
    first, second, third = rows[0], rows[1], rows[2]
    at = w.now + timedelta(seconds=1)
    n = services.device_acks_record(
        acks=[
            (str(first.message_id), first.destination, at),  # still pending: the ack overtook the flush's mark
            (str(second.message_id), "someone-else", at),  # not the device it was sent to
            ("not-a-uuid", third.destination, at),
        ]
    )
    assert n == 1
    assert services.device_acks_record(acks=[(str(first.message_id), first.destination, at)]) == 0  # once
    # The flush that published it must not turn the acknowledged row back into "sent".

    services.mqtt_results_mark([(first.pk, first.topic, "{}", 0, first.event_id)], [True], sent_at=at, now=at, error="")
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == OutboxMessage.Status.ACKNOWLEDGED and first.acked_at == at and first.sent_at == at
    assert second.status == OutboxMessage.Status.PENDING


@pytest.mark.mqtt
def test_fleet_after_a_broker_outage_gets_every_command_exactly_once_and_acks_are_recorded(act_world, fleet_program):
    """The whole emergency call through the real broker: broker down (dead port) -> everything kept; back ->
    each device gets its command once (one simulator connection, per-device topics) and every ack reaches
    the platform's listener and the database."""
    from activation.protocols.mqtt import MqttListener
    from activation.simulator import AckCollector, DeviceFleet, SimDevice, apply_messages

    w = act_world
    program, households = fleet_program
    now = timezone.now()
    events = _call(w, program, now=now)
    rows = list(OutboxMessage.objects.filter(event__in=events, channel="mqtt"))
    n = len(rows)
    assert n >= 4
    fleet = DeviceFleet(
        [SimDevice(ref, pid, kw) for ref, pid, kw in registry_device_specs(premises=households)],
        ramp_seconds=0,
    ).start()
    collector = AckCollector()
    listener = MqttListener(on_ack=collector.on_ack, on_telemetry=collector.on_telemetry).start()
    try:
        with override_settings(MQTT_PORT=1):
            down = services.outbox_flush(now=now)
        assert down["sent"] == 0 and down["failed"] == n
        assert OutboxMessage.objects.filter(event__in=events, status="pending", attempts=1).count() == n
        later = now + timedelta(minutes=5)
        assert services.outbox_flush(now=later)["sent"] == n
        assert services.outbox_flush(now=later + timedelta(minutes=10))["sent"] == 0
        deadline = time.monotonic() + 10
        acked = 0
        while time.monotonic() < deadline and acked < n:
            acked += apply_messages(collector.drain(timeout=0.2))["acks"]
        assert acked == n
        time.sleep(0.3)
        for row in rows:  # each command delivered exactly once (the shared broker may carry others' commands)
            assert fleet.received[row.destination].count(str(row.message_id)) == 1
        assert set(OutboxMessage.objects.filter(event__in=events, channel="mqtt").values_list("status", flat=True)) == {
            "acknowledged"
        }
    finally:
        listener.stop()
        fleet.stop()


@pytest.mark.mqtt
def test_listener_takes_a_burst_of_acks_larger_than_the_brokers_queue_without_loss(act_world):
    """Mosquitto queues at most 1,000 QoS 1 messages (+20 in flight) for an MQTT 3.1.1 subscriber and drops the
    rest; the listener declares a Receive Maximum as an MQTT 5 client, so a fleet's burst of acks arrives whole."""
    import uuid

    from activation.protocols.mqtt import MqttListener, MqttPublisher, topic_root

    tag = uuid.uuid4().hex[:8]
    got: dict[str, int] = {}
    listener = MqttListener(
        on_ack=lambda d, data: got.__setitem__(data["message_id"], 1), on_telemetry=lambda d, x: None
    )
    listener.start()
    try:
        listener._stop.set()  # stop reading for a moment: the broker must hold the whole burst for us
        listener._thread.join(2)
        n = 3000
        ok = MqttPublisher().publish_many(
            [(f"{topic_root()}/burst-{tag}-{i}/ack", {"message_id": f"{tag}-{i}"}) for i in range(n)]
        )
        assert all(ok)
        listener._stop.clear()
        listener._thread = threading.Thread(target=listener._run, daemon=True)
        listener._thread.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and sum(1 for k in got if k.startswith(tag)) < n:
            time.sleep(0.05)
        assert sum(1 for k in got if k.startswith(tag)) == n
    finally:
        listener.stop()


def test_demo_skips_the_device_simulator_without_a_broker_and_says_so(act_world):
    import demo

    with override_settings(MQTT_PORT=1):
        simulation = demo.devices_simulate_start(act_world.world)
        assert demo.devices_simulate_finish(simulation) == (
            "no MQTT broker at 127.0.0.1:1: device simulator skipped, commands kept in the outbox"
        )


@pytest.mark.mqtt
def test_demo_device_simulator_acknowledges_dispatched_commands_and_reports_telemetry(act_world):
    import demo
    from activation.models import Telemetry

    w = act_world
    simulation = demo.devices_simulate_start(w.world)
    assert simulation.fleet is not None
    w.program.notice_minutes = 0
    w.program.save()
    now = timezone.now()
    premise = w.premises[3]  # commercial: 30 kW is the battery's
    event = services.event_create(
        program=w.program, premise=premise, target_kw=Decimal("30"), start=now, end=now + timedelta(hours=1), now=now
    )
    summary = demo.devices_simulate_finish(simulation)
    row = OutboxMessage.objects.get(event=event)
    device = row.destination
    responds = simulation.fleet.devices[device].responds
    # (The broker is shared: other test runs may command devices of the same names, so counts are >=.)
    assert re.fullmatch(
        r"\d+ commands received by simulated devices over MQTT \(127\.0\.0\.1:1883\), \d+ acknowledged, "
        r"\d+ telemetry readings recorded",
        summary,
    )
    row = OutboxMessage.objects.get(event=event)
    assert str(row.message_id) in simulation.fleet.received[device]
    assert row.status == (OutboxMessage.Status.ACKNOWLEDGED if responds else OutboxMessage.Status.SENT)
    assert Telemetry.objects.filter(event=event).exists() == responds


def test_emergency_events_are_written_notified_and_their_owners_told_once(act_world, fleet_program):
    """The emergency call creates its events notified at the call (no second write of them) and notifies each
    premise's organisation once per event, as a dispatched scheduled event is (ADR 0040)."""
    from accounts.models import Notification, NotificationKind

    w = act_world
    program, households = fleet_program
    events = _call(w, program)
    rows = DREvent.objects.filter(pk__in=[e.pk for e in events])
    assert {(r.status, r.notified_at) for r in rows} == {(DREvent.Status.NOTIFIED, w.now)}
    assert all(e.status == DREvent.Status.NOTIFIED and e.notified_at == w.now for e in events)
    told = Notification.objects.filter(kind=NotificationKind.EVENT_SCHEDULED)
    expected = {f"event_scheduled:{e.pk}" for e in events}
    assert set(told.values_list("key", flat=True)) == expected
    assert told.count() == len(set(told.values_list("user_id", "key")))
    # The dispatch records (written as plain values) read back as the commands sent.
    for r in OutboxMessage.objects.filter(event__in=events, channel="mqtt"):
        record = r.event.device_dispatches.get(device_id=int(r.destination.removeprefix("dev-")))
        assert (record.command, record.value, record.shed_kw) == (
            r.payload["command"],
            Decimal(r.payload["value"]),
            Decimal(r.payload["shed_kw"]),
        )
    assert _call(w, program) == [] and told.count() == len(expected)


@pytest.mark.postgres  # the statements of PostgreSQL's set-based reads; SQLite (the embedded default) reads per meter
def test_emergency_call_reads_zones_once_and_safety_limits_with_the_lock(act_world, fleet_program):
    """Across its chunks, the emergency call reads the premises' zones once and takes each enrollment's safety
    limit from the rows it locked (no second read of the enrollments per chunk, ADR 0049); the commands still
    keep the safety limit."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    w = act_world
    program, households = fleet_program
    tight = households[1]
    Enrollment.objects.filter(program=program, premise=tight).update(safety_max_kw=Decimal("6"))
    # Every household in one zone, so that both chunks have premises of it.
    Premise.objects.filter(pk__in=[h.pk for h in households]).update(grid_zone_id=households[0].grid_zone_id)
    chunks = len(emergency._chunk_bounds(len(households)))
    assert chunks == 2  # EMERGENCY_CHUNK = 2 (the fixture), three households
    with CaptureQueriesContext(connection) as ctx:
        events = _call(w, program)
    sql = [q["sql"] for q in ctx.captured_queries]
    enrollment_reads = [s for s in sql if 'FROM "activation_enrollment"' in s]
    assert len(enrollment_reads) == 1 + chunks  # the ids, then one locking read per chunk
    assert all("FOR UPDATE" in s for s in enrollment_reads[1:])
    # Each zone is read once for the whole call (a later chunk reads only zones not seen yet).
    zone_reads = [s for s in sql if 'FROM "accounts_gridzone" WHERE "accounts_gridzone"."id" IN (' in s]
    read = [
        z for s in zone_reads for z in re.findall(r"\d+", s.split('"accounts_gridzone"."id" IN (')[1].split(")")[0])
    ]
    assert read == [str(households[0].grid_zone_id)]
    for e in events:
        shed = sum(Decimal(r.payload["shed_kw"]) for r in OutboxMessage.objects.filter(event=e, channel="mqtt"))
        assert shed <= Enrollment.objects.get(program=program, premise_id=e.premise_id).safety_max_kw


def test_message_ids_are_random_version_4_uuids():
    import uuid

    from activation.services.outbox import new_message_id

    ids = [new_message_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in ids)
    assert all(uuid.UUID(str(u), version=4) == u for u in ids)  # the bits uuid.UUID(version=4) sets


def test_device_budget_ids_go_in_one_slice_on_postgresql():
    from django.db import connection

    from activation.bulk import id_chunks

    ids = list(range(2500))
    expected = [ids] if connection.vendor == "postgresql" else [ids[:900], ids[900:1800], ids[1800:]]
    assert list(id_chunks(ids)) == expected
    assert list(id_chunks([])) == []


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"event_id": 1, "emergency": True, "start": "2031-06-10T12:00:00+00:00", "value": "1.500"},
        {"nested": {"a": [1, None, False]}, "text": 'qu"ote\\ é 🔋\n'},
        {"message_id": "earlier", "kind": "battery"},  # a payload with the key keeps its place
    ],
)
def test_an_outbox_payload_is_written_as_the_encoder_writes_it_with_its_message_id(payload):
    """``outbox.payload_json``: from a dict, or from the JSON text of one (a device command's, ADR 0053), the
    payload written is exactly ``json.dumps({**payload, "message_id": ...})`` (compact)."""
    import json

    from activation.services.outbox import new_message_id, payload_json

    message_id = str(new_message_id())
    expected = json.dumps({**payload, "message_id": message_id}, separators=(",", ":"))
    assert payload_json(payload, message_id) == expected
    if "message_id" not in payload:
        assert payload_json(json.dumps(payload, separators=(",", ":")), message_id) == expected
