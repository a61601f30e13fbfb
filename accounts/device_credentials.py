"""Per-device MQTT credentials and the broker's authentication and authorisation files (ADR 0029).

A device signs in to Mosquitto with its own username (``dev-<pk>``) and a password issued at registration and
shown once; the platform keeps only the hash Mosquitto's password file uses (``mosquitto_passwd``'s format for
Mosquitto 2: ``$7$<iterations>$<base64 salt>$<base64 PBKDF2-HMAC-SHA512>``, 101 iterations, 12-byte salt). The
ACL lets a device read only its own command topic and write only its own ack and telemetry topics (Mosquitto
``pattern`` rules with ``%u``); the platform's account (``MQTT_USERNAME``) reads and writes everything.
Mosquitto: mosquitto.conf(5) ``password_file``, ``acl_file``; a SIGHUP reloads both.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from flexplatform.errors import ApplicationError, NotPermitted

from .models import Device
from .models_device_credentials import DeviceCredential
from .selectors.devices import device_ref

ITERATIONS = 101
SALT_BYTES = 12


def mosquitto_password_hash(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """The password-file hash ``mosquitto_passwd`` writes (Mosquitto 2.x, type 7)."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


@transaction.atomic
def device_credential_issue(*, device: Device, user=None, now: datetime | None = None) -> tuple[str, str]:
    """Issue the device's MQTT credentials (revoking any earlier ones): ``(username, password)``, the password
    shown this once. Only for a device on the MQTT channel; ``user`` None is a trusted internal caller."""
    from .device_services import premises_device_writable_by

    if user is not None and not premises_device_writable_by(user).filter(pk=device.premise_id).exists():
        raise NotPermitted("You may not issue credentials for this device.")
    if device.control_channel != Device.Channel.MQTT:
        raise ApplicationError("Only an MQTT device signs in to the broker.", fields={"control_channel": ["Not mqtt."]})
    now = now or timezone.now()
    Device.objects.select_for_update().filter(pk=device.pk).first()
    DeviceCredential.objects.filter(device=device, revoked_at__isnull=True).update(revoked_at=now)
    password = secrets.token_urlsafe(24)
    username = device_ref(device.pk)
    DeviceCredential.objects.create(
        device=device, username=username, password_hash=mosquitto_password_hash(password), created_at=now
    )
    return username, password


def device_credentials_issue_bulk(*, devices: list[Device], now: datetime | None = None) -> dict[int, str]:
    """Credentials for many MQTT devices at once (the demo, the benchmark): device pk -> password. A cheaper
    hash per device is not an option (the broker reads this format); 101 PBKDF2 rounds cost ~0.1 ms."""
    now = now or timezone.now()
    out: dict[int, str] = {}
    rows = []
    with transaction.atomic():
        DeviceCredential.objects.filter(device__in=devices, revoked_at__isnull=True).update(revoked_at=now)
        for device in devices:
            password = secrets.token_urlsafe(24)
            out[device.pk] = password
            rows.append(
                DeviceCredential(
                    device=device,
                    username=device_ref(device.pk),
                    password_hash=mosquitto_password_hash(password),
                    created_at=now,
                )
            )
        DeviceCredential.objects.bulk_create(rows, batch_size=2000)
    return out


def mqtt_password_file(*, platform_username: str = "", platform_password: str = "") -> str:
    """The Mosquitto password file: the platform's account (if configured) and every live device credential of
    an active MQTT device."""
    lines = []
    if platform_username:
        lines.append(f"{platform_username}:{mosquitto_password_hash(platform_password)}")
    for username, hashed in (
        DeviceCredential.objects.filter(
            revoked_at__isnull=True, device__active=True, device__control_channel=Device.Channel.MQTT
        )
        .order_by("pk")
        .values_list("username", "password_hash")
    ):
        lines.append(f"{username}:{hashed}")
    return "\n".join(lines) + "\n"


def mqtt_acl_file(*, topic_root: str, platform_username: str = "") -> str:
    """The Mosquitto ACL: the platform reads and writes every topic; a device reads its own commands and writes
    its own ack and telemetry, nothing else (anything not allowed is denied)."""
    lines = ["# Written by manage.py mqtt_acl (ADR 0029). Do not edit: regenerate."]
    if platform_username:
        lines += [f"user {platform_username}", "topic readwrite #", ""]
    lines += [
        f"pattern read {topic_root}/%u/commands",
        f"pattern write {topic_root}/%u/ack",
        f"pattern write {topic_root}/%u/telemetry",
    ]
    return "\n".join(lines) + "\n"
