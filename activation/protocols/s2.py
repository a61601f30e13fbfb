"""S2 (EN 50491-12-2, "Energy Flexibility Interface") for batteries: the platform is the **Resource Manager** of
a home battery and speaks to the household's **Customer Energy Manager** (CEM) with the ``s2-python`` package
(ADR 0039).

The CEM is the WebSocket server (S2 over WebSocket, s2-ws-json: the RM connects to the CEM's URL, the device's
``channel_address``); the RM side is s2-python's own: its ``S2AsyncConnection`` parses and validates every message
(a malformed one gets ``ReceptionStatus`` INVALID_MESSAGE), its ``ResourceManagerHandler`` does the handshake
(``Handshake`` -> ``Handshake`` + ``HandshakeResponse`` -> ``ResourceManagerDetails``), and its
``PEBCControlType`` receives the CEM's ``SelectControlType``. This module only supplies what s2-python leaves to
an RM: a medium over the ``websockets`` library (s2-python's own pins an older websockets) and what the battery
offers under Power Envelope Based Control (PEBC, EN 50491-12-2 clause on PEBC; s2-ws-json ``PEBC.*`` messages).

The dispatch rule (``activation.devices``: a battery gets ``DISCHARGE_KW`` x for the event) becomes one
``PEBC.PowerConstraints`` for the event window, in the S2 sign convention (power > 0 is consumption):

* UPPER_LIMIT range ``[-rated, -x]`` and LOWER_LIMIT range ``[-rated, -x]``: whatever envelope the CEM chooses, the
  battery's net power stays at or below ``-x`` (it discharges at least x kW) and never beyond its rating;
* consequence DEFER: the energy is recharged later (the event's rebound, measured by verification).

The CEM answers with ``PEBC.Instruction``: one envelope for that commodity quantity whose elements cover the
window. The RM checks it against the constraints (:func:`instruction_problems`), answers ReceptionStatus OK and
``InstructionStatusUpdate`` ACCEPTED, or INVALID_CONTENT naming the element that is out of bounds. The command is
acknowledged when a conforming instruction arrived; a CEM that refuses the constraints or instructs outside them
has rejected the command (the shortfall is the owner's, as a station's rejected charging profile)."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from s2python.common import (
    Commodity,
    CommodityQuantity,
    Duration,
    InstructionStatus,
    InstructionStatusUpdate,
    NumberRange,
    ReceptionStatusValues,
    Role,
    RoleType,
)
from s2python.connection.asset_details import AssetDetails
from s2python.connection.async_.connection import S2AsyncConnection
from s2python.connection.async_.control_type.class_based import PEBCControlType, ResourceManagerHandler
from s2python.connection.async_.medium.s2_medium import MediumClosedConnectionError, S2AsyncMediumConnection
from s2python.pebc import (
    PEBCAllowedLimitRange,
    PEBCInstruction,
    PEBCPowerConstraints,
    PEBCPowerEnvelopeConsequenceType,
    PEBCPowerEnvelopeLimitType,
)
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from flexplatform.core import egress

QUANTITY = CommodityQuantity.ELECTRIC_POWER_3_PHASE_SYMMETRIC
#: tolerance of the envelope check in W (the CEM's floats against our kW decimals)
TOLERANCE_W = 0.5


class WebsocketsMedium(S2AsyncMediumConnection):
    """s2-python's medium over an open ``websockets`` connection (client or server side)."""

    def __init__(self, ws) -> None:
        self.ws = ws

    async def is_connected(self) -> bool:
        return self.ws.state.name == "OPEN"

    async def messages(self) -> AsyncGenerator[str | bytes, None]:
        try:
            async for message in self.ws:
                yield message
        except ConnectionClosed:
            return

    async def send(self, message: str) -> None:
        try:
            await self.ws.send(message)
        except ConnectionClosed as exc:
            raise MediumClosedConnectionError(str(exc)) from exc


def power_constraints(
    *, discharge_kw: Decimal, rated_kw: Decimal, start: datetime, end: datetime
) -> PEBCPowerConstraints:
    """The event as PEBC power constraints (module docstring): both limits within ``[-rated, -x]`` W."""
    low, high = -float(rated_kw) * 1000, -float(discharge_kw) * 1000
    ranges = [
        PEBCAllowedLimitRange(
            commodity_quantity=QUANTITY,
            limit_type=kind,
            range_boundary=NumberRange(start_of_range=low, end_of_range=high),
            abnormal_condition_only=False,
        )
        for kind in (PEBCPowerEnvelopeLimitType.UPPER_LIMIT, PEBCPowerEnvelopeLimitType.LOWER_LIMIT)
    ]
    return PEBCPowerConstraints(
        message_id=uuid.uuid4(),
        id=uuid.uuid4(),
        valid_from=start,
        valid_until=end,
        consequence_type=PEBCPowerEnvelopeConsequenceType.DEFER,
        allowed_limit_ranges=ranges,
    )


