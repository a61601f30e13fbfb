"""OCPP 2.0.1 for EV chargers (ADR 0029, 0031): the platform's CSMS and simulated charging stations, both built on
the ``ocpp`` library, over a real websocket. Refusals first (a station without, with wrong, revoked or another
station's credentials: HTTP 401 before any OCPP message; a rejected profile), then the signed-in station: its
MeterValues are its own device's telemetry only, the event's limit as SetChargingProfile, its acceptance as the
acknowledgement, the profile cleared after the window; security profile 2 over TLS."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import ssl
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
import websockets
from django.db import connections
from django.utils import timezone
from websockets.exceptions import InvalidMessage, InvalidStatus

from accounts.device_credentials import device_credential_issue
from accounts.models import Device
from activation import services
from activation.models import OutboxMessage, Telemetry
from activation.ocpp_station import StationFleet, StationState
from activation.protocols.ocpp_csms import Csms

pytestmark = pytest.mark.django_db(transaction=True)


class Loop:
    """An asyncio loop in a thread, running the CSMS; coroutines run on it with ``run``."""

    def __init__(self, **options):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.csms = Csms(host="127.0.0.1", port=0, poll_seconds=0.05, response_timeout=2, **options)

        async def ready():
            self.csms.ready = asyncio.Event()
            self.server = asyncio.get_running_loop().create_task(self.csms.serve())
            await self.csms.ready.wait()

        self.run(ready())

    def run(self, coro, timeout=30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @property
    def url(self):
        return f"{'wss' if self.csms.ssl_context else 'ws'}://127.0.0.1:{self.csms.port}"

    def close(self):
        self.loop.call_soon_threadsafe(self.csms.stop)

        async def finished():
            await self.server

        self.run(finished(), timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        connections.close_all()


@pytest.fixture
def csms():
    loop = Loop()
    yield loop
    loop.close()


def _ev_event(w, now=None):
    """Household 01: a 3 kW event; the pool pump takes 1.5 kW, the EV charger (OCPP, CP-0001) the rest."""
    premise = w.premises[0]
    w.program.notice_minutes = 0
    w.program.save()
    now = now or timezone.now()
    event = services.event_create(
        program=w.program, premise=premise, target_kw=Decimal("3"), start=now, end=now + timedelta(hours=1), now=now
    )
    row = OutboxMessage.objects.get(event=event, channel="ocpp")
    return event, row


def _wait(condition, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _password(station_id: str) -> str:
    """Issue the station's credentials (as its registration does) and return the password."""
    username, password = device_credential_issue(device=Device.objects.get(channel_address=station_id))
    assert username == station_id
    return password


