"""Run simulated devices for the registered devices: MQTT devices (anonymous, or signed in with their own
credentials) and EV chargers over OCPP 2.0.1 (ADR 0029).

manage.py device_simulator                                   # every registered MQTT device, one connection
manage.py device_simulator --devices 500                     # the first 500 of them
manage.py device_simulator --credentials --password-file P --acl-file A [--reload-pid-file F]
    # each MQTT device signs in as itself: fresh credentials are issued (the old ones revoked) and the broker's
    # password file and ACL rewritten (manage.py mqtt_acl)
manage.py device_simulator --ocpp-url ws://127.0.0.1:9000    # plus every registered OCPP charger
    # each charger signs in to the CSMS with HTTP Basic (OCPP 2.0.1 Security Profile 1, ADR 0031): fresh station
    # credentials are issued for it (the old ones revoked); wss:// (profile 2) with --ocpp-ca-file
manage.py device_simulator --s2-cem-port 9100 [--s2-behaviour comply|refuse|stray]
    # plus a household energy manager (S2 CEM, ADR 0039) on ws://127.0.0.1:9100/s2 for batteries registered with
    # control channel S2 at that address: the platform's battery Resource Manager connects to it per command
manage.py device_simulator --seconds 120 --telemetry-every 5 --non-responders 0.1 --partial 0.2
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from accounts.device_credentials import device_credentials_issue_bulk
from accounts.models import Device
from activation.ocpp_station import StationFleet
from activation.s2_cem import BEHAVIOURS, SimulatedCEM
from activation.selectors import registry_device_specs
from activation.simulator import DeviceFleet, SecureDeviceFleet


class Command(BaseCommand):
    help = "Simulated devices: follow MQTT/OCPP commands (ramp, partial compliance, non-responders), ack, report."

    def add_arguments(self, parser):
        parser.add_argument("--devices", type=int, default=0, help="At most this many MQTT devices (0 = all).")
        parser.add_argument("--seconds", type=float, default=60.0)
        parser.add_argument("--telemetry-every", type=float, default=5.0)
        parser.add_argument("--ramp-seconds", type=float, default=30.0)
        parser.add_argument("--non-responders", type=float, default=0.1)
        parser.add_argument("--partial", type=float, default=0.2)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--credentials", action="store_true", help="Each MQTT device signs in as itself.")
        parser.add_argument("--password-file", default="")
        parser.add_argument("--acl-file", default="")
        parser.add_argument("--reload-pid-file", default="")
        parser.add_argument("--ocpp-url", default="", help="Also run the registered OCPP chargers against this CSMS.")
        parser.add_argument("--ocpp-ca-file", default="", help="wss:// CSMS (security profile 2): its CA.")
        parser.add_argument("--s2-cem-port", type=int, default=0, help="Also serve a simulated S2 CEM on this port.")
        parser.add_argument("--s2-behaviour", default="comply", choices=BEHAVIOURS)

    def handle(self, *args, **opts):
        specs = registry_device_specs(draw_share=0.7)
        if opts["devices"]:
            specs = specs[: opts["devices"]]
        common = {
            "host": settings.MQTT_HOST,
            "port": settings.MQTT_PORT,
            "ramp_seconds": opts["ramp_seconds"],
        }
        seeded = DeviceFleet.from_seed(
            specs, seed=opts["seed"], non_responders=opts["non_responders"], partial=opts["partial"], **common
        )
        if opts["credentials"]:
            if not (opts["password_file"] and opts["acl_file"]):
                raise CommandError("--credentials needs --password-file and --acl-file (the broker must know them).")
            devices = list(Device.objects.filter(pk__in=[int(ref.split("-")[1]) for ref, _, _ in specs]))
            passwords = {f"dev-{pk}": pw for pk, pw in device_credentials_issue_bulk(devices=devices).items()}
            call_command(
                "mqtt_acl",
                password_file=opts["password_file"],
                acl_file=opts["acl_file"],
                reload_pid_file=opts["reload_pid_file"],
                stdout=self.stdout,
            )
            time.sleep(0.5)  # the broker re-reads its files
            fleet = SecureDeviceFleet(list(seeded.devices.values()), credentials=passwords, **common).start()
        else:
            fleet = seeded.start()
        self.stdout.write(f"{len(specs)} simulated MQTT devices connected to {settings.MQTT_HOST}:{settings.MQTT_PORT}")
        stations = loop = None
        if opts["ocpp_url"]:
            chargers = list(Device.objects.filter(control_channel="ocpp", active=True).exclude(channel_address=""))
            passwords = device_credentials_issue_bulk(devices=chargers)  # the stations sign in (ADR 0031)
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, daemon=True).start()
            stations = StationFleet.from_seed(
                opts["ocpp_url"],
                [(d.channel_address, float(d.max_kw) * 0.7, passwords[d.pk]) for d in chargers],
                ssl_context=ssl.create_default_context(cafile=opts["ocpp_ca_file"]) if opts["ocpp_ca_file"] else None,
                seed=opts["seed"],
                non_responders=opts["non_responders"],
                partial=opts["partial"],
                ramp_seconds=opts["ramp_seconds"],
            )
            asyncio.run_coroutine_threadsafe(stations.start(), loop).result(120)
            self.stdout.write(f"{len(chargers)} simulated OCPP 2.0.1 charging stations connected to {opts['ocpp_url']}")
        cem = None
        if opts["s2_cem_port"]:
            cem = SimulatedCEM(behaviour=opts["s2_behaviour"], port=opts["s2_cem_port"]).start()
            self.stdout.write(f"simulated S2 energy manager ({opts['s2_behaviour']}) on {cem.url}")
        end = time.monotonic() + opts["seconds"]
        try:
            while time.monotonic() < end:
                time.sleep(opts["telemetry_every"])
                n = fleet.report_telemetry()
                if stations is not None:
                    n += asyncio.run_coroutine_threadsafe(stations.report(), loop).result(60)
                self.stdout.write(
                    f"telemetry from {n} devices; MQTT commands received: {sum(map(len, fleet.received.values()))}"
                )
        finally:
            fleet.stop()
            if cem is not None:
                cem.stop()
            if stations is not None:
                asyncio.run_coroutine_threadsafe(stations.stop(), loop).result(30)
                loop.call_soon_threadsafe(loop.stop)
