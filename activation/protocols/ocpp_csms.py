"""OCPP 2.0.1 charging-station management endpoint (CSMS) for EV chargers (ADR 0029).

Stations connect over a websocket to ``ws://OCPP_HOST:OCPP_PORT/<station id>`` (subprotocol ``ocpp2.0.1``);
the station id is the charger's ``channel_address`` in the device registry. Messages (OCA OCPP 2.0.1, Part 2):

* ``BootNotification`` -> Accepted (heartbeat interval 300 s); ``Heartbeat``, ``StatusNotification`` answered;
* ``MeterValues`` and ``TransactionEvent`` (with meter values) -> the device's telemetry (``Power.Active.Import``
  in W, or the energy register's difference, as kW);
* an event's command (an OCPP row of the transactional outbox, ``activation.services.ocpp_commands``) ->
  ``SetChargingProfile`` (use case K01): a ``ChargingStationMaxProfile`` on EVSE 0, absolute, valid for the event
  window, one period limiting the station to the commanded kW (in W); ``Accepted`` is the acknowledgement;
* at the end of the window -> ``ClearChargingProfile`` (K10) of that profile (the profile's ``validTo`` ends it
  too, should the station be offline then).

The server claims the outbox's commands for connected stations when PostgreSQL notifies it (the dispatch's
``NOTIFY flex_ocpp_outbox``, delivered when the dispatch commits: ``activation.services.outbox``) and otherwise
polls every ``poll_seconds`` (every ``listen_poll_seconds`` while it listens: the poll is then the fallback, for a
station that connects with commands waiting or a notification lost with a connection). The rows are claimed
under a row lock, so two servers never send the same command. Built on the ``ocpp`` library (mobilityhouse)
over ``websockets``. Database calls run in worker threads (``asyncio.to_thread``).

Station authentication (ADR 0031), OCA OCPP 2.0.1 Part 2, "A00 Security profiles" (profile 1: unsecured transport
with HTTP Basic authentication, username = the station's identity as in its URL, A00.FR.204; password =
``BasicAuthPassword``, A00.FR.205; profile 2: the same over TLS, the CSMS showing its server certificate; the
table also in the Zephyr ``ocpp_basic_auth`` and WinCC OA "OCPP Security" documentation). Every station signs in:
the websocket upgrade is answered ``401 Unauthorized`` (``WWW-Authenticate: Basic``), before any OCPP message,
when the Authorization header is missing or malformed, its username is not the station id of the URL path, or
the station id and password do not match a live credential of an active OCPP device
(``accounts.device_credentials.station_authenticate``). The session is bound to that device: whatever a station
sends (MeterValues, TransactionEvent) is its own device's telemetry, and commands go only to the station they
were written for. ``security_profile=2`` serves ``wss://`` with the given TLS context (``OCPP_TLS_CERT_FILE`` and
``OCPP_TLS_KEY_FILE``); profile 3 (client certificates) is not implemented.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import ssl
import threading
import time
from collections import deque
from datetime import UTC, datetime
from decimal import Decimal
from http import HTTPStatus
from urllib.parse import unquote, urlsplit

import websockets
from ocpp import messages as ocpp_messages
from ocpp.messages import Call, MessageType
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result, datatypes, enums
from websockets.exceptions import InvalidHeader
from websockets.headers import parse_authorization_basic

log = logging.getLogger(__name__)
SUBPROTOCOL = "ocpp2.0.1"
SECURITY_PROFILES = (1, 2)


def station_id_of(path: str) -> str:
    """The station id: the last segment of the websocket URL's path (``ws://host:port/<station id>``)."""
    return unquote(urlsplit(path).path.rstrip("/").rsplit("/", 1)[-1])


def _now() -> str:
    return datetime.now(UTC).isoformat()


# The library validates each message against its JSON schema in a worker thread by default; for ~0.2 ms of
# work per message (the stations' messages) the thread hop costs more than the validation.
ocpp_messages.ASYNC_VALIDATION = False
SEND_CONCURRENCY = 1000  # SetChargingProfile calls awaiting their answer at once (one per station at most)
FREEZE_AFTER_SECONDS = 0.2  # the fleet unchanged this long: its objects frozen for the GC (``Csms.gc_freeze``)
RESULTS_GATHER_SECONDS = 0.05  # stations' answers written together: one transaction per burst, not per answer
RESULTS_RETRY_SECONDS = 0.2  # a failed write of answers is tried again after this (times the failures, up to 10)
RESULTS_ATTEMPTS_AT_STOP = 3  # once the server is stopping, answers are given up after this many failed writes


