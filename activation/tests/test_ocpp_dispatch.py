"""The CSMS's dispatch path at scale (ADR 0015, 0029): which commands a poll claims, the SetChargingProfile
request against the OCPP 2.0.1 schema, a burst sent to every connected station at once, and an answer that is
not ``Accepted`` never acknowledging."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from ocpp.charge_point import remove_nones, serialize_as_dict, snake_to_camel_case
from ocpp.exceptions import OCPPError
from ocpp.messages import Call, _validate_payload
from ocpp.routing import on
from ocpp.v201 import enums

from accounts.models import Device
from activation.models import OutboxMessage
from activation.ocpp_station import SimStation, StationFleet, StationState
from activation.protocols.ocpp_csms import set_charging_profile_payload, set_charging_profile_request
from activation.services.ocpp_commands import ocpp_command_results, ocpp_commands_due
from activation.services.outbox import outbox_put

from .test_ocpp import _ev_event, _password, _wait, csms  # noqa: F401 - the CSMS fixture

pytestmark = pytest.mark.django_db(transaction=True)

PAYLOAD = {"event_id": 7, "value": "5.9", "start": "2031-06-10T12:00:00+00:00", "end": "2031-06-10T13:00:00+00:00"}


def _as_call(request) -> Call:
    body = remove_nones(snake_to_camel_case(serialize_as_dict(request)))
    return Call(unique_id="m-1", action="SetChargingProfile", payload=body)


def test_a_malformed_set_charging_profile_is_refused_by_the_schema():
    message = _as_call(set_charging_profile_request(PAYLOAD))
    del message.payload["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"]
    with pytest.raises(OCPPError, match="limit"):
        _validate_payload(message, "2.0.1")


def test_the_set_charging_profile_request_is_valid_ocpp_201():
    """The CSMS sends it without validating each message again: the shape is checked here, once."""
    message = _as_call(set_charging_profile_request(PAYLOAD))
    _validate_payload(message, "2.0.1")
    profile = message.payload["chargingProfile"]
    assert profile["chargingProfilePurpose"] == "ChargingStationMaxProfile" and profile["id"] == 7
    assert profile["chargingSchedule"][0]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 5900.0}]
    assert profile["validTo"] == PAYLOAD["end"]


@pytest.mark.parametrize("value", ["5.9", "1.4", "0.001", "7.4"])
def test_the_payload_the_csms_sends_is_the_librarys_serialization_of_the_typed_request(value):
    """The CSMS builds the camelCase payload directly (no per-message serialization): it must be exactly what the
    library makes of the typed request, which the schema accepts."""
    payload = {**PAYLOAD, "value": value}
    expected = _as_call(set_charging_profile_request(payload)).payload
    sent = set_charging_profile_payload(payload)
    assert sent == expected
    assert json.dumps(sent, sort_keys=True) == json.dumps(expected, sort_keys=True)
    _validate_payload(Call(unique_id="m-2", action="SetChargingProfile", payload=sent), "2.0.1")


def _chargers(w, event, n: int) -> list[OutboxMessage]:
    """``n`` more EV chargers on the event's premise, each with its OCPP command in the outbox."""
    premise = w.premises[0]
    rows = []
    for i in range(n):
        device = Device.objects.create(
            premise=premise, name=f"Charger {i}", kind="ev_charger", control_channel="ocpp",
            channel_address=f"CP-M{i:03d}", rated_kw=Decimal("7.4"), min_kw=Decimal("1.4"), max_kw=Decimal("7.4"),
        )  # fmt: skip
        payload = {**PAYLOAD, "event_id": event.pk, "start": event.start.isoformat(), "end": event.end.isoformat()}
        rows.append(
            outbox_put(
                event=event, channel="ocpp", destination=f"dev-{device.pk}", topic=device.channel_address,
                payload=payload, now=event.created_at, ack_by=event.created_at + timedelta(minutes=5),
            )
        )  # fmt: skip
    return rows


