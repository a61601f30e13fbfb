"""A simulated S2 Customer Energy Manager (CEM), the household side the platform's battery Resource Manager talks
to (``activation.protocols.s2``, ADR 0039): a WebSocket server speaking S2 with ``s2-python``'s own connection,
message models and validation. For the device simulator, the demo and the tests.

What it does per session, as a home energy manager would (EN 50491-12-2, s2-ws-json message sequence):
``Handshake`` (answered with its own ``Handshake`` and a ``HandshakeResponse`` selecting the version), the RM's
``ResourceManagerDetails`` (it selects Power Envelope Based Control when offered), the RM's
``PEBC.PowerConstraints``, and then, by ``behaviour``:

* ``comply``: a ``PEBC.Instruction`` with one envelope over the whole window, upper limit at the least discharge
  the constraints allow and lower limit at the most (the loosest envelope that still meets them);
* ``refuse``: ReceptionStatus INVALID_CONTENT for the constraints ("battery reserved for backup power");
* ``stray``: an instruction whose upper limit lets the battery idle (0 W), outside the constraints.
"""

from __future__ import annotations

import asyncio
import threading
import uuid

from s2python.common import (
    ControlType,
    EnergyManagementRole,
    Handshake,
    HandshakeResponse,
    InstructionStatusUpdate,
    ReceptionStatusValues,
    ResourceManagerDetails,
    SelectControlType,
)
from s2python.connection.async_.connection import S2AsyncConnection
from s2python.connection.async_.medium.s2_medium import MediumClosedConnectionError
from s2python.connection.connection_events import ConnectionStarted, ConnectionStopped
from s2python.pebc import (
    PEBCInstruction,
    PEBCPowerConstraints,
    PEBCPowerEnvelope,
    PEBCPowerEnvelopeElement,
    PEBCPowerEnvelopeLimitType,
)
from s2python.version import S2_VERSION
from websockets.asyncio.server import serve

from .protocols.s2 import WebsocketsMedium, reply

BEHAVIOURS = ("comply", "refuse", "stray")


class SimulatedCEM:
    """``SimulatedCEM(behaviour="comply").start()`` serves on ``.url`` (ws://127.0.0.1:<port>/s2) in its own thread;
    ``.received`` lists (resource id, message type) as they arrive, ``.instructions`` the instructions it sent,
    ``.statuses`` the RM's InstructionStatusUpdates."""

    def __init__(self, *, behaviour: str = "comply", host: str = "127.0.0.1", port: int = 0) -> None:
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"behaviour: one of {', '.join(BEHAVIOURS)}")
        self.behaviour, self.host, self.port = behaviour, host, port
        self.received: list[tuple[str, str]] = []
        self.instructions: list[PEBCInstruction] = []
        self.statuses: list[InstructionStatusUpdate] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/s2"

    # --- one session ---------------------------------------------------------------------------------------------
    async def _session(self, ws) -> None:
        connection = S2AsyncConnection(WebsocketsMedium(ws), eventloop=asyncio.get_running_loop())
        resource = {"id": "?"}

        async def on_handshake(conn, msg: Handshake, send_okay) -> None:
            self.received.append((resource["id"], "Handshake"))
            await send_okay()
            await conn.send_and_forget(
                Handshake(
                    message_id=uuid.uuid4(), role=EnergyManagementRole.CEM, supported_protocol_versions=[S2_VERSION]
                )
            )
            await conn.send_and_forget(HandshakeResponse(message_id=uuid.uuid4(), selected_protocol_version=S2_VERSION))

        async def on_details(conn, msg: ResourceManagerDetails, send_okay) -> None:
            resource["id"] = str(msg.resource_id)
            self.received.append((resource["id"], "ResourceManagerDetails"))
            await send_okay()
            if ControlType.POWER_ENVELOPE_BASED_CONTROL in msg.available_control_types:
                await conn.send_and_forget(
                    SelectControlType(message_id=uuid.uuid4(), control_type=ControlType.POWER_ENVELOPE_BASED_CONTROL)
                )

        async def on_constraints(conn, msg: PEBCPowerConstraints, send_okay) -> None:
            self.received.append((resource["id"], "PEBC.PowerConstraints"))
            if self.behaviour == "refuse":
                await reply(
                    conn, send_okay, msg, ReceptionStatusValues.INVALID_CONTENT, "battery reserved for backup power"
                )
                return
            await send_okay()
            instruction = self.instruction_for(msg)
            self.instructions.append(instruction)
            await conn.send_and_forget(instruction)

        async def on_status(conn, msg: InstructionStatusUpdate, send_okay) -> None:
            self.received.append((resource["id"], "InstructionStatusUpdate"))
            self.statuses.append(msg)
            await send_okay()

        async def on_connection(conn, event, send_okay) -> None:
            return None

        for kind, handler in (
            (ConnectionStarted, on_connection),
            (ConnectionStopped, on_connection),
            (Handshake, on_handshake),
            (ResourceManagerDetails, on_details),
            (PEBCPowerConstraints, on_constraints),
            (InstructionStatusUpdate, on_status),
        ):
            connection.register_handler(kind, handler)
        try:
            await connection.run()
        except MediumClosedConnectionError:
            pass

    def instruction_for(self, constraints: PEBCPowerConstraints) -> PEBCInstruction:
        ranges = {(r.commodity_quantity, r.limit_type): r.range_boundary for r in constraints.allowed_limit_ranges}
        quantity = constraints.allowed_limit_ranges[0].commodity_quantity
        upper = ranges[(quantity, PEBCPowerEnvelopeLimitType.UPPER_LIMIT)].end_of_range
        lower = ranges[(quantity, PEBCPowerEnvelopeLimitType.LOWER_LIMIT)].start_of_range
        if self.behaviour == "stray":
            upper = 0.0
        window_ms = int((constraints.valid_until - constraints.valid_from).total_seconds() * 1000)
        return PEBCInstruction(
            message_id=uuid.uuid4(),
            id=uuid.uuid4(),
            execution_time=constraints.valid_from,
            abnormal_condition=False,
            power_constraints_id=constraints.id,
            power_envelopes=[
                PEBCPowerEnvelope(
                    id=str(uuid.uuid4()),
                    commodity_quantity=quantity,
                    power_envelope_elements=[
                        PEBCPowerEnvelopeElement(duration=window_ms, upper_limit=upper, lower_limit=lower)
                    ],
                )
            ],
        )

    # --- the server ------------------------------------------------------------------------------------------------
    async def serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        async with serve(self._session, self.host, self.port, compression=None) as server:
            self._server = server
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await server.serve_forever()

    def start(self) -> SimulatedCEM:
        threading.Thread(target=lambda: asyncio.run(self._serve_quietly()), daemon=True).start()
        if not self._ready.wait(10):
            raise RuntimeError("the simulated CEM did not start")
        return self

    async def _serve_quietly(self) -> None:
        try:
            await self.serve()
        except asyncio.CancelledError:
            pass

    def stop(self) -> None:
        if self._loop is not None and self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)

    def __enter__(self) -> SimulatedCEM:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