def instruction_problems(constraints: PEBCPowerConstraints, instruction: PEBCInstruction) -> list[str]:
    """Why ``instruction`` does not follow ``constraints`` (empty: it does), each naming the element: the
    constraints it refers to, one envelope per commodity quantity of the constraints, every element's limits
    inside the allowed ranges with lower <= upper, the elements covering the whole window."""
    if str(instruction.power_constraints_id) != str(constraints.id):
        return [f"power_constraints_id {instruction.power_constraints_id} is not {constraints.id}"]
    bounds = {}
    for r in constraints.allowed_limit_ranges:
        bounds[(r.commodity_quantity, r.limit_type)] = (r.range_boundary.start_of_range, r.range_boundary.end_of_range)
    problems: list[str] = []
    quantities = {q for q, _ in bounds}
    seen = [e.commodity_quantity for e in instruction.power_envelopes]
    for q in sorted(quantities - set(seen), key=str):
        problems.append(f"no power envelope for {q.value}")
    window_ms = int((constraints.valid_until - constraints.valid_from).total_seconds() * 1000)
    for i, envelope in enumerate(instruction.power_envelopes):
        where = f"power_envelopes[{i}]"
        if envelope.commodity_quantity not in quantities:
            problems.append(f"{where}: {envelope.commodity_quantity.value} is not constrained")
            continue
        if seen.count(envelope.commodity_quantity) > 1:
            problems.append(f"{where}: a second envelope for {envelope.commodity_quantity.value}")
        up = bounds[(envelope.commodity_quantity, PEBCPowerEnvelopeLimitType.UPPER_LIMIT)]
        lo = bounds[(envelope.commodity_quantity, PEBCPowerEnvelopeLimitType.LOWER_LIMIT)]
        covered = 0
        for j, element in enumerate(envelope.power_envelope_elements):
            at = f"{where}.power_envelope_elements[{j}]"
            covered += element.duration.root
            if not up[0] - TOLERANCE_W <= element.upper_limit <= up[1] + TOLERANCE_W:
                problems.append(f"{at}.upper_limit {element.upper_limit:g} W outside [{up[0]:g}, {up[1]:g}] W")
            if not lo[0] - TOLERANCE_W <= element.lower_limit <= lo[1] + TOLERANCE_W:
                problems.append(f"{at}.lower_limit {element.lower_limit:g} W outside [{lo[0]:g}, {lo[1]:g}] W")
            if element.lower_limit > element.upper_limit:
                problems.append(f"{at}: lower_limit above upper_limit")
        if covered < window_ms:
            problems.append(f"{where}: elements cover {covered} ms of the {window_ms} ms window")
    return problems


async def reply(connection: S2AsyncConnection, send_okay, msg, status: ReceptionStatusValues, label: str) -> None:
    """Answer ``msg`` with a status other than OK. s2-python sends OK itself after a handler that did not call
    ``send_okay``; its ``SendOkay`` is told the status went out so that the peer gets exactly one answer."""
    getattr(getattr(send_okay, "__self__", None), "_status_is_send", asyncio.Event()).set()
    await connection.respond_with_reception_status(
        subject_message_id=msg.message_id, status=status, diagnostic_label=label[:500]
    )


async def checked_socket(url: str) -> tuple[socket.socket, dict]:
    """A socket connected to a checked address of the URL's host (DNS rebinding cannot move a send to a private
    address after registration), and the keyword arguments the websocket client needs with it."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "wss" else 80)
    loop = asyncio.get_running_loop()
    addresses = await loop.run_in_executor(None, egress.resolve, host, port)
    ip = addresses[0]
    egress.address_check(host, port, ip, field="channel_address")
    sock = socket.socket(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await loop.sock_connect(sock, (str(ip), port))
    except BaseException:
        sock.close()
        raise
    return sock, ({"server_hostname": host} if parts.scheme == "wss" else {})


@dataclass
class S2Outcome:
    """How one command ended: ``acknowledged`` (a conforming instruction), ``rejected`` (the CEM refused the
    constraints or instructed outside them; ``error`` says how), ``refused`` (the address is not public: never
    connected) or ``unreachable`` (no session; retried)."""

    status: str
    error: str = ""
    at: datetime | None = None


class _BatteryPEBC(PEBCControlType):
    """The battery's PEBC: on selection, send the event's constraints; judge the CEM's instruction."""

    def __init__(self, constraints: PEBCPowerConstraints, done: asyncio.Future) -> None:
        self.constraints, self.done = constraints, done

    async def activate(self, connection: S2AsyncConnection) -> None:
        status = await connection.send_msg_and_await_reception_status(self.constraints, raise_on_error=False)
        if status.status != ReceptionStatusValues.OK and not self.done.done():
            label = f": {status.diagnostic_label}" if status.diagnostic_label else ""
            self.done.set_result(
                S2Outcome("rejected", f"CEM rejected the power constraints ({status.status.value}{label})")
            )

    async def deactivate(self, connection: S2AsyncConnection) -> None:
        return None

    async def handle_instruction(self, connection: S2AsyncConnection, msg, send_okay) -> None:
        problems = instruction_problems(self.constraints, msg)
        if problems:
            await reply(connection, send_okay, msg, ReceptionStatusValues.INVALID_CONTENT, "; ".join(problems))
            if not self.done.done():
                self.done.set_result(
                    S2Outcome(
                        "rejected", f"CEM rejected: instruction outside the power constraints ({'; '.join(problems)})"
                    )
                )
            return
        await send_okay()
        at = datetime.now().astimezone()
        update = InstructionStatusUpdate(
            message_id=uuid.uuid4(), instruction_id=msg.id, status_type=InstructionStatus.ACCEPTED, timestamp=at
        )
        try:  # the CEM's receipt of our acceptance closes the exchange; the instruction counts either way
            await connection.send_msg_and_await_reception_status(
                update, timeout_reception_status=2, raise_on_error=False
            )
        except TimeoutError:
            pass
        if not self.done.done():
            self.done.set_result(S2Outcome("acknowledged", at=at))