def set_charging_profile_request(payload: dict) -> call.SetChargingProfile:
    """The SetChargingProfile (K01) for an OCPP command's payload: a ``ChargingStationMaxProfile`` on EVSE 0,
    absolute, valid for the event window, one period limiting the station to the commanded kW (in W); the
    profile id is the event's."""
    profile_id = int(payload["event_id"])
    limit_w = float(Decimal(payload["value"]) * 1000)
    profile = datatypes.ChargingProfileType(
        id=profile_id,
        stack_level=1,
        charging_profile_purpose=enums.ChargingProfilePurposeEnumType.charging_station_max_profile,
        charging_profile_kind=enums.ChargingProfileKindEnumType.absolute,
        valid_from=payload["start"],
        valid_to=payload["end"],
        charging_schedule=[
            datatypes.ChargingScheduleType(
                id=profile_id,
                charging_rate_unit=enums.ChargingRateUnitEnumType.watts,
                start_schedule=payload["start"],
                charging_schedule_period=[datatypes.ChargingSchedulePeriodType(start_period=0, limit=limit_w)],
            )
        ],
    )
    return call.SetChargingProfile(evse_id=0, charging_profile=profile)


# The enumerations' values, read once (an Enum member's ``.value`` is a descriptor call per access).
_STATION_MAX_PROFILE = enums.ChargingProfilePurposeEnumType.charging_station_max_profile.value
_ABSOLUTE = enums.ChargingProfileKindEnumType.absolute.value
_WATTS = enums.ChargingRateUnitEnumType.watts.value
_ACCEPTED = enums.ChargingProfileStatusEnumType.accepted.value


def set_charging_profile_payload(payload: dict) -> dict:
    """The JSON payload of :func:`set_charging_profile_request`, built directly in OCPP's camelCase: the same
    object the library's serialization makes of the typed request (``serialize_as_dict``, ``snake_to_camel_case``,
    ``remove_nones``; the tests hold the two equal and check it against the OCPP 2.0.1 JSON schema), without its
    per-message deep copies and key rewriting (measured: the CSMS's largest cost for a burst of 2,000 stations,
    ``bench/bench_dispatch.py``)."""
    profile_id = int(payload["event_id"])
    limit_w = float(Decimal(payload["value"]) * 1000)
    return {
        "evseId": 0,
        "chargingProfile": {
            "id": profile_id,
            "stackLevel": 1,
            "chargingProfilePurpose": _STATION_MAX_PROFILE,
            "chargingProfileKind": _ABSOLUTE,
            "chargingSchedule": [
                {
                    "id": profile_id,
                    "chargingRateUnit": _WATTS,
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit_w}],
                    "startSchedule": payload["start"],
                }
            ],
            "validFrom": payload["start"],
            "validTo": payload["end"],
        },
    }


_ANSWER_SHAPES = (
    (MessageType.CallResult, 3),
    (MessageType.CallResult, 4),
    (MessageType.CallError, 4),
    (MessageType.CallError, 5),
)


def _time_out(answer: asyncio.Future) -> None:
    if not answer.done():
        answer.set_exception(TimeoutError())


