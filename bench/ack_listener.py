"""Helper process for bench_dispatch.py: the platform's ack listener (``MqttListener``, as ``manage.py
mqtt_listen`` runs it, in its own process), recording when each ack arrived. Prints READY when subscribed;
writes [[message_id, device_id, received_unix_time], ...] to OUT and prints DONE (and its CPU seconds) when
EXPECT acks arrived or after SECONDS. ROOT is the topic root the platform publishes under. The broker's port
and the platform's account come from MQTT_PORT, MQTT_USERNAME, MQTT_PASSWORD (an authenticating broker)."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from activation.protocols.mqtt import MqttConfig, MqttListener  # noqa: E402


def main() -> None:
    out, expect, seconds, root = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    from django.conf import settings

    settings.configure(MQTT_TOPIC_ROOT=root)
    acks: dict[str, tuple] = {}
    complete = threading.Event()

    def on_ack(device_id, data):
        mid = data.get("message_id")
        if mid not in acks:  # a QoS 1 redelivery of an ack keeps its first arrival time
            acks[mid] = (mid, device_id, time.time())
            if len(acks) >= expect:
                complete.set()

    listener = MqttListener(
        on_ack=on_ack,
        on_telemetry=lambda d, x: None,
        config=MqttConfig(
            host="127.0.0.1",
            port=int(os.environ.get("MQTT_PORT", "1883")),
            username=os.environ.get("MQTT_USERNAME") or None,
            password=os.environ.get("MQTT_PASSWORD") or None,
        ),
    ).start()
    print("READY", flush=True)
    complete.wait(seconds)  # woken by the last ack (no polling loop beside the listener's thread)
    listener.stop()
    Path(out).write_text(json.dumps(list(acks.values())))
    print(f"DONE {time.process_time():.3f}", flush=True)


if __name__ == "__main__":
    main()
