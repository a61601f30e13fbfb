"""MQTT (paho-mqtt, MQTT 3.1.1, QoS 1) to devices.

Topics, per device::

    flex/devices/<device_id>/commands   platform -> device  (command JSON, carries ``message_id``)
    flex/devices/<device_id>/ack        device -> platform  ({"message_id": ..., "at": ...})
    flex/devices/<device_id>/telemetry  device -> platform  ({"kw": ..., "baseline_kw": ..., "event_id": ..., "at": ...})

QoS 1 is at-least-once: a device must drop a command whose ``message_id`` it has already applied.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from django.conf import settings

TOPIC_ROOT = "flex/devices"


class BrokerUnavailable(Exception):
    pass


def command_topic(device_id: str) -> str:
    return f"{TOPIC_ROOT}/{device_id}/commands"


def _client(client_id: str) -> mqtt.Client:
    return mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv311,
        clean_session=True,
    )


@dataclass
class MqttConfig:
    host: str
    port: int
    timeout: float = 5.0

    @classmethod
    def from_settings(cls) -> MqttConfig:
        return cls(host=settings.MQTT_HOST, port=settings.MQTT_PORT, timeout=settings.MQTT_TIMEOUT_SECONDS)


class MqttPublisher:
    """One connection for publishing commands; ``publish`` returns once the broker has acknowledged (PUBACK)."""

    def __init__(self, config: MqttConfig | None = None):
        self.config = config or MqttConfig.from_settings()
        self._client: mqtt.Client | None = None
        # When a dict, the wall-clock time each message was handed to the socket, by its ``message_id``.
        self.publish_times: dict | None = None

    def _connect(self) -> mqtt.Client:
        """Connect, driving the network loop in the caller's thread (no loop thread: publishing 10,000 messages
        without a second thread contending for the GIL is several times faster)."""
        if self._client is not None:
            self._client.loop(timeout=0)
            if self._client.is_connected():
                return self._client
            self.close()
        client = _client(f"flex-vtn-{uuid.uuid4().hex[:12]}")
        # Unlimited in-flight window: paho re-scans its queue on every PUBACK when the window is full (O(n²)).
        client.max_inflight_messages_set(0)
        try:
            client.connect(self.config.host, self.config.port, keepalive=60)
        except OSError as exc:
            raise BrokerUnavailable(f"MQTT broker {self.config.host}:{self.config.port}: {exc}") from exc
        deadline = time.monotonic() + self.config.timeout
        while not client.is_connected():
            if time.monotonic() > deadline or client.loop(timeout=0.05) not in (mqtt.MQTT_ERR_SUCCESS,):
                client.disconnect()
                raise BrokerUnavailable("MQTT broker did not accept the connection in time.")
        self._client = client
        return client

    def publish_many(self, messages: list[tuple[str, dict]]) -> list[bool]:
        """Publish (topic, payload) pairs at QoS 1; True for each the broker acknowledged (PUBACK) in time."""
        client = self._connect()
        infos = []
        times = self.publish_times
        for topic, payload in messages:
            infos.append(client.publish(topic, json.dumps(payload, separators=(",", ":")), qos=1))
            if times is not None:
                times[payload.get("message_id")] = time.time()
            if len(infos) % 200 == 0:
                client.loop(timeout=0)  # read PUBACKs as we go
        deadline = time.monotonic() + self.config.timeout
        waiting = [i for i in infos if not i.is_published()]
        while waiting and time.monotonic() < deadline:
            if client.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS:
                break
            waiting = [i for i in waiting if not i.is_published()]
        return [i.is_published() for i in infos]

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.disconnect()
                self._client.loop(timeout=0.1)
            finally:
                self._client = None


class MqttListener:
    """Consumes acknowledgements and telemetry from every device; calls ``on_ack``/``on_telemetry`` with dicts."""

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
        self.on_ack = on_ack
        self.on_telemetry = on_telemetry
        self.client = _client(f"flex-listener-{uuid.uuid4().hex[:12]}")
        self.ready = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda c, u, mid, rc, p=None: self.ready.set()

    def _on_connect(self, client, userdata, flags, rc, properties=None):
        client.subscribe([(f"{self.prefix}{TOPIC_ROOT}/+/ack", 1), (f"{self.prefix}{TOPIC_ROOT}/+/telemetry", 1)])

    def _on_message(self, client, userdata, msg):
        parts = msg.topic.split("/")
        if len(parts) != 4:
            return
        try:
            data = json.loads(msg.payload)
        except ValueError:
            return
        device_id, kind = parts[2], parts[3]
        if kind == "ack":
            self.on_ack(device_id, data)
        elif kind == "telemetry":
            self.on_telemetry(device_id, data)

    def start(self) -> MqttListener:
        try:
            self.client.connect(self.config.host, self.config.port, keepalive=30)
        except OSError as exc:
            raise BrokerUnavailable(str(exc)) from exc
        self.client.loop_start()
        if not self.ready.wait(self.config.timeout):
            raise BrokerUnavailable("MQTT subscription not confirmed in time.")
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def broker_reachable(host: str | None = None, port: int | None = None) -> bool:
    import socket

    host = host or settings.MQTT_HOST
    port = port or settings.MQTT_PORT
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False