async def send_battery_command(
    *, url: str, device_ref: str, name: str, constraints: PEBCPowerConstraints, timeout: float, ssl_context=None
) -> S2Outcome:
    """One S2 session with the CEM at ``url``: handshake, details, the CEM's control-type selection, the
    constraints, the CEM's instruction. At most ``timeout`` seconds."""
    done: asyncio.Future = asyncio.get_running_loop().create_future()
    asset = AssetDetails(
        resource_id=uuid.uuid5(uuid.NAMESPACE_URL, f"flexplatform:{device_ref}"),
        provides_forecast=False,
        provides_power_measurements=[QUANTITY],
        instruction_processing_delay=Duration(1000),
        roles=[Role(role=RoleType.ENERGY_STORAGE, commodity=Commodity.ELECTRICITY)],
        name=name[:64] or device_ref,
    )
    try:
        async with asyncio.timeout(timeout):
            sock, kwargs = await checked_socket(url)
            if url.startswith("wss://"):
                kwargs["ssl"] = ssl_context or ssl.create_default_context()
            async with connect(url, sock=sock, open_timeout=timeout, compression=None, **kwargs) as ws:
                connection = S2AsyncConnection(WebsocketsMedium(ws), eventloop=asyncio.get_running_loop())
                ResourceManagerHandler(
                    control_types=[_BatteryPEBC(constraints, done)], asset_details=asset
                ).register_handlers(connection)
                runner = asyncio.ensure_future(connection.run())
                finished, _ = await asyncio.wait({runner, done}, return_when=asyncio.FIRST_COMPLETED)
                await connection.stop()
                runner.cancel()
                await asyncio.gather(runner, return_exceptions=True)
                if done.done():
                    return done.result()
                return S2Outcome("unreachable", "the CEM closed the session before an instruction")
    except TimeoutError:
        return S2Outcome("unreachable", f"no instruction from the CEM within {timeout:g} s")
    except egress.EgressRefused as exc:
        return S2Outcome("refused", f"S2 address refused: {exc.detail}"[:500])
    except (OSError, ConnectionClosed, ssl.SSLError) as exc:
        return S2Outcome("unreachable", f"CEM unreachable: {exc}"[:500])
    except Exception as exc:  # noqa: BLE001 - an invalid handshake or reply from the far end is its failure, not ours
        if isinstance(exc, asyncio.CancelledError):
            raise
        return S2Outcome("unreachable", f"S2 session failed: {type(exc).__name__}: {exc}"[:500])


def send_battery_commands(commands: list[dict], *, timeout: float, ssl_context=None) -> list[S2Outcome]:
    """Several sessions at once (one per command); ``commands`` are dicts with ``url``, ``device_ref``, ``name``,
    ``discharge_kw``, ``rated_kw``, ``start``, ``end``. From synchronous code (the outbox flush)."""

    async def run() -> list[S2Outcome]:
        return list(
            await asyncio.gather(
                *(
                    send_battery_command(
                        url=c["url"],
                        device_ref=c["device_ref"],
                        name=c.get("name", ""),
                        constraints=power_constraints(
                            discharge_kw=Decimal(c["discharge_kw"]),
                            rated_kw=Decimal(c["rated_kw"]),
                            start=c["start"],
                            end=c["end"],
                        ),
                        timeout=timeout,
                        ssl_context=ssl_context,
                    )
                    for c in commands
                )
            )
        )

    return asyncio.run(run()) if commands else []


def window(payload: dict) -> tuple[datetime, datetime]:
    """The event window of an outbox payload (ISO strings), never shorter than one second."""
    start, end = datetime.fromisoformat(payload["start"]), datetime.fromisoformat(payload["end"])
    return start, max(end, start + timedelta(seconds=1))


def dumps(message) -> str:  # for tests and the simulated CEM's logs
    return json.dumps(json.loads(message.to_json()), sort_keys=True)
