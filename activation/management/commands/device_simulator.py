"""Run simulated devices over MQTT for the premises in the database (or N synthetic ones).

manage.py device_simulator                   # every registered MQTT device
manage.py device_simulator --devices 500     # the first 500 of them
manage.py device_simulator --seconds 120 --telemetry-every 5 --non-responders 0.1 --partial 0.2
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand

from activation.selectors import registry_device_specs
from activation.simulator import DeviceFleet


class Command(BaseCommand):
    help = "Simulated devices: follow MQTT commands (ramp, partial compliance, non-responders), ack, report telemetry."

    def add_arguments(self, parser):
        parser.add_argument("--devices", type=int, default=0, help="At most this many devices (0 = all).")
        parser.add_argument("--seconds", type=float, default=60.0)
        parser.add_argument("--telemetry-every", type=float, default=5.0)
        parser.add_argument("--ramp-seconds", type=float, default=30.0)
        parser.add_argument("--non-responders", type=float, default=0.1)
        parser.add_argument("--partial", type=float, default=0.2)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, **opts):
        specs = registry_device_specs(draw_share=0.7)
        if opts["devices"]:
            specs = specs[: opts["devices"]]
        fleet = DeviceFleet.from_seed(
            specs,
            seed=opts["seed"],
            non_responders=opts["non_responders"],
            partial=opts["partial"],
            host=settings.MQTT_HOST,
            port=settings.MQTT_PORT,
            ramp_seconds=opts["ramp_seconds"],
        ).start()
        self.stdout.write(f"{len(specs)} simulated devices connected to {settings.MQTT_HOST}:{settings.MQTT_PORT}")
        end = time.monotonic() + opts["seconds"]
        try:
            while time.monotonic() < end:
                time.sleep(opts["telemetry_every"])
                n = fleet.report_telemetry()
                self.stdout.write(
                    f"telemetry from {n} devices; commands received: {sum(map(len, fleet.received.values()))}"
                )
        finally:
            fleet.stop()