class StationSession(ChargePoint):
    """One connected charging station."""

    def __init__(self, station_id, connection, csms: Csms):
        super().__init__(station_id, connection, response_timeout=csms.response_timeout)
        self.csms = csms
        self.device_ref: str | None = None
        self.premise_id: int | None = None
        self.last_energy_wh: float | None = None
        self._answers: dict[str, asyncio.Future] = {}  # message id -> the SetChargingProfile call awaiting it

    @on(enums.Action.boot_notification)
    async def on_boot_notification(self, charging_station, reason, **kwargs):
        return call_result.BootNotification(
            current_time=_now(), interval=300, status=enums.RegistrationStatusEnumType.accepted
        )

    @on(enums.Action.heartbeat)
    async def on_heartbeat(self, **kwargs):
        return call_result.Heartbeat(current_time=_now())

    @on(enums.Action.status_notification)
    async def on_status_notification(self, **kwargs):
        return call_result.StatusNotification()

    @on(enums.Action.meter_values)
    async def on_meter_values(self, evse_id, meter_value, **kwargs):
        await self._telemetry(meter_value)
        return call_result.MeterValues()

    @on(enums.Action.transaction_event)
    async def on_transaction_event(self, event_type, timestamp, trigger_reason, seq_no, transaction_info, **kwargs):
        if kwargs.get("meter_value"):
            await self._telemetry(kwargs["meter_value"])
        return call_result.TransactionEvent()

    async def _telemetry(self, meter_values: list[dict]) -> None:
        if self.device_ref is None:
            return
        for mv in meter_values:
            kw = None
            for sample in mv.get("sampled_value", []):
                measurand = sample.get("measurand", "Energy.Active.Import.Register")
                if measurand == "Power.Active.Import":
                    kw = Decimal(str(sample["value"])) / 1000
            if kw is None:
                continue
            data = {"premise_id": self.premise_id, "kw": str(kw), "at": mv.get("timestamp") or _now()}
            await asyncio.to_thread(self.csms.store.telemetry, device_ref=self.device_ref, data=data)

    async def route_message(self, raw_msg):
        """An answer (CALLRESULT or CALLERROR) to one of this session's SetChargingProfile calls goes straight to
        the call waiting for it (by its message id), with the moment it arrived; every other message the
        library's way (``ChargePoint.route_message``: the station's CALLs checked against the OCPP 2.0.1 schema,
        answers to the library's own calls through its response queue)."""
        if self._answers:
            try:
                msg = json.loads(raw_msg)
            except ValueError:
                msg = None
            # The answers' shapes the library's ``unpack`` takes: [3, id, payload(, action)], [4, id, code,
            # description(, details)].
            shape = (msg[0], len(msg)) if type(msg) is list and msg else None
            if shape in _ANSWER_SHAPES and type(msg[1]) is str:
                waiter = self._answers.pop(msg[1], None)
                if waiter is not None:
                    if not waiter.done():
                        waiter.set_result((msg, datetime.now(UTC)))
                    return
        await super().route_message(raw_msg)

    async def send_limit(self, command: dict) -> None:
        """SetChargingProfile for the command; its answer recorded with the moment it arrived (the command's
        ``acked_at``); the profile cleared at the window's end.

        The request is the payload :func:`set_charging_profile_payload` builds (equal to the library's typed
        request, and checked against the OCPP 2.0.1 JSON schema, by the tests), sent as an OCPP CALL through this
        session's own call lock (one CALL awaiting its answer per station, OCPP-J); the answer is matched by its
        message id in :meth:`route_message` (``ChargePoint.call`` without its per-message serialization, schema
        validation, response queue and ``wait_for`` task: for a burst of 2,000 stations they were the CSMS's
        largest cost). Only a CALLRESULT whose status is exactly ``Accepted`` acknowledges; a CALLERROR or any
        other status is a refusal."""
        payload = command["payload"]
        # The OCPP message id is the outbox row's (unique, and the same in the logs of both sides).
        message_id = command["message_id"]
        request = Call(unique_id=message_id, action="SetChargingProfile", payload=set_charging_profile_payload(payload))
        loop = asyncio.get_running_loop()
        try:
            async with self._call_lock:
                answer = self._answers[message_id] = loop.create_future()
                try:
                    await self._send(request.to_json())
                    timer = loop.call_later(self._response_timeout, _time_out, answer)
                    try:
                        response, answered_at = await answer
                    finally:
                        timer.cancel()
                finally:
                    self._answers.pop(message_id, None)
        except (TimeoutError, websockets.ConnectionClosed) as exc:
            log.warning("OCPP %s: SetChargingProfile not answered: %s", self.id, exc or "timeout")
            return  # left sent: the acknowledgement deadline marks it
        body = response[2] if response[0] == MessageType.CallResult else None
        accepted = type(body) is dict and body.get("status") == _ACCEPTED
        self.csms.record(message_id, self.id, accepted, answered_at)
        if accepted:
            self.csms.clear_at(payload["end"], self, int(payload["event_id"]))

    async def clear(self, profile_id: int) -> None:
        try:
            await self.call(call.ClearChargingProfile(charging_profile_id=profile_id))
        except (TimeoutError, websockets.ConnectionClosed):
            pass  # validTo ends it anyway


