"""Simulated devices over MQTT: they receive commands, acknowledge them and report telemetry.

Behaviour per device (seeded, reproducible): a share never answers (non-responders), the others acknowledge at
once and ramp their draw from the baseline towards the commanded reduction over ``ramp_seconds`` (first-order),
reaching ``compliance`` (1.0 full, e.g. 0.6 partial) of it. Commands are applied once per ``message_id``
(QoS 1 redeliveries are dropped), and every device logs what it received so tests can count deliveries.
Used by ``manage.py device_simulator``, the MQTT tests and ``bench/bench_dispatch.py``.
"""

from __future__ import annotations

import json
import queue
import random
import select
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii

from .protocols.mqtt import TOPIC_ROOT, topic_root
from .protocols.mqtt_wire import MQTT_5, WireClient, WireError


def ack_payload(message_id) -> bytes:
    """``json.dumps({"message_id": ..., "at": now})``, the same bytes, written directly (one per command)."""
    mid = encode_basestring_ascii(message_id) if isinstance(message_id, str) else json.dumps(message_id)
    return f'{{"message_id": {mid}, "at": "{datetime.now(UTC).isoformat()}"}}'.encode()


@dataclass
class SimDevice:
    device_id: str
    premise_id: int
    baseline_kw: float
    compliance: float = 1.0
    responds: bool = True
    applied: set = field(default_factory=set)
    command: dict | None = None
    commanded_at: float = 0.0
    event_id: int | None = None


