"""Per-device credentials: MQTT devices on the broker, OCPP charging stations on the CSMS (ADR 0029, 0031), and
the broker's authentication and authorisation files.

A device signs in to Mosquitto with its own username (``dev-<pk>``) and a password issued at registration and
shown once; the platform keeps only the hash Mosquitto's password file uses (``mosquitto_passwd``'s format for
Mosquitto 2: ``$7$<iterations>$<base64 salt>$<base64 PBKDF2-HMAC-SHA512>``, 101 iterations, 12-byte salt). The
ACL lets a device read only its own command topic and write only its own ack and telemetry topics (Mosquitto
``pattern`` rules with ``%u``); the platform's account (``MQTT_USERNAME``) reads and writes everything.
Mosquitto: mosquitto.conf(5) ``password_file``, ``acl_file``; a SIGHUP reloads both.

An OCPP charging station gets the same kind of credential: username = its station id (the device's
``channel_address``, the last segment of its websocket URL), a password shown once, kept as the same hash. The
CSMS checks it on the websocket upgrade (OCPP 2.0.1 Security Profile 1/2, HTTP Basic authentication:
``station_authenticate``). The passwords are 24 random bytes (192 bits, 32 characters, inside OCPP 2.0.1's
16-40 character ``BasicAuthPassword``), so the hash's low iteration count costs an attacker nothing he could use:
it only keeps the plain secret out of the database, as for the broker.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
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


def password_hash_matches(password: str, hashed: str) -> bool:
    """``password`` against a ``$7$`` hash (constant-time comparison); a malformed hash never matches."""
    try:
        _, kind, iterations, salt, _digest = hashed.split("$")
        expected = mosquitto_password_hash(password, salt=base64.b64decode(salt), iterations=int(iterations))
    except (ValueError, TypeError):
        return False
    return kind == "7" and hmac.compare_digest(expected.encode(), hashed.encode())


CREDENTIAL_CHANNELS = (Device.Channel.MQTT, Device.Channel.OCPP)


def credential_username(device: Device) -> str:
    """The device's sign-in name: ``dev-<pk>`` on the broker, the station id (``channel_address``) on the CSMS."""
    return device.channel_address if device.control_channel == Device.Channel.OCPP else device_ref(device.pk)


@transaction.atomic
def device_credential_issue(*, device: Device, user=None, now: datetime | None = None) -> tuple[str, str]:
    """Issue the device's credentials (revoking any earlier ones): ``(username, password)``, the password shown
    this once. For a device on the MQTT channel (the broker's account) or an OCPP charging station with a station
    id (its HTTP Basic credentials on the CSMS); ``user`` None is a trusted internal caller."""
    from .device_services import premises_device_writable_by

    if user is not None and not premises_device_writable_by(user).filter(pk=device.premise_id).exists():
        raise NotPermitted("You may not issue credentials for this device.")
    if device.control_channel not in CREDENTIAL_CHANNELS:
        raise ApplicationError(
            "Only an MQTT device or an OCPP charging station signs in.",
            fields={"control_channel": ["Not mqtt or ocpp."]},
        )
    if device.control_channel == Device.Channel.OCPP and not device.channel_address:
        raise ApplicationError(
            "An OCPP charging station needs its station id.", fields={"channel_address": ["The station id."]}
        )
    now = now or timezone.now()
    Device.objects.select_for_update().filter(pk=device.pk).first()
    DeviceCredential.objects.filter(device=device, revoked_at__isnull=True).update(revoked_at=now)
    password = secrets.token_urlsafe(24)
    username = credential_username(device)
    DeviceCredential.objects.create(
        device=device, username=username, password_hash=mosquitto_password_hash(password), created_at=now
    )
    return username, password


def device_credentials_issue_bulk(*, devices: list[Device], now: datetime | None = None) -> dict[int, str]:
    """Credentials for many MQTT devices or OCPP stations at once (the demo, the simulator, the benchmark):
    device pk -> password. A cheaper
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
                    username=credential_username(device),
                    password_hash=mosquitto_password_hash(password),
                    created_at=now,
                )
            )
        DeviceCredential.objects.bulk_create(rows, batch_size=2000)
    return out


def station_authenticate(*, station_id: str, password: str) -> tuple[int, int] | None:
    """The OCPP charging station signing in as ``station_id`` with ``password`` (HTTP Basic, OCPP 2.0.1 Security
    Profile 1/2): ``(device pk, premise pk)`` of the active OCPP device with that station id whose live
    credential matches, else None (unknown station, no credential issued, revoked or wrong password)."""
    if not station_id or not password:
        return None
    rows = (
        DeviceCredential.objects.filter(
            revoked_at__isnull=True,
            device__active=True,
            device__control_channel=Device.Channel.OCPP,
            device__channel_address=station_id,
        )
        .order_by("device_id")
        .values_list("device_id", "device__premise_id", "password_hash")
    )
    for device_pk, premise_pk, hashed in rows:
        if password_hash_matches(password, hashed):
            return device_pk, premise_pk
    return None


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