def _basic(username: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def _refused(csms, path: str, headers: dict | None = None) -> int:
    """The HTTP status of a refused websocket upgrade to ``path`` (fails if the upgrade is accepted)."""

    async def connect():
        with pytest.raises(InvalidStatus) as exc:
            await websockets.connect(f"{csms.url}/{path}", subprotocols=["ocpp2.0.1"], additional_headers=headers)
        return exc.value.response.status_code, exc.value.response.headers.get("WWW-Authenticate", "")

    status, challenge = csms.run(connect())
    assert challenge.startswith("Basic")
    return status


def test_a_station_without_credentials_or_with_wrong_ones_is_refused_before_any_ocpp_message(act_world, csms):
    password = _password("CP-0001")
    assert _refused(csms, "CP-0001") == 401  # no Authorization header
    assert _refused(csms, "CP-0001", {"Authorization": "Bearer x"}) == 401  # not Basic
    assert _refused(csms, "CP-0001", _basic("CP-0001", password + "x")) == 401  # wrong password
    assert _refused(csms, "CP-NOBODY", _basic("CP-NOBODY", password)) == 401  # unknown station
    assert _refused(csms, "CP-0003", _basic("CP-0003", "")) == 401  # a station with no credential issued
    # The right credentials sent to another station's URL, or another station's id with one's own password.
    assert _refused(csms, "CP-0003", _basic("CP-0001", password)) == 401
    assert _refused(csms, "CP-0001", _basic("CP-0003", password)) == 401
    # Re-issued: the old password is revoked.
    new = _password("CP-0001")
    assert _refused(csms, "CP-0001", _basic("CP-0001", password)) == 401
    # An inactive device's station is refused, whatever its password.
    Device.objects.filter(channel_address="CP-0001").update(active=False)
    assert _refused(csms, "CP-0001", _basic("CP-0001", new)) == 401
    assert csms.csms.sessions == {}  # no session ever started


def test_a_signed_in_station_reports_only_for_its_own_device(act_world, csms):
    one, three = Device.objects.get(channel_address="CP-0001"), Device.objects.get(channel_address="CP-0003")
    assert one.premise_id != three.premise_id
    password = _password("CP-0001")
    _password("CP-0003")
    # Station CP-0001's credentials never open CP-0003's session, so its MeterValues cannot land on CP-0003.
    assert _refused(csms, "CP-0003", _basic("CP-0001", password)) == 401
    fleet = StationFleet(csms.url, [StationState("CP-0001", 7.4, password=password)])
    csms.run(fleet.start())
    try:
        assert set(csms.csms.sessions) == {"CP-0001"}
        csms.run(fleet.report())
        assert _wait(lambda: Telemetry.objects.filter(device_id=f"dev-{one.pk}").exists())
        assert not Telemetry.objects.filter(device_id=f"dev-{three.pk}").exists()
        assert Telemetry.objects.get(device_id=f"dev-{one.pk}").premise_id == one.premise_id
    finally:
        csms.run(fleet.stop())


def test_a_rejected_profile_is_a_failed_command_not_an_acknowledgement(act_world, csms):
    event, row = _ev_event(act_world)
    fleet = StationFleet(csms.url, [StationState("CP-0001", 7.4, password=_password("CP-0001"), reject=True)])
    csms.run(fleet.start())
    try:
        assert _wait(lambda: OutboxMessage.objects.get(pk=row.pk).status == OutboxMessage.Status.FAILED)
        assert fleet.states["CP-0001"].received  # the station got it and said no
    finally:
        csms.run(fleet.stop())


def test_the_event_limit_goes_out_as_a_charging_profile_accepted_is_the_ack_and_it_is_cleared(act_world, csms):
    w = act_world
    event, row = _ev_event(w)
    charger = Device.objects.get(premise=w.premises[0], kind="ev_charger")
    assert row.topic == charger.channel_address == "CP-0001" and row.destination == f"dev-{charger.pk}"
    assert row.payload["command"] == "CHARGE_LIMIT_KW" and Decimal(row.payload["value"]) == Decimal("5.900")
    # The window ends in a moment (as if the event were ending), so the clearing is seen too.
    end = timezone.now() + timedelta(seconds=2)
    OutboxMessage.objects.filter(pk=row.pk).update(payload={**row.payload, "end": end.isoformat()})
    fleet = StationFleet(csms.url, [StationState("CP-0001", 7.4, password=_password("CP-0001"))], ramp_seconds=0)
    csms.run(fleet.start())
    try:
        assert _wait(lambda: OutboxMessage.objects.get(pk=row.pk).status == OutboxMessage.Status.ACKNOWLEDGED)
        state = fleet.states["CP-0001"]
        (profile,) = state.received
        assert profile["charging_profile_purpose"] == "ChargingStationMaxProfile" and profile["id"] == event.pk
        assert profile["charging_schedule"][0]["charging_schedule_period"][0]["limit"] == 5900.0
        assert profile["valid_to"] == end.isoformat()
        # MeterValues: the charger's draw under the limit is the device's telemetry.
        csms.run(fleet.report())
        assert _wait(lambda: Telemetry.objects.filter(device_id=row.destination).exists())
        assert Telemetry.objects.get(device_id=row.destination).kw == Decimal("5.900")
        assert _wait(lambda: state.cleared == [event.pk], timeout=6)
        assert state.limit_kw is None
    finally:
        csms.run(fleet.stop())


def _self_signed(tmp_path):
    """A server certificate for 127.0.0.1 (its own CA) and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "flex-csms-test")])
    now = timezone.now()
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = tmp_path / "csms.pem", tmp_path / "csms.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def test_security_profile_2_is_basic_authentication_over_tls(act_world, tmp_path):
    with pytest.raises(ValueError, match="TLS"):
        Csms(host="127.0.0.1", port=0, security_profile=2)  # profile 2 without a certificate
    with pytest.raises(ValueError, match="not supported"):
        Csms(host="127.0.0.1", port=0, security_profile=0)  # no unauthenticated profile
    cert_file, key_file = _self_signed(tmp_path)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert_file, key_file)
    client_tls = ssl.create_default_context(cafile=str(cert_file))
    loop = Loop(security_profile=2, ssl_context=server_tls)
    try:
        assert loop.url.startswith("wss://")
        password = _password("CP-0001")

        async def plain():  # the plain-websocket profile 1 does not talk to a profile 2 CSMS
            with pytest.raises((InvalidMessage, OSError, EOFError)):
                await websockets.connect(
                    f"ws://127.0.0.1:{loop.csms.port}/CP-0001",
                    subprotocols=["ocpp2.0.1"],
                    additional_headers=_basic("CP-0001", password),
                    open_timeout=5,
                )

        loop.run(plain())

        async def wrong():  # TLS is no substitute for the password
            with pytest.raises(InvalidStatus) as exc:
                await websockets.connect(
                    f"{loop.url}/CP-0001", subprotocols=["ocpp2.0.1"], additional_headers=_basic("CP-0001", "nope"),
                    ssl=client_tls,
                )  # fmt: skip
            return exc.value.response.status_code

        assert loop.run(wrong()) == 401
        fleet = StationFleet(loop.url, [StationState("CP-0001", 7.4, password=password)], ssl_context=client_tls)
        loop.run(fleet.start())
        try:
            assert set(loop.csms.sessions) == {"CP-0001"}
        finally:
            loop.run(fleet.stop())
    finally:
        loop.close()


def test_the_device_simulator_signs_every_station_in_with_fresh_credentials(act_world, csms):
    """``manage.py device_simulator --ocpp-url``: station credentials issued for the registered chargers (the
    old ones revoked), each station signed in, its MeterValues its own device's telemetry."""
    import io

    from django.core.management import call_command

    from accounts.models import DeviceCredential

    old = _password("CP-0001")
    out = io.StringIO()
    call_command(
        "device_simulator", devices=1, seconds=1.5, telemetry_every=0.5, non_responders=0, partial=0,
        ocpp_url=csms.url, stdout=out,
    )  # fmt: skip
    chargers = list(Device.objects.filter(control_channel="ocpp", active=True))
    assert f"{len(chargers)} simulated OCPP 2.0.1 charging stations connected" in out.getvalue()
    live = DeviceCredential.objects.filter(revoked_at__isnull=True, device__in=chargers)
    assert sorted(live.values_list("username", flat=True)) == sorted(d.channel_address for d in chargers)
    assert _refused(csms, "CP-0001", _basic("CP-0001", old)) == 401  # re-issued: the old password is revoked
    assert all(Telemetry.objects.filter(device_id=f"dev-{d.pk}").exists() for d in chargers)