def test_a_poll_claims_only_the_connected_stations_commands_and_each_once(act_world):
    event, first = _ev_event(act_world)
    rows = _chargers(act_world, event, 3)
    assert ocpp_commands_due(station_ids=["CP-NOBODY"]) == []
    due = ocpp_commands_due(station_ids=["CP-M000", "CP-M002", "CP-NOBODY"])
    assert sorted(c["station"] for c in due) == ["CP-M000", "CP-M002"]
    assert {c["message_id"] for c in due} == {str(rows[0].message_id), str(rows[2].message_id)}
    assert ocpp_commands_due(station_ids=["CP-M000", "CP-M002"]) == []  # claimed: never sent twice
    statuses = dict(OutboxMessage.objects.filter(event=event, channel="ocpp").values_list("topic", "status"))
    assert statuses == {"CP-0001": "pending", "CP-M000": "sent", "CP-M001": "pending", "CP-M002": "sent"}


def test_an_answer_that_is_not_accepted_never_acknowledges(act_world, csms, monkeypatch):  # noqa: F811
    """A station whose handler fails answers with a CALLERROR: the command failed, it is not acknowledged."""

    @on(enums.Action.set_charging_profile)
    async def broken(self, evse_id, charging_profile, **kwargs):
        raise RuntimeError("firmware fault")

    monkeypatch.setattr(SimStation, "on_set_charging_profile", broken)
    event, row = _ev_event(act_world)
    fleet = StationFleet(csms.url, [StationState("CP-0001", 7.4, password=_password("CP-0001"))])
    csms.run(fleet.start())
    try:
        assert _wait(lambda: OutboxMessage.objects.get(pk=row.pk).status == OutboxMessage.Status.FAILED)
        assert OutboxMessage.objects.get(pk=row.pk).acked_at is None
    finally:
        csms.run(fleet.stop())


def test_a_burst_reaches_every_connected_station_at_once_each_acknowledged_once(act_world, csms):  # noqa: F811
    event, first = _ev_event(act_world)
    rows = [first, *_chargers(act_world, event, 40)]
    fleet = StationFleet(csms.url, [StationState(r.topic, 7.4, password=_password(r.topic)) for r in rows])
    csms.run(fleet.start())
    try:
        ours = OutboxMessage.objects.filter(event=event, channel="ocpp")
        assert _wait(lambda: ours.filter(status=OutboxMessage.Status.ACKNOWLEDGED).count() == len(rows))
        assert all(len(s.received) == 1 for s in fleet.states.values())
        assert {s.received[0]["id"] for s in fleet.states.values()} == {event.pk}
    finally:
        csms.run(fleet.stop())


def test_each_accepted_command_is_acknowledged_at_its_answer_time_once_and_only_for_its_station(act_world):
    """``acked_at`` is when the station's answer reached the CSMS, not when the batch was written; an answer from
    another station and a second answer change nothing; a refusal fails the command."""
    event, first = _ev_event(act_world)
    rows = [first, *_chargers(act_world, event, 3)]
    ocpp_commands_due(station_ids=[r.topic for r in rows])
    t0 = event.created_at + timedelta(seconds=1)
    answers = [
        (str(rows[0].message_id), rows[0].topic, True, t0),
        (str(rows[1].message_id), rows[1].topic, True, t0 + timedelta(milliseconds=250)),
        (str(rows[2].message_id), "CP-SOMEONE-ELSE", True, t0),
        (str(rows[3].message_id), rows[3].topic, False, t0),
    ]
    assert ocpp_command_results(results=answers) == 3
    got = {r.pk: (r.status, r.acked_at) for r in OutboxMessage.objects.filter(pk__in=[r.pk for r in rows])}
    assert got[rows[0].pk] == ("acknowledged", t0)
    assert got[rows[1].pk] == ("acknowledged", t0 + timedelta(milliseconds=250))
    assert got[rows[2].pk] == ("sent", None)
    assert got[rows[3].pk] == ("failed", None)
    later = [(str(rows[0].message_id), rows[0].topic, True, t0 + timedelta(seconds=5))]
    assert ocpp_command_results(results=later) == 0  # counted once: the first answer's time stays
    assert OutboxMessage.objects.get(pk=rows[0].pk).acked_at == t0


