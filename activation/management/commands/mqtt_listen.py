"""The platform's MQTT side: consume acknowledgements and telemetry, flush the outbox, mark overdue acks and
evaluate cascades — a long-running process next to the Celery workers.

    manage.py mqtt_listen [--seconds 0 (forever)] [--tick 1.0]
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from activation.protocols.mqtt import MqttListener
from activation.services import acks_overdue_mark, cascades_evaluate_due, outbox_flush
from activation.simulator import AckCollector, apply_messages


class Command(BaseCommand):
    help = "Consume device acks/telemetry over MQTT; flush the outbox; mark overdue acks; evaluate cascades."

    def add_arguments(self, parser):
        parser.add_argument("--seconds", type=float, default=0.0)
        parser.add_argument("--tick", type=float, default=1.0)

    def handle(self, *args, **opts):
        collector = AckCollector()
        listener = MqttListener(on_ack=collector.on_ack, on_telemetry=collector.on_telemetry).start()
        end = time.monotonic() + opts["seconds"] if opts["seconds"] else None
        try:
            while end is None or time.monotonic() < end:
                counts = apply_messages(collector.drain(timeout=opts["tick"]))
                flushed = outbox_flush()
                acks_overdue_mark()
                cascades_evaluate_due()
                if counts["acks"] or counts["telemetry"] or flushed["sent"]:
                    self.stdout.write(f"acks {counts['acks']} telemetry {counts['telemetry']} sent {flushed['sent']}")
        finally:
            listener.stop()
