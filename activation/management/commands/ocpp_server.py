"""Run the OCPP 2.0.1 charging-station management endpoint (``activation.protocols.ocpp_csms``).

manage.py ocpp_server                       # OCPP_HOST:OCPP_PORT (default 127.0.0.1:9000)
manage.py ocpp_server --port 9100 --seconds 60

Stations sign in with HTTP Basic authentication (OCPP 2.0.1 Security Profile 1); ``OCPP_SECURITY_PROFILE=2``
serves ``wss://`` with ``OCPP_TLS_CERT_FILE`` / ``OCPP_TLS_KEY_FILE`` (ADR 0031).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from activation.protocols.ocpp_csms import Csms


def tls_context() -> ssl.SSLContext | None:
    """The server's TLS context for security profile 2 (None for profile 1); refused without a certificate."""
    if settings.OCPP_SECURITY_PROFILE != 2:
        return None
    if not (settings.OCPP_TLS_CERT_FILE and settings.OCPP_TLS_KEY_FILE):
        raise CommandError("OCPP security profile 2 needs OCPP_TLS_CERT_FILE and OCPP_TLS_KEY_FILE.")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # OCPP 2.0.1 Part 2, A00: TLS 1.2 or above
    context.load_cert_chain(settings.OCPP_TLS_CERT_FILE, settings.OCPP_TLS_KEY_FILE)
    return context


class Command(BaseCommand):
    help = "OCPP 2.0.1 CSMS: EV chargers connect here; event limits go out as SetChargingProfile."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=None)
        parser.add_argument("--port", type=int, default=None)
        parser.add_argument("--seconds", type=float, default=0, help="Stop after this long (0 = run until killed).")
        parser.add_argument(
            "--poll-seconds", type=float, default=0.1, help="Outbox poll interval when not notified (not PostgreSQL)."
        )
        parser.add_argument(
            "--listen-poll-seconds",
            type=float,
            default=1.0,
            help="PostgreSQL: the fallback poll interval (commands are claimed when their commit notifies the CSMS).",
        )

    def handle(self, *args, **opts):
        logging.getLogger("ocpp").setLevel(logging.WARNING)  # the library logs every message at INFO
        logging.getLogger("websockets").setLevel(logging.WARNING)
        try:
            csms = Csms(
                host=opts["host"] or settings.OCPP_HOST,
                port=opts["port"] or settings.OCPP_PORT,
                poll_seconds=opts["poll_seconds"],
                listen_poll_seconds=opts["listen_poll_seconds"],
                security_profile=settings.OCPP_SECURITY_PROFILE,
                ssl_context=tls_context(),
                gc_freeze=True,  # the long-lived fleet kept out of the GC's full collections (Csms._freeze_fleet)
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        scheme = "wss" if csms.ssl_context else "ws"

        async def run():
            csms.ready = asyncio.Event()
            server = asyncio.create_task(csms.serve())
            await csms.ready.wait()
            self.stdout.write(
                f"OCPP 2.0.1 CSMS on {scheme}://{csms.host}:{csms.port}/<station id> "
                f"(security profile {csms.security_profile})",
                ending="\n",
            )
            self.stdout.flush()
            if opts["seconds"]:
                await asyncio.sleep(opts["seconds"])
                csms.stop()
            await server

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run())
