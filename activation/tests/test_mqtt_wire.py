"""The wire client's reading and writing without a broker (ADR 0051): packets split anywhere across reads, long
remaining lengths, MQTT 5 properties, refused PUBACKs, and the PUBACKs it writes back; the simulator's ack body."""

from __future__ import annotations

import json
import socket
import struct
import time
import uuid

import pytest

from activation.protocols.mqtt_wire import MQTT_5, MQTT_311, READ_SIZE, WireClient, _varint
from activation.simulator import DeviceFleet, SimDevice, ack_payload


def _publish(topic: str, payload: bytes, *, pid: int = 0, v5: bool = False, props: bytes = b"") -> bytes:
    t = topic.encode()
    body = struct.pack("!H", len(t)) + t + (struct.pack("!H", pid) if pid else b"")
    if v5:
        body += _varint(len(props)) + props
    body += payload
    return bytes([0x30 | (0x02 if pid else 0)]) + _varint(len(body)) + body


def _connected(version: int) -> tuple[WireClient, socket.socket]:
    """A client whose socket is one end of a socket pair; the test plays the broker on the other end."""
    client = WireClient("127.0.0.1", 1, client_id="t", version=version)
    ours, broker = socket.socketpair()
    ours.setblocking(False)
    broker.settimeout(2)
    client.sock = ours
    return client, broker


def _poll_until(client: WireClient, want: int, *, ack_later: bool = False):
    acked, messages = [], []
    deadline = time.monotonic() + 2
    while len(acked) + len(messages) < want and time.monotonic() < deadline:
        a, m = client.poll(0.05, ack_later=ack_later)
        acked += a
        messages += m
    return acked, messages


@pytest.mark.parametrize("version", [MQTT_311, MQTT_5])
def test_packets_split_anywhere_across_reads_are_parsed_once_each_and_acknowledged(version):
    v5 = version == MQTT_5
    client, broker = _connected(version)
    client.inflight.update({7, 8})
    long_payload = json.dumps({"message_id": str(uuid.uuid4()), "pad": "x" * 20000}).encode()  # 3-byte length
    stream = (
        b"\x40\x02\x00\x07"  # PUBACK of our packet 7
        + _publish("flex/devices/d1/ack", b'{"message_id": "a"}', pid=300, v5=v5, props=b"\x01\x01" if v5 else b"")
        + _publish("flex/devices/d2/telemetry", long_payload, pid=301, v5=v5)
        + _publish("flex/devices/d3/ack", b"qos0", v5=v5)
        + b"\x40\x02\x00\x09"  # a PUBACK for a packet id not in flight: ignored
        + b"\x40\x02\x00\x08"
    )
    for cut in (1, 3, 5, 40, 9000):  # the broker's bytes arrive in pieces, cut inside headers and bodies
        client.inflight.update({7, 8})
        acked, messages = [], []
        for i in range(0, len(stream), cut):
            broker.sendall(stream[i : i + cut])
            a, m = client.poll(0.01)
            acked += a
            messages += m
        a, m = _poll_until(client, 5 - len(acked) - len(messages))
        acked, messages = acked + a, messages + m
        assert acked == [7, 8]
        assert messages == [
            ("flex/devices/d1/ack", b'{"message_id": "a"}'),
            ("flex/devices/d2/telemetry", long_payload),
            ("flex/devices/d3/ack", b"qos0"),
        ]
        assert client.inflight == set()
        written = b""
        broker.settimeout(0.2)
        try:
            while len(written) < 8:
                written += broker.recv(100)
        except TimeoutError:
            pass
        assert written == b"\x40\x02\x01\x2c" + b"\x40\x02\x01\x2d"  # one PUBACK per QoS 1 message, none for QoS 0
    client.sock.close()
    broker.close()


def test_a_refused_publish_is_reported_and_ack_later_waits_for_the_callers_write():
    client, broker = _connected(MQTT_5)
    client.inflight.update({5, 6})
    broker.sendall(b"\x40\x03\x00\x05\x87" + b"\x40\x02\x00\x06" + _publish("a/b/c/commands", b"{}", pid=12, v5=True))
    acked, messages = _poll_until(client, 3, ack_later=True)
    assert sorted(acked) == [5, 6] and client.refused == {5}
    assert messages == [("a/b/c/commands", b"{}")]
    assert bytes(client._out) == b"\x40\x02\x00\x0c"  # queued, not written
    pid = client.publish("a/b/c/ack", b'{"x": 1}', qos=1)
    client.flush()  # the PUBACK and the answer in one write
    broker.settimeout(1)
    data = broker.recv(1000)
    assert data == b"\x40\x02\x00\x0c" + _publish("a/b/c/ack", b'{"x": 1}', pid=pid, v5=True)
    client.sock.close()
    broker.close()


def test_a_burst_larger_than_one_read_is_taken_whole():
    client, broker = _connected(MQTT_311)
    n = READ_SIZE // 4 * 3  # 3 x READ_SIZE bytes of PUBACKs
    client.inflight.update(range(1, n % 65535 + 1))
    broker.setblocking(True)
    payload = b"".join(b"\x40\x02" + struct.pack("!H", i) for i in range(1, n % 65535 + 1))
    broker.sendall(payload)
    time.sleep(0.1)
    acked, _ = client.poll(0.5)
    acked += _poll_until(client, len(payload) // 4 - len(acked))[0]
    assert len(acked) == len(payload) // 4 and not client.inflight
    client.sock.close()
    broker.close()


def test_publish_encodes_every_remaining_length_form():
    for size, version in ((10, MQTT_311), (200, MQTT_5), (20000, MQTT_311), (3_000_000, MQTT_5)):
        client = WireClient("127.0.0.1", 1, client_id="t", version=version)
        pid = client.publish("t/x", b"p" * size, qos=1)
        assert bytes(client._out) == _publish("t/x", b"p" * size, pid=pid, v5=version == MQTT_5)
        client._out.clear()
        assert client.publish("t/x", b"q", qos=0) == 0
        assert bytes(client._out) == _publish("t/x", b"q", v5=version == MQTT_5)


def test_packet_ids_skip_those_in_flight_and_wrap():
    client = WireClient("127.0.0.1", 1, client_id="t")
    client._next_id = 65534
    client.inflight.update({65535, 1})
    assert client._packet_id() == 2


@pytest.mark.parametrize("mid", ["b0d7a9a2-6f0e-4c55-9d4f-1c2b3a4d5e6f", 'quote " and \\ and é', 17, None])
def test_the_simulators_ack_is_the_json_it_always_sent(mid):
    body = ack_payload(mid)
    data = json.loads(body)
    assert data["message_id"] == mid
    assert body == json.dumps({"message_id": mid, "at": data["at"]}).encode()


def test_the_simulator_answers_a_command_once_and_ignores_json_that_is_not_an_object():
    fleet = DeviceFleet([SimDevice("d1", 1, 3.0)], root="flex/devices")
    fleet.client = WireClient("127.0.0.1", 1, client_id="sim", version=MQTT_5)  # not connected: writes are queued
    fleet._on_command("flex/devices/d1/commands", b"[1, 2]")
    fleet._on_command("flex/devices/d1/commands", b'{"message_id": "m1", "shed_kw": "2"}')
    fleet._on_command("flex/devices/d1/commands", b'{"message_id": "m1", "shed_kw": "2"}')  # a redelivery
    assert fleet.received["d1"] == ["m1", "m1"] and fleet.devices["d1"].applied == {"m1"}
    assert len(fleet.client.inflight) == 1 and b"flex/devices/d1/ack" in fleet.client._out  # one ack, at QoS 1
