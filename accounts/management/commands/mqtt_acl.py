"""Write Mosquitto's password file and ACL from the device registry (ADR 0029).

manage.py mqtt_acl --password-file /mosquitto/config/passwd --acl-file /mosquitto/config/acl
manage.py mqtt_acl ... --reload-pid-file /run/mosquitto.pid    # then SIGHUP the broker (it re-reads both)

The platform's own account is ``MQTT_USERNAME`` / ``MQTT_PASSWORD``; each MQTT device signs in with the
credentials issued at its registration (``accounts.device_credentials``)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.device_credentials import mqtt_acl_file, mqtt_password_file


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.chmod(0o600)
    os.replace(tmp, path)  # the broker never reads a half-written file


class Command(BaseCommand):
    help = "Write the MQTT broker's password file and ACL (per-device credentials and topics)."

    def add_arguments(self, parser):
        parser.add_argument("--password-file", required=True)
        parser.add_argument("--acl-file", required=True)
        parser.add_argument("--reload-pid-file", default="", help="Send SIGHUP to the broker whose pid is here.")

    def handle(self, *args, **opts):
        user, password = settings.MQTT_USERNAME, settings.MQTT_PASSWORD
        if user and not password:
            raise CommandError("MQTT_USERNAME is set without MQTT_PASSWORD.")
        passwords = mqtt_password_file(platform_username=user, platform_password=password)
        _write(Path(opts["password_file"]), passwords)
        _write(Path(opts["acl_file"]), mqtt_acl_file(topic_root=settings.MQTT_TOPIC_ROOT, platform_username=user))
        if opts["reload_pid_file"]:
            pid = int(Path(opts["reload_pid_file"]).read_text().strip())
            os.kill(pid, signal.SIGHUP)
        self.stdout.write(f"{passwords.count(chr(10))} accounts written")