class _Wire:
    """A connection stand-in: what the station sends."""

    def __init__(self):
        self.sent: list = []

    async def send(self, message):
        self.sent.append(json.loads(message))


@pytest.mark.parametrize("validate", [False, True])
def test_the_simulated_station_checks_a_request_against_the_schema_only_when_asked(validate):
    import asyncio

    good = _as_call(set_charging_profile_request(PAYLOAD))
    bad = _as_call(set_charging_profile_request(PAYLOAD))
    bad.unique_id = "m-2"
    del bad.payload["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"][0]["startPeriod"]
    wire = _Wire()
    station = SimStation(StationState("CP-1", 7.4), wire, 0.0, validate=validate)
    for message in (good, bad):
        asyncio.run(station.route_message(message.to_json()))
    assert wire.sent[0] == [3, "m-1", {"status": "Accepted"}]
    if validate:
        assert wire.sent[1][0] == 4 and wire.sent[1][1] == "m-2"  # a CALLERROR: the request is not valid OCPP
        assert len(station.state.received) == 1
    else:
        assert wire.sent[1] == [3, "m-2", {"status": "Accepted"}]


@pytest.mark.postgres
def test_a_committed_dispatch_wakes_the_csms_at_once_without_waiting_for_its_poll(act_world):
    """PostgreSQL: the dispatch's ``NOTIFY flex_ocpp_outbox`` (delivered at its commit) wakes the CSMS, which claims
    and sends the command at once; its poll (here every 30 s) is only the fallback."""
    from .test_ocpp import Loop

    loop = Loop(listen_poll_seconds=30)
    try:
        assert loop.csms._listening
        fleet = StationFleet(loop.url, [StationState("CP-0001", 7.4, password=_password("CP-0001"))])
        loop.run(fleet.start())
        try:
            assert _wait(lambda: "CP-0001" in loop.csms.sessions)
            time.sleep(0.3)  # the poller is asleep now, for up to 30 s
            t0 = time.monotonic()
            event, row = _ev_event(act_world)  # commits: the notification goes out
            acked = OutboxMessage.objects.filter(pk=row.pk, status=OutboxMessage.Status.ACKNOWLEDGED)
            assert _wait(acked.exists, timeout=10)
            assert time.monotonic() - t0 < 10
            assert len(fleet.states["CP-0001"].received) == 1
        finally:
            loop.run(fleet.stop())
    finally:
        loop.close()


def test_answers_whose_write_failed_are_written_again_with_their_own_times():
    """A database error while recording stations' answers loses none: the batch is written again (recording is
    atomic and counts an answer once), each answer with the time it arrived."""
    import asyncio
    from datetime import UTC, datetime

    from activation.protocols.ocpp_csms import Csms

    class FlakyStore:
        def __init__(self):
            self.calls: list[list] = []

        def results(self, batch):
            self.calls.append(list(batch))
            if len(self.calls) == 1:
                raise RuntimeError("database table is locked")

    store = FlakyStore()
    server = Csms(host="127.0.0.1", port=0, store=store)
    at = datetime(2031, 6, 10, 12, 0, 1, tzinfo=UTC)

    async def run():
        server._stopped, server._results_waiting = asyncio.Event(), asyncio.Event()
        writer = asyncio.get_running_loop().create_task(server._write_results())
        server.record("m-1", "CP-1", True, at)
        for _ in range(200):
            if len(store.calls) >= 2:
                break
            await asyncio.sleep(0.02)
        server._stopped.set()
        await asyncio.wait_for(writer, 5)

    asyncio.run(run())
    assert store.calls == [[("m-1", "CP-1", True, at)], [("m-1", "CP-1", True, at)]]
