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
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

import paho.mqtt.client as mqtt

from .protocols.mqtt import TOPIC_ROOT


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
    """N devices spread over a few MQTT connections (one connection per ``per_connection`` devices)."""

    def __init__(
        self,
        devices: list[SimDevice],
        *,
        host: str = "127.0.0.1",
        port: int = 1883,
        per_connection: int = 2500,
        ramp_seconds: float = 60.0,
    ):
        self.devices = {d.device_id: d for d in devices}
        self.host, self.port = host, port
        self.ramp_seconds = ramp_seconds
        self.received: dict[str, list[str]] = defaultdict(list)  # device -> message ids as delivered
        self.ack_times: dict[str, float] = {}
        self.lock = threading.Lock()
        ids = list(self.devices)
        self.groups = [ids[i : i + per_connection] for i in range(0, len(ids), per_connection)] or [[]]
        self.clients: list[mqtt.Client] = []
        self._outgoing: queue.Queue = queue.Queue()

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
        for n, group in enumerate(self.groups):
            client = mqtt.Client(
                callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                client_id=f"flex-sim-{n}-{uuid.uuid4().hex[:8]}",
                protocol=mqtt.MQTTv311,
            )
            client.max_inflight_messages_set(1000)
            client.max_queued_messages_set(0)
            subscribed = threading.Event()
            topics = [(f"{TOPIC_ROOT}/{d}/commands", 1) for d in group]
            pending = {"n": 0}

            def on_connect(c, u, f, rc, p=None, topics=topics, pending=pending, subscribed=subscribed):
                if not topics:
                    subscribed.set()
                    return
                # Subscribe in batches (one SUBACK each).
                batches = [topics[i : i + 500] for i in range(0, len(topics), 500)]
                pending["n"] = len(batches)
                for b in batches:
                    c.subscribe(b)

            def on_subscribe(c, u, mid, rc, p=None, pending=pending, subscribed=subscribed):
                pending["n"] -= 1
                if pending["n"] <= 0:
                    subscribed.set()

            client.on_connect = on_connect
            client.on_subscribe = on_subscribe
            client.on_message = self._on_message
            client.connect(self.host, self.port, keepalive=30)
            client.loop_start()
            if not subscribed.wait(timeout):
                raise TimeoutError("simulator subscriptions not confirmed")
            self.clients.append(client)
        return self

    def _on_message(self, client, userdata, msg):
        device_id = msg.topic.split("/")[2]
        device = self.devices.get(device_id)
        try:
            cmd = json.loads(msg.payload)
        except ValueError:
            return
        mid = cmd.get("message_id", "")
        with self.lock:
            self.received[device_id].append(mid)
            if device is None or mid in device.applied:
                return  # a QoS 1 redelivery: already applied
            device.applied.add(mid)
            if not device.responds:
                return
            device.command = cmd
            device.commanded_at = time.monotonic()
            device.event_id = cmd.get("event_id")
            self.ack_times[mid] = time.monotonic()
        at = datetime.now(UTC).isoformat()
        client.publish(f"{TOPIC_ROOT}/{device_id}/ack", json.dumps({"message_id": mid, "at": at}), qos=1)

    def kw_now(self, device: SimDevice, now: float | None = None) -> float:
        """First-order ramp from the baseline to baseline - compliance x shed over ramp_seconds."""
        if device.command is None or device.command.get("command") == "RESTORE":
            return device.baseline_kw
        shed = float(device.command.get("shed_kw", 0)) * device.compliance
        elapsed = (now or time.monotonic()) - device.commanded_at
        frac = min(max(elapsed / self.ramp_seconds, 0.0), 1.0) if self.ramp_seconds else 1.0
        return max(device.baseline_kw - shed * frac, 0.0)

    def report_telemetry(self, at: datetime | None = None) -> int:
        """Publish one telemetry message per responding device that has a command."""
        at = at or datetime.now(UTC)
        n = 0
        for i, group in enumerate(self.groups):
            client = self.clients[i]
            for device_id in group:
                d = self.devices[device_id]
                if not d.responds or d.command is None:
                    continue
                data = {
                    "premise_id": d.premise_id,
                    "kw": round(self.kw_now(d), 3),
                    "baseline_kw": d.baseline_kw,
                    "event_id": d.event_id,
                    "at": at.isoformat(),
                }
                client.publish(f"{TOPIC_ROOT}/{device_id}/telemetry", json.dumps(data), qos=1)
                n += 1
        return n

    def stop(self) -> None:
        for c in self.clients:
            c.disconnect()
            c.loop_stop()
        self.clients = []


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
    parser.add_argument("--per-connection", type=int, default=500)
    parser.add_argument("--non-responders", type=float, default=0.0)
    parser.add_argument("--partial", type=float, default=0.0)
    args = parser.parse_args(argv)
    with open(args.spec) as fh:
        specs = [tuple(x) for x in json.load(fh)]
    fleet = DeviceFleet.from_seed(
        specs,
        non_responders=args.non_responders,
        partial=args.partial,
        host=args.host,
        port=args.port,
        per_connection=args.per_connection,
    ).start(timeout=120)
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