class DjangoStore:
    """The CSMS's database side (sync; called from worker threads)."""

    def authenticate(self, station_id: str, password: str) -> tuple[str, int] | None:
        """The station's device (ref, premise id) when ``password`` is its live credential, else None."""
        from accounts.device_credentials import station_authenticate
        from accounts.selectors.devices import device_ref

        found = station_authenticate(station_id=station_id, password=password)
        return (device_ref(found[0]), found[1]) if found else None

    def due(self, station_ids) -> list[dict]:
        from activation.services.ocpp_commands import ocpp_commands_due

        return ocpp_commands_due(station_ids=station_ids)

    def listen(self, wake, stopped: threading.Event) -> bool:
        """Call ``wake()`` (from a thread of its own) whenever a transaction that wrote OCPP commands commits:
        ``LISTEN flex_ocpp_outbox`` on a connection of its own (PostgreSQL; autocommit), reconnecting after an
        error, until ``stopped`` is set. ``wake()`` is also called each time it (re)starts listening, so that
        what committed meanwhile is claimed. False, and nothing started, on other databases."""
        from django.db import connections, router

        from activation.models import OutboxMessage
        from activation.services.outbox import OCPP_NOTIFY_CHANNEL

        connection = connections[router.db_for_write(OutboxMessage)]
        if connection.vendor != "postgresql":
            return False
        params = {
            k: v
            for k, v in connection.get_connection_params().items()
            if k not in ("cursor_factory", "context", "prepare_threshold")  # Django's cursor and adapters: not needed
        }

        def run() -> None:
            import psycopg

            while not stopped.is_set():
                try:
                    with psycopg.connect(**params, autocommit=True) as conn:
                        conn.execute(f"LISTEN {OCPP_NOTIFY_CHANNEL}")
                        wake()
                        while not stopped.is_set():
                            for _ in conn.notifies(timeout=1.0):
                                wake()
                except psycopg.Error as exc:
                    log.warning("OCPP outbox notifications lost, listening again: %s", exc)
                    stopped.wait(1.0)

        threading.Thread(target=run, name="ocpp-outbox-listen", daemon=True).start()
        return True

    def results(self, results: list[tuple[str, str, bool, datetime]]) -> None:
        from activation.services.ocpp_commands import ocpp_command_results

        ocpp_command_results(results=results)

    def telemetry(self, *, device_ref: str, data: dict) -> None:
        from activation.services.device_reports import telemetry_record

        telemetry_record(device_id=device_ref, data=data)


