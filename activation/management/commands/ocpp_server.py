"""Run the OCPP 2.0.1 charging-station management endpoint (``activation.protocols.ocpp_csms``).

manage.py ocpp_server                       # OCPP_HOST:OCPP_PORT (default 127.0.0.1:9000)
manage.py ocpp_server --port 9100 --seconds 60
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from django.conf import settings
from django.core.management.base import BaseCommand

from activation.protocols.ocpp_csms import Csms


class Command(BaseCommand):
    help = "OCPP 2.0.1 CSMS: EV chargers connect here; event limits go out as SetChargingProfile."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=None)
        parser.add_argument("--port", type=int, default=None)
        parser.add_argument("--seconds", type=float, default=0, help="Stop after this long (0 = run until killed).")
        parser.add_argument("--poll-seconds", type=float, default=0.1)

    def handle(self, *args, **opts):
        logging.getLogger("ocpp").setLevel(logging.WARNING)  # the library logs every message at INFO
        logging.getLogger("websockets").setLevel(logging.WARNING)
        csms = Csms(
            host=opts["host"] or settings.OCPP_HOST,
            port=opts["port"] or settings.OCPP_PORT,
            poll_seconds=opts["poll_seconds"],
        )

        async def run():
            csms.ready = asyncio.Event()
            server = asyncio.create_task(csms.serve())
            await csms.ready.wait()
            self.stdout.write(f"OCPP 2.0.1 CSMS on ws://{csms.host}:{csms.port}/<station id>", ending="\n")
            self.stdout.flush()
            if opts["seconds"]:
                await asyncio.sleep(opts["seconds"])
                csms.stop()
            await server

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run())
