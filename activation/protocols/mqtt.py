"""MQTT (QoS 1) to devices: the outbox publisher and the platform's ack/telemetry listener.

Topics, per device::

    flex/devices/<device_id>/commands   platform -> device  (command JSON, carries ``message_id``)
    flex/devices/<device_id>/ack        device -> platform  ({"message_id": ..., "at": ...})
    flex/devices/<device_id>/telemetry  device -> platform  ({"kw": ..., "baseline_kw": ..., "event_id": ..., "at": ...})

(``flex/devices`` is ``settings.MQTT_TOPIC_ROOT``'s default.)

QoS 1 is at-least-once: a device must drop a command whose ``message_id`` it has already applied. The wire
protocol is ``mqtt_wire`` (bulk QoS 1 without paho's per-message cost); devices may use any MQTT client.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from .mqtt_wire import MAX_PACKET_ID, MQTT_5, MQTT_311, WireClient, WireError

TOPIC_ROOT = "flex/devices"  # the default of settings.MQTT_TOPIC_ROOT


def topic_root() -> str:
    """``settings.MQTT_TOPIC_ROOT`` (the default outside a configured Django process, e.g. the simulator's)."""
    from django.core.exceptions import ImproperlyConfigured

    try:
        return getattr(settings, "MQTT_TOPIC_ROOT", TOPIC_ROOT)
    except ImproperlyConfigured:
        return TOPIC_ROOT


class BrokerUnavailable(Exception):
    pass


def command_topic(device_id: str, root: str | None = None) -> str:
    return f"{root or topic_root()}/{device_id}/commands"


@dataclass
class MqttConfig:
    """Where the broker is and how the platform signs in: ``MQTT_USERNAME``/``MQTT_PASSWORD`` (the platform's
    account in the broker's password file, written by ``manage.py mqtt_acl``), ``MQTT_TLS`` with
    ``MQTT_CA_FILE`` (the broker's CA; empty: the system's)."""

    host: str
    port: int
    timeout: float = 5.0
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str = ""

    @classmethod
    def from_settings(cls) -> MqttConfig:
        return cls(
            host=settings.MQTT_HOST,
            port=settings.MQTT_PORT,
            timeout=settings.MQTT_TIMEOUT_SECONDS,
            username=getattr(settings, "MQTT_USERNAME", "") or None,
            password=getattr(settings, "MQTT_PASSWORD", "") or None,
            tls=getattr(settings, "MQTT_TLS", False),
            ca_file=getattr(settings, "MQTT_CA_FILE", ""),
        )

    def client_kwargs(self) -> dict:
        """``WireClient`` keyword arguments for the sign-in and TLS."""
        context = None
        if self.tls:
            import ssl

            context = ssl.create_default_context(cafile=self.ca_file or None)
        return {"username": self.username, "password": self.password, "tls": context}


class MqttPublisher:
    """One connection (MQTT 3.1.1) for publishing commands at QoS 1. ``publish_many`` writes the whole batch
    without waiting on each PUBACK (the packets go out in large writes as they are encoded, so the first
    devices have their command while the rest is still being encoded), then waits once for every PUBACK."""

    # Bytes encoded before they are written: small enough that the first commands leave early.
    WRITE_CHUNK = 128 * 1024

    def __init__(self, config: MqttConfig | None = None):
        self.config = config or MqttConfig.from_settings()
        self._client: WireClient | None = None

    def _connect(self) -> WireClient:
        if self._client is not None:
            try:
                self._client.poll(0)
                return self._client
            except WireError:
                self.close()
        client = WireClient(
            self.config.host,
            self.config.port,
            client_id=f"flex-vtn-{uuid.uuid4().hex[:12]}",
            version=MQTT_311,
            timeout=self.config.timeout,
            **self.config.client_kwargs(),
        )
        try:
            client.connect()
        except WireError as exc:
            raise BrokerUnavailable(str(exc)) from exc
        self._client = client
        return client

    def publish_many(self, messages: list[tuple[str, dict | str | bytes]]) -> list[bool]:
        """Publish (topic, payload) pairs at QoS 1 (a dict is sent as compact JSON, a str as its UTF-8 bytes);
        True for each the broker acknowledged (PUBACK) in time. A connection lost midway leaves the rest False."""
        client = self._connect()
        ok = [False] * len(messages)
        waiting: dict[int, int] = {}  # packet id -> index

        def read(timeout: float) -> None:
            for pid in client.poll(timeout)[0]:
                i = waiting.pop(pid, None)
                if i is not None:
                    ok[i] = True

        try:
            for i, (topic, payload) in enumerate(messages):
                if isinstance(payload, dict):
                    payload = json.dumps(payload, separators=(",", ":"))
                if isinstance(payload, str):
                    payload = payload.encode()
                if len(client.inflight) >= MAX_PACKET_ID - 1:  # every packet id in use: wait for PUBACKs
                    stalled = time.monotonic() + self.config.timeout
                    while len(client.inflight) >= MAX_PACKET_ID - 1:
                        if time.monotonic() > stalled:
                            raise WireError("the broker stopped acknowledging")
                        read(0.05)
                waiting[client.publish(topic, payload, qos=1)] = i
                if len(client._out) >= self.WRITE_CHUNK:
                    client.flush()
                    read(0)
            client.flush()
            deadline = time.monotonic() + self.config.timeout
            while waiting and time.monotonic() < deadline:
                read(0.05)
        except WireError:
            self.close()
        return ok

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            finally:
                self._client = None


class MqttListener:
    """Consumes acknowledgements and telemetry from every device; calls ``on_ack``/``on_telemetry`` with dicts
    from its own thread. One MQTT 5 connection declaring a Receive Maximum of 65,535, so the broker can hand
    it a whole fleet's acks at once (as MQTT 3.1.1 it would get 20 in flight plus 1,000 queued and drop the
    rest: acks lost, devices wrongly marked as not acknowledging)."""

    def __init__(
        self,
        *,
        on_ack: Callable[[str, dict], None],
        on_telemetry: Callable[[str, dict], None],
        config: MqttConfig | None = None,
        share_group: str | None = None,
    ):
        self.config = config or MqttConfig.from_settings()
        # With a share group, several listeners split the ack/telemetry load (Mosquitto ``$share``).
        self.prefix = f"$share/{share_group}/" if share_group else ""
        self.topic_root = topic_root()
        self.on_ack = on_ack
        self.on_telemetry = on_telemetry
        self.client = WireClient(
            self.config.host,
            self.config.port,
            client_id=f"flex-listener-{uuid.uuid4().hex[:12]}",
            version=MQTT_5,
            keepalive=30,
            timeout=self.config.timeout,
            **self.config.client_kwargs(),
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # After a batch, wait this long before reading again (ADR 0051): acks are recorded in batches anyway, and a
    # fleet's acks arrive within the same second; 2 ms cut the listener's wakeups about tenfold, its CPU by half.
    GATHER_SECONDS = 0.002

    def _dispatch(self, topic: str, payload: bytes) -> None:
        parts = topic.split("/")
        if len(parts) != 4:
            return
        try:
            data = json.loads(payload.decode())  # str: no encoding detection per message
        except ValueError:
            return
        if not isinstance(data, dict):
            return
        device_id, kind = parts[2], parts[3]
        if kind == "ack":
            self.on_ack(device_id, data)
        elif kind == "telemetry":
            self.on_telemetry(device_id, data)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                _, messages = self.client.poll(0.05)
            except WireError:
                if self._stop.is_set():
                    return
                time.sleep(0.5)  # the broker went away: reconnect (clean session) and resubscribe
                try:
                    self._subscribe()
                except WireError:
                    continue
                continue
            for topic, payload in messages:
                self._dispatch(topic, payload)
            if messages and self.GATHER_SECONDS:
                # The PUBACKs of this batch are written; let the next acks gather: one wakeup, one read and one
                # write of PUBACKs for many messages instead of a few (a fleet answers within the same second).
                self._stop.wait(self.GATHER_SECONDS)

    def _subscribe(self) -> None:
        self.client.close()
        self.client.connect()
        root = self.topic_root
        self.client.subscribe([f"{self.prefix}{root}/+/ack", f"{self.prefix}{root}/+/telemetry"])

    def start(self) -> MqttListener:
        try:
            self._subscribe()
        except WireError as exc:
            raise BrokerUnavailable(str(exc)) from exc
        self._thread = threading.Thread(target=self._run, name="mqtt-listener", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        self.client.close()


def broker_reachable(host: str | None = None, port: int | None = None) -> bool:
    import socket

    host = host or settings.MQTT_HOST
    port = port or settings.MQTT_PORT
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False
