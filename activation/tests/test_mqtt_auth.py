"""MQTT with authentication and authorisation (ADR 0029), through a real Mosquitto configured by
``manage.py mqtt_acl``: refusals first (a device on another device's topic, a forged ack, a wrong password), then
the authenticated round trip."""

from __future__ import annotations

import json
import shutil
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.device_credentials import device_credential_issue, mosquitto_password_hash
from accounts.models import Device
from activation import services
from activation.models import OutboxMessage
from activation.protocols.mqtt import MqttListener
from activation.protocols.mqtt_wire import MQTT_5, WireClient, WireError
from activation.simulator import AckCollector, SecureDeviceFleet, SimDevice, apply_messages
from tests.faults import secure_broker

pytestmark = [pytest.mark.django_db, pytest.mark.mqtt]

PLATFORM = ("flex-platform", "platform-secret-for-tests")


@pytest.fixture
def broker(settings):
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed")
    b = secure_broker()
    settings.MQTT_PORT = b.port
    settings.MQTT_USERNAME, settings.MQTT_PASSWORD = PLATFORM
    settings.MQTT_TIMEOUT_SECONDS = 3.0
    yield b
    b.stop()


def _mqtt_devices(premise) -> dict[str, str]:
    """Issue credentials to the premise's MQTT devices: device ref -> password (shown once)."""
    return dict(
        device_credential_issue(device=d) for d in Device.objects.filter(premise=premise, control_channel="mqtt")
    )


def _client(port, username, password) -> WireClient:
    return WireClient("127.0.0.1", port, client_id=username, version=MQTT_5, username=username, password=password)


def _event(w, premise, kw="30"):
    w.program.notice_minutes = 0
    w.program.save()
    now = timezone.now()
    return services.event_create(
        program=w.program, premise=premise, target_kw=Decimal(kw), start=now, end=now + timedelta(hours=1), now=now
    )


def test_the_password_hash_is_mosquittos():
    """The hash ``mosquitto_passwd`` writes for 'secret' with this salt (checked with mosquitto_passwd -b)."""
    import base64

    salt = base64.b64decode("z8q2aKAu+JzMV3vn")
    assert mosquitto_password_hash("secret", salt=salt) == (
        "$7$101$z8q2aKAu+JzMV3vn$QQby9PsjI94U7ZW7jXjATV89K0KXPzclsRqVB+WCsDNCDbY1Xr7N4hQKFk04lKDT+FqNy+urKATZ0kA+Jhlvsw=="
    )


def test_a_device_on_another_devices_topic_is_refused_and_a_forged_ack_never_reaches_the_database(act_world, broker):
    w = act_world
    victim_creds = _mqtt_devices(w.premises[3])
    attacker_creds = _mqtt_devices(w.premises[4])
    broker.reload()
    event = _event(w, w.premises[3])
    (row,) = OutboxMessage.objects.filter(event=event, channel="mqtt")
    assert row.destination in victim_creds
    collector = AckCollector()
    listener = MqttListener(on_ack=collector.on_ack, on_telemetry=collector.on_telemetry).start()
    attacker_id, attacker_pw = next(iter(attacker_creds.items()))
    attacker = _client(broker.port, attacker_id, attacker_pw).connect()
    try:
        # Reading another device's commands: Mosquitto 2.0 grants the subscription but delivers nothing the ACL
        # does not let the device read.
        attacker.subscribe([row.topic, row.topic.replace(row.destination, "+")])
        assert services.outbox_flush()["sent"] == 1  # the platform signs in with its own account
        received, deadline = [], time.monotonic() + 1.5
        while time.monotonic() < deadline:
            received += attacker.poll(0.1)[1]
        assert received == []
        # Acknowledging (and reporting telemetry) for the victim: the broker refuses both publishes (0x87).
        root = row.topic.rsplit("/", 2)[0]
        forged_ack = attacker.publish(
            f"{root}/{row.destination}/ack", json.dumps({"message_id": str(row.message_id)}).encode()
        )
        forged_tele = attacker.publish(
            f"{root}/{row.destination}/telemetry",
            json.dumps({"premise_id": w.premises[3].pk, "kw": "0", "baseline_kw": "50", "event_id": event.pk}).encode(),
        )
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and attacker.inflight:
            attacker.poll(0.1)
        assert {forged_ack, forged_tele} <= attacker.refused
        time.sleep(0.5)
        applied = apply_messages(collector.drain(timeout=0.5))
        assert applied == {"acks": 0, "telemetry": 0}
        row.refresh_from_db()
        assert row.status == OutboxMessage.Status.SENT and row.acked_at is None
    finally:
        attacker.close()
        listener.stop()