class Csms:
    """The websocket server and its outbox poller. ``await Csms(...).serve()`` runs until ``stop()``."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        store=None,
        poll_seconds: float = 0.1,
        listen_poll_seconds: float = 1.0,
        response_timeout: int = 10,
        security_profile: int = 1,
        ssl_context: ssl.SSLContext | None = None,
        gc_freeze: bool = False,
    ):
        if security_profile not in SECURITY_PROFILES:
            raise ValueError(f"OCPP security profile {security_profile} is not supported (1 or 2).")
        if (security_profile == 2) != (ssl_context is not None):
            raise ValueError("OCPP security profile 2 is TLS: it needs a TLS context, and only it has one.")
        self.security_profile, self.ssl_context = security_profile, ssl_context
        self.host, self.port = host, port
        self.store = store or DjangoStore()
        self.poll_seconds = poll_seconds
        self.listen_poll_seconds = max(listen_poll_seconds, poll_seconds)
        self._wake: asyncio.Event | None = None  # set when the database notifies that commands are waiting
        self._listening = False
        self._listen_stopped = threading.Event()
        self.response_timeout = response_timeout
        self.sessions: dict[str, StationSession] = {}
        self._stopped: asyncio.Event | None = None
        self._tasks: set[asyncio.Task] = set()
        self.ready: asyncio.Event | None = None
        self._results: list[tuple[str, str, bool, datetime]] = []
        self._results_waiting: asyncio.Event | None = None
        self.send_concurrency = SEND_CONCURRENCY
        self._queued: deque[dict] = deque()  # claimed commands not sent yet
        self._lanes = 0  # tasks sending them
        self._clears: dict[str, list[tuple[StationSession, int]]] = {}  # window end -> profiles to clear then
        self.gc_freeze = gc_freeze
        self._fleet_changed: float | None = None  # when a station last connected or left, if not frozen since

    def record(self, message_id: str, station: str, accepted: bool, at: datetime) -> None:
        """A station's answer (``at``: when it arrived), written with the others that arrived meanwhile (one
        transaction per batch)."""
        self._results.append((message_id, station, accepted, at))
        self._results_waiting.set()

    async def _write_results(self) -> None:
        failures = 0  # consecutive failed writes (the database down): retried, spaced out
        while not self._stopped.is_set() or self._results:
            if not self._results:
                self._results_waiting.clear()
                try:
                    await asyncio.wait_for(self._results_waiting.wait(), 0.5)
                except TimeoutError:
                    continue
                if not self._stopped.is_set():
                    # Answers of a burst arrive over a few milliseconds: gathered into one transaction. Each keeps
                    # its own arrival time (``acked_at``), so the wait delays no acknowledgement's time.
                    await asyncio.sleep(RESULTS_GATHER_SECONDS)
            batch, self._results = self._results, []
            try:
                await asyncio.to_thread(self.store.results, batch)
                failures = 0
            except Exception:  # noqa: BLE001 - a database hiccup must not stop the server, nor lose an answer
                failures += 1
                if self._stopped.is_set() and failures >= RESULTS_ATTEMPTS_AT_STOP:
                    log.exception("OCPP results not recorded (%d answers; stopping)", len(batch))
                    continue
                log.exception("OCPP results not recorded (%d answers): written again", len(batch))
                # Back in front, with their own arrival times: recording is atomic and an answer counts once
                # (``ocpp_command_results``), so writing the batch again is safe.
                self._results[:0] = batch
                await asyncio.sleep(RESULTS_RETRY_SECONDS * min(failures, 10))

    def clear_at(self, end: str, session: StationSession, profile_id: int) -> None:
        """ClearChargingProfile of ``profile_id`` on the session's station at ``end`` (ISO 8601, the event
        window's end): one timer per distinct end, not one per station (a burst's profiles share it)."""
        waiting = self._clears.get(end)
        if waiting is None:
            waiting = self._clears[end] = []
            delay = max((datetime.fromisoformat(end) - datetime.now(UTC)).total_seconds(), 0.0)
            asyncio.get_running_loop().call_later(delay, self._clear_now, end)
        waiting.append((session, profile_id))

    def _clear_now(self, end: str) -> None:
        for session, profile_id in self._clears.pop(end, ()):
            self._spawn(session.clear(profile_id))

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _authenticate(self, connection, request):
        """The websocket upgrade's HTTP Basic check (``process_request``): None lets the handshake go on; a
        ``401`` response refuses it before any OCPP message. The station's device is kept on the connection."""
        station_id = station_id_of(request.path)
        try:
            username, password = parse_authorization_basic(request.headers.get("Authorization", ""))
        except InvalidHeader:
            return self._unauthorized(connection, "HTTP Basic credentials required")
        if not station_id or username != station_id:
            return self._unauthorized(connection, "the username is not the station id of the URL")
        known = await asyncio.to_thread(self.store.authenticate, station_id, password)
        if known is None:
            return self._unauthorized(connection, "unknown station or wrong password")
        connection.ocpp_station = (station_id, *known)
        return None

    @staticmethod
    def _unauthorized(connection, reason: str):
        response = connection.respond(HTTPStatus.UNAUTHORIZED, f"Unauthorized: {reason}.\n")
        response.headers["WWW-Authenticate"] = 'Basic realm="OCPP", charset="UTF-8"'
        return response

    async def _on_connect(self, connection) -> None:
        station_id, device, premise_id = connection.ocpp_station  # set by _authenticate, or no handshake
        if connection.subprotocol != SUBPROTOCOL:
            await connection.close(code=1002, reason="subprotocol ocpp2.0.1 required")
            return
        session = StationSession(station_id, connection, self)
        session.device_ref, session.premise_id = device, premise_id
        self.sessions[station_id] = session
        self._fleet_changed = time.monotonic()
        try:
            await session.start()
        except websockets.ConnectionClosed:
            pass
        finally:
            if self.sessions.get(station_id) is session:
                del self.sessions[station_id]
            self._fleet_changed = time.monotonic()

    async def _poll(self) -> None:
        while not self._stopped.is_set():
            if self.sessions:
                try:
                    # The live sessions' keys, asked only for membership in the worker thread (no copy per poll).
                    due = await asyncio.to_thread(self.store.due, self.sessions.keys())
                except Exception:  # noqa: BLE001 - a database hiccup must not stop the server
                    log.exception("OCPP outbox poll failed")
                    due = []
                if due:
                    self._send_all(due)
                    continue  # more may be waiting
            self._freeze_fleet()
            # Woken by a notification (commands committed), by stop(), or after the poll interval.
            stop, woken = asyncio.ensure_future(self._stopped.wait()), asyncio.ensure_future(self._wake.wait())
            await asyncio.wait(
                (stop, woken),
                timeout=self.listen_poll_seconds if self._listening else self.poll_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
            for waiter in (stop, woken):
                waiter.cancel()
            self._wake.clear()

    def _freeze_fleet(self) -> None:
        """With ``gc_freeze`` (the server command): once the connected fleet has not changed for
        ``FREEZE_AFTER_SECONDS`` and no command is on its way, its long-lived objects (sessions, connections, and
        what the server loaded) are moved out of the cyclic garbage collector's reach (``gc.freeze``) after a
        full collection, so that no full collection traverses them again during a burst (measured: one cost the
        CSMS 0.13-0.24 CPU-s in a burst of 2,000 SetChargingProfile calls, bench/bench_ocpp.py). Each time the
        fleet changes the frozen objects are given back first (``gc.unfreeze``): the sessions of stations that
        left are collected then, not kept."""
        changed = self._fleet_changed
        if (
            not self.gc_freeze
            or changed is None
            or self._queued
            or self._lanes
            or time.monotonic() - changed < FREEZE_AFTER_SECONDS
        ):
            return
        self._fleet_changed = None
        gc.unfreeze()
        gc.collect()
        gc.freeze()

    def _send_all(self, commands: list[dict]) -> None:
        """Every claimed command to its station at once, at most ``send_concurrency`` SetChargingProfile calls
        awaiting their answer at a time (over all bursts); the poller goes on meanwhile. The commands wait in one
        queue that ``send_concurrency`` sending tasks at most work through, each sending its next command when the
        last one was answered (not a task and a semaphore wait per command: a semaphore's release scans its
        waiters, quadratic in a burst of thousands). A station that disconnected after the claim keeps its row
        sent (the acknowledgement deadline marks it)."""
        self._queued.extend(commands)
        for _ in range(min(self.send_concurrency - self._lanes, len(self._queued))):
            self._lanes += 1
            self._spawn(self._lane())

    async def _lane(self) -> None:
        try:
            while self._queued:
                command = self._queued.popleft()
                session = self.sessions.get(command["station"])
                if session is None:
                    continue
                try:
                    await session.send_limit(command)
                except Exception:  # noqa: BLE001 - one station's failure must not stop the others' commands
                    log.exception("OCPP %s: SetChargingProfile failed", command["station"])
        finally:
            self._lanes -= 1

    async def serve(self) -> None:
        self._stopped = asyncio.Event()
        self._results_waiting = asyncio.Event()
        self._wake = asyncio.Event()
        loop = asyncio.get_running_loop()
        self._listen_stopped.clear()
        listen = getattr(self.store, "listen", None)
        self._listening = bool(listen) and listen(
            lambda: loop.call_soon_threadsafe(self._wake.set), self._listen_stopped
        )
        self.ready = self.ready or asyncio.Event()
        async with websockets.serve(
            self._on_connect,
            self.host,
            self.port,
            subprotocols=[SUBPROTOCOL],
            max_queue=None,
            process_request=self._authenticate,
            ssl=self.ssl_context,
            # OCPP frames are a few hundred bytes of JSON: permessage-deflate saves little on the wire and costs
            # zlib work per frame on both ends (measured: the CSMS's largest cost after the OCPP library at 2,000
            # stations, bench/bench_dispatch.py). Stations that offer it get an uncompressed connection.
            compression=None,
        ) as server:
            self.port = server.sockets[0].getsockname()[1]
            self.ready.set()
            writer = asyncio.get_running_loop().create_task(self._write_results())
            await self._poll()
            await writer
        for task in list(self._tasks):
            task.cancel()

    def stop(self) -> None:
        self._listen_stopped.set()
        if self._stopped is not None:
            self._stopped.set()