class DeviceFleet:
    """N devices behind one MQTT 5 connection (``mqtt_wire``): one wildcard subscription to every device's
    command topic (``flex/devices/+/commands``) and a thread that answers each command on the device's own
    ack topic, so 10,000 devices cost one process and one socket. The broker sees exactly the per-device topics
    real devices use; commands for devices that are not in the fleet are ignored."""

    def __init__(
        self,
        devices: list[SimDevice],
        *,
        host: str = "127.0.0.1",
        port: int = 1883,
        ramp_seconds: float = 60.0,
        root: str | None = None,
    ):
        self.devices = {d.device_id: d for d in devices}
        self.root = root or topic_root()  # the platform's MQTT_TOPIC_ROOT (without Django: flex/devices)
        self.host, self.port = host, port
        self.ramp_seconds = ramp_seconds
        self.received: dict[str, list[str]] = defaultdict(list)  # device -> message ids as delivered
        self.lock = threading.Lock()
        self._outgoing: queue.Queue = queue.Queue()  # (topic, payload) published by the loop thread
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.client: WireClient | None = None

    @staticmethod
    def from_seed(
        specs: list[tuple[str, int, float]], *, seed: int = 7, non_responders: float = 0.1, partial: float = 0.2, **kw
    ) -> DeviceFleet:
        rng = random.Random(seed)  # noqa: S311 - simulation
        devices = []
        for device_id, premise_id, base in specs:
            r = rng.random()
            devices.append(
                SimDevice(
                    device_id,
                    premise_id,
                    base,
                    responds=r >= non_responders,
                    compliance=0.6 if r < non_responders + partial else 1.0,
                )
            )
        return DeviceFleet(devices, **kw)

    def start(self, timeout: float = 10.0) -> DeviceFleet:
        self.client = WireClient(
            self.host,
            self.port,
            client_id=f"flex-sim-{uuid.uuid4().hex[:8]}",
            version=MQTT_5,
            keepalive=30,
            timeout=timeout,
        ).connect()
        self.client.subscribe([f"{self.root}/+/commands"])
        self._thread = threading.Thread(target=self._run, name="device-fleet", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        client = self.client
        while not self._stop.is_set():
            try:
                _, messages = client.poll(0.02)
                for topic, payload in messages:
                    self._on_command(topic, payload)
                while True:
                    try:
                        topic, payload = self._outgoing.get_nowait()
                    except queue.Empty:
                        break
                    client.publish(topic, payload, qos=1)
                client.flush()
            except WireError:
                if self._stop.is_set():
                    return
                time.sleep(0.5)  # broker gone: reconnect and resubscribe (clean session)
                try:
                    client.close()
                    client.connect()
                    client.subscribe([f"{self.root}/+/commands"])
                except WireError:
                    continue

    def _on_command(self, topic: str, payload: bytes) -> None:
        parts = topic.split("/")
        device = self.devices.get(parts[2]) if len(parts) == 4 else None
        if device is None:
            return
        try:
            cmd = json.loads(payload.decode())  # str: no encoding detection per message
        except ValueError:
            return
        if not isinstance(cmd, dict):
            return
        mid = cmd.get("message_id", "")
        with self.lock:
            self.received[device.device_id].append(mid)
            if mid in device.applied:
                return  # a QoS 1 redelivery: already applied
            device.applied.add(mid)
            if not device.responds:
                return
            device.command = cmd
            device.commanded_at = time.monotonic()
            device.event_id = cmd.get("event_id")
        self._answer(device.device_id, f"{self.root}/{device.device_id}/ack", ack_payload(mid))

    def _answer(self, device_id: str, topic: str, payload: bytes) -> None:
        """Queue the device's ack (QoS 1); the loop writes it with the command's PUBACK, in one write."""
        self.client.publish(topic, payload, qos=1)

    def _publish(self, device_id: str, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1)

    def kw_now(self, device: SimDevice, now: float | None = None) -> float:
        """First-order ramp from the baseline to baseline - compliance x shed over ramp_seconds."""
        if device.command is None or device.command.get("command") == "RESTORE":
            return device.baseline_kw
        shed = float(device.command.get("shed_kw", 0)) * device.compliance
        elapsed = (now or time.monotonic()) - device.commanded_at
        frac = min(max(elapsed / self.ramp_seconds, 0.0), 1.0) if self.ramp_seconds else 1.0
        return max(device.baseline_kw - shed * frac, 0.0)

    def report_telemetry(self, at: datetime | None = None) -> int:
        """Publish one telemetry message per responding device that has a command (sent by the fleet's
        thread within a few milliseconds)."""
        at = at or datetime.now(UTC)
        n = 0
        with self.lock:
            for device_id, d in self.devices.items():
                if not d.responds or d.command is None:
                    continue
                data = {
                    "premise_id": d.premise_id,
                    "kw": round(self.kw_now(d), 3),
                    "baseline_kw": d.baseline_kw,
                    "event_id": d.event_id,
                    "at": at.isoformat(),
                }
                self._outgoing.put((f"{self.root}/{device_id}/telemetry", json.dumps(data).encode()))
                n += 1
        return n

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None
        if self.client is not None:
            try:  # what is still queued (e.g. the last telemetry) goes out before DISCONNECT
                while not self._outgoing.empty():
                    self.client.publish(*self._outgoing.get_nowait(), qos=1)
                self.client.flush()
            except (WireError, queue.Empty):
                pass
            self.client.close()
            self.client = None


class SecureDeviceFleet(DeviceFleet):
    """Devices that sign in as themselves (ADR 0029): one MQTT 5 connection per device with its own credentials,
    subscribed to its own command topic only, answering on its own ack/telemetry topics (the broker's ACL
    refuses anything else). One thread drives every connection through epoll, so thousands of devices cost one
    process. ``credentials``: device id -> password (the username is the device id)."""

    def __init__(self, devices: list[SimDevice], *, credentials: dict[str, str], **kw):
        super().__init__(devices, **kw)
        self.credentials = credentials
        self.clients: dict[str, WireClient] = {}
        self._epoll: select.epoll | None = None
        self._fds: dict[int, str] = {}  # socket descriptor -> device id

    def start(self, timeout: float = 10.0) -> SecureDeviceFleet:
        self._epoll = select.epoll()
        for device_id in self.devices:
            client = WireClient(
                self.host,
                self.port,
                client_id=device_id,
                version=MQTT_5,
                keepalive=60,
                timeout=timeout,
                username=device_id,
                password=self.credentials[device_id],
            ).connect()
            client.subscribe([f"{self.root}/{device_id}/commands"])
            self.clients[device_id] = client
            self._watch(device_id, client)
        self._thread = threading.Thread(target=self._run, name="secure-device-fleet", daemon=True)
        self._thread.start()
        return self

    def _watch(self, device_id: str, client: WireClient) -> None:
        fd = client.sock.fileno()
        self._fds[fd] = device_id
        self._epoll.register(fd, select.EPOLLIN)

    def _answer(self, device_id: str, topic: str, payload: bytes) -> None:
        self.clients[device_id].publish(topic, payload, qos=1)  # written by the loop with the command's PUBACK

    def _publish(self, device_id: str, topic: str, payload: bytes) -> None:
        client = self.clients[device_id]
        client.publish(topic, payload, qos=1)
        client.flush()

    def _reconnect(self, device_id: str) -> None:
        """A device whose connection broke signs in again (clean session) and resubscribes; if the broker does
        not take it, it stays out of the loop (no busy loop on a closed socket) and the others carry on."""
        client = self.clients[device_id]
        if client.sock is not None:
            fd = client.sock.fileno()
            if self._fds.get(fd) == device_id:
                del self._fds[fd]
                try:
                    self._epoll.unregister(fd)
                except (OSError, ValueError):
                    pass
        client.close()
        try:
            client.connect()
            client.subscribe([f"{self.root}/{device_id}/commands"])
        except WireError:
            return
        self._watch(device_id, client)

    def _run(self) -> None:
        pinged = time.monotonic()
        epoll, fds, clients = self._epoll, self._fds, self.clients
        while not self._stop.is_set():
            # epoll directly (not ``selectors``): one (descriptor, events) pair per ready device, no key objects.
            for fd, _ in epoll.poll(0.02):
                device_id = fds.get(fd)
                if device_id is None:
                    continue
                client = clients[device_id]
                try:
                    # The command's PUBACK goes out with the device's ack, in one write (``_answer``, flush).
                    _, messages = client.poll(0, readable=True, ack_later=True)
                    for topic, payload in messages:
                        self._on_command(topic, payload)
                    client.flush()
                except WireError:
                    self._reconnect(device_id)  # this device lost its connection; the others carry on
            now = time.monotonic()
            if now - pinged > 5:  # idle devices keep their connection alive (the broker drops silent ones)
                pinged = now
                for device_id, client in list(clients.items()):
                    try:
                        client.ping_if_idle(now)
                    except WireError:
                        self._reconnect(device_id)
            while True:
                try:
                    topic, payload = self._outgoing.get_nowait()
                except queue.Empty:
                    break
                try:
                    self._publish(topic.split("/")[-2], topic, payload)
                except WireError:
                    pass

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None
        while not self._outgoing.empty():
            topic, payload = self._outgoing.get_nowait()
            try:
                self._publish(topic.split("/")[-2], topic, payload)
            except (WireError, KeyError):
                pass
        for client in self.clients.values():
            client.close()
        self.clients.clear()
        if self._epoll is not None:
            self._epoll.close()
            self._fds.clear()


class AckCollector:
    """Collects acks/telemetry from the MQTT listener thread into a queue; the caller's thread writes them
    through the services (database access stays in one thread)."""

    def __init__(self):
        self.queue: queue.Queue = queue.Queue()

    def on_ack(self, device_id: str, data: dict) -> None:
        self.queue.put(("ack", device_id, data, time.time()))

    def on_telemetry(self, device_id: str, data: dict) -> None:
        self.queue.put(("telemetry", device_id, data, time.time()))

    def drain(self, *, timeout: float = 0.0) -> list[tuple]:
        out = []
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                out.append(self.queue.get(timeout=max(remaining, 0.01)) if remaining > 0 else self.queue.get_nowait())
            except queue.Empty:
                return out


def apply_messages(messages: list[tuple]) -> dict:
    """Write drained listener messages through the services (acks in one batch)."""
    from django.utils import timezone

    from .services import device_acks_record, telemetry_record

    now = timezone.now()
    acks = device_acks_record(
        acks=[(d.get("message_id", ""), dev, now) for kind, dev, d, _ in messages if kind == "ack"]
    )
    tele = sum(telemetry_record(device_id=dev, data=d) for kind, dev, d, _ in messages if kind == "telemetry")
    return {"acks": acks, "telemetry": tele}


def main(argv: list[str] | None = None) -> None:
    """``python -m activation.simulator SPEC.json --seconds S``: run a fleet in its own process (no Django).
    SPEC is a JSON list of [device_id, premise_id, baseline_kw]; prints READY once subscribed."""
    import argparse
    import sys

    parser = argparse.ArgumentParser()
    parser.add_argument("spec")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--topic-root", default=TOPIC_ROOT)
    parser.add_argument("--non-responders", type=float, default=0.0)
    parser.add_argument("--partial", type=float, default=0.0)
    parser.add_argument("--credentials", default="", help="JSON {device id: password}: each device signs in.")
    args = parser.parse_args(argv)
    with open(args.spec) as fh:
        specs = [tuple(x) for x in json.load(fh)]
    fleet = DeviceFleet.from_seed(
        specs,
        non_responders=args.non_responders,
        partial=args.partial,
        host=args.host,
        port=args.port,
        root=args.topic_root,
    )
    if args.credentials:
        with open(args.credentials) as fh:
            credentials = json.load(fh)
        fleet = SecureDeviceFleet(
            list(fleet.devices.values()), credentials=credentials, host=args.host, port=args.port, root=args.topic_root
        )
    fleet.start(timeout=30)
    print("READY", flush=True)
    try:
        time.sleep(args.seconds)
    finally:
        fleet.stop()
    print(
        json.dumps(
            {
                "received": sum(map(len, fleet.received.values())),
                "applied": sum(len(d.applied) for d in fleet.devices.values()),
            }
        ),
        flush=True,
    )
    sys.exit(0)


if __name__ == "__main__":
    main()