def test_a_wrong_password_or_no_account_is_refused_at_connect(act_world, broker):
    creds = _mqtt_devices(act_world.premises[3])
    broker.reload()
    device_id = next(iter(creds))
    with pytest.raises(WireError, match="refused the connection"):
        _client(broker.port, device_id, "not-the-password").connect()
    with pytest.raises(WireError, match="refused the connection"):
        WireClient("127.0.0.1", broker.port, client_id="anon", version=MQTT_5).connect()


def test_a_revoked_credential_stops_working_after_the_acl_is_rewritten(act_world, broker):
    device = Device.objects.filter(premise=act_world.premises[3], control_channel="mqtt").first()
    username, old = device_credential_issue(device=device)
    broker.reload()
    _client(broker.port, username, old).connect().close()
    _, new = device_credential_issue(device=device)  # re-issued: the old password is revoked
    broker.reload()
    with pytest.raises(WireError):
        _client(broker.port, username, old).connect()
    _client(broker.port, username, new).connect().close()


def test_authenticated_devices_get_their_commands_and_their_acks_are_recorded(act_world, broker):
    w = act_world
    premises = w.premises[3:6]
    creds = {}
    for p in premises:
        creds.update(_mqtt_devices(p))
    broker.reload()
    devices = [SimDevice(ref, 0, 50.0) for ref in creds]
    fleet = SecureDeviceFleet(devices, credentials=creds, port=broker.port, ramp_seconds=0).start()
    collector = AckCollector()
    listener = MqttListener(on_ack=collector.on_ack, on_telemetry=collector.on_telemetry).start()
    try:
        events = [_event(w, p, "10") for p in premises]
        rows = list(OutboxMessage.objects.filter(event__in=events, channel="mqtt"))
        assert len(rows) >= 3
        assert services.outbox_flush()["sent"] == len(rows)
        acked, deadline = 0, time.monotonic() + 10
        while time.monotonic() < deadline and acked < len(rows):
            acked += apply_messages(collector.drain(timeout=0.2))["acks"]
        assert acked == len(rows)
        assert all(fleet.received[r.destination] == [str(r.message_id)] for r in rows)
    finally:
        listener.stop()
        fleet.stop()


@pytest.mark.django_db(transaction=True)
def test_device_simulator_signs_each_device_in_and_its_acks_reach_the_database(act_world, broker):
    """``manage.py device_simulator --credentials``: fresh credentials for the registered MQTT devices, the
    broker's files rewritten (and reloaded), every device signed in as itself; ``mqtt_listen`` records the acks."""
    import os
    import threading

    from django.core.management import call_command
    from django.db import connection

    if not hasattr(broker, "process"):
        pytest.skip("the shared CI broker is reloaded through its own pid file")
    pid_file = broker.dir / "mosquitto.pid"
    pid_file.write_text(str(broker.process.pid))
    w = act_world
    sim = threading.Thread(
        target=lambda: (
            call_command(
                "device_simulator", seconds=8, telemetry_every=1, non_responders=0, partial=0, credentials=True,
                password_file=str(broker.dir / "passwd"), acl_file=str(broker.dir / "acl"),
                reload_pid_file=str(pid_file), stdout=open(os.devnull, "w"),  # noqa: SIM115
            ),
            connection.close(),
        )
    )  # fmt: skip
    sim.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not Device.objects.filter(credentials__revoked_at=None).exists():
        time.sleep(0.2)
    time.sleep(2)  # the devices sign in and subscribe
    event = _event(w, w.premises[3])
    call_command("mqtt_listen", seconds=4, tick=0.5, stdout=open(os.devnull, "w"))  # noqa: SIM115
    sim.join()
    row = OutboxMessage.objects.get(event=event, channel="mqtt")
    assert row.status == OutboxMessage.Status.ACKNOWLEDGED and row.acked_at is not None
