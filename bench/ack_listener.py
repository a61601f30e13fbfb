"""Helper process for bench_dispatch.py: the platform's ack listeners (as ``manage.py mqtt_listen`` runs them, in
their own process), recording when each ack arrived. Prints READY when subscribed; writes
[[message_id, device_id, received_unix_time], ...] to OUT when EXPECT acks arrived or after SECONDS."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from activation.protocols.mqtt import MqttConfig, MqttListener  # noqa: E402


def main() -> None:
    out, expect, seconds, n = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    acks: list = []

    def on_ack(device_id, data):
        acks.append((data.get("message_id"), device_id, time.time()))  # list.append is atomic under the GIL

    config = MqttConfig(host="127.0.0.1", port=1883)
    listeners = [
        MqttListener(on_ack=on_ack, on_telemetry=lambda d, x: None, config=config, share_group="bench").start()
        for _ in range(n)
    ]
    print("READY", flush=True)
    end = time.monotonic() + seconds
    while len(acks) < expect and time.monotonic() < end:
        time.sleep(0.05)
    for listener in listeners:
        listener.stop()
    Path(out).write_text(json.dumps(acks))
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
