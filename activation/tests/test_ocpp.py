"""OCPP 2.0.1 for EV chargers (ADR 0029): the platform's CSMS and simulated charging stations, both built on the
``ocpp`` library, over a real websocket. Refusals first (an unknown station, a rejected profile), then the
event's limit as SetChargingProfile, its acceptance as the acknowledgement, MeterValues as telemetry, and the
profile cleared after the window."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
import websockets
from django.db import connections
from django.utils import timezone

from accounts.models import Device
from activation import services
from activation.models import OutboxMessage, Telemetry
from activation.ocpp_station import StationFleet, StationState
from activation.protocols.ocpp_csms import Csms

pytestmark = pytest.mark.django_db(transaction=True)


class Loop:
    """An asyncio loop in a thread, running the CSMS; coroutines run on it with ``run``."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.csms = Csms(host="127.0.0.1", port=0, poll_seconds=0.05, response_timeout=2)

        async def ready():
            self.csms.ready = asyncio.Event()
            self.server = asyncio.get_running_loop().create_task(self.csms.serve())
            await self.csms.ready.wait()

        self.run(ready())

    def run(self, coro, timeout=30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @property
    def url(self):
        return f"ws://127.0.0.1:{self.csms.port}"

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


def test_an_unknown_station_is_refused(act_world, csms):
    async def connect():
        ws = await websockets.connect(f"{csms.url}/CP-NOBODY", subprotocols=["ocpp2.0.1"])
        with pytest.raises(websockets.ConnectionClosed) as exc:
            await ws.recv()
        return exc.value.rcvd.code

    assert csms.run(connect()) == 1008


def test_a_rejected_profile_is_a_failed_command_not_an_acknowledgement(act_world, csms):
    event, row = _ev_event(act_world)
    fleet = StationFleet(csms.url, [StationState("CP-0001", 7.4, reject=True)])
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
    fleet = StationFleet(csms.url, [StationState("CP-0001", 7.4)], ramp_seconds=0)
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
