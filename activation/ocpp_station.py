"""Simulated OCPP 2.0.1 charging stations (the ``ocpp`` library's station side over a real websocket), for the
tests, ``manage.py device_simulator`` and ``bench/bench_dispatch.py``. No Django.

Each station boots (``BootNotification``), answers ``SetChargingProfile`` (Accepted; a non-responder never
answers; ``reject`` answers Rejected) and ``ClearChargingProfile``, and reports its draw with ``MeterValues``
(``Power.Active.Import`` in W): the charging power ramps from ``draw_kw`` towards the commanded limit over
``ramp_seconds``, reaching ``compliance`` of the reduction. Many stations share one event loop.

Schema validation: by default the simulated station does not validate the CSMS's ``SetChargingProfile`` and
``ClearChargingProfile`` requests on receipt, nor its own answers (``skip_schema_validation``): the tests check the
CSMS's request against the OCPP 2.0.1 JSON schema once (``activation/tests/test_ocpp_dispatch.py``), and per message
the validation costs about 0.2 ms (``jsonschema``; measured 2026-12-07 at load 6: 0.21 ms a request, 0.4 CPU-s for
2,000, more than twice the whole simulator's work for that burst in ``bench/bench_ocpp.py``). ``validate=True`` (``--validate``) checks each
``SetChargingProfile`` against the schema, a malformed one answered with a CALLERROR as the library does. The CSMS
keeps validating what stations send it (``activation.protocols.ocpp_csms``: real stations in production).

Keep-alive: the stations' ``WebSocketPingInterval`` (OCPP 2.0.1 ``OCPPCommCtrlr``; 1.6 ``WebSocketPingInterval``) is
0 by default: "0 disables client side websocket Ping/Pong. In this case there is either no ping/pong or the server
initiates the ping and client responds with Pong" (the variable's definition). The CSMS pings every connection
(``websockets``' keep-alive) and the stations answer; 2,000 idle stations cost the simulator 11 ms of CPU a second
so, 24 ms when they ping every 20 s as well (measured 2026-12-07, ``bench/bench_ocpp.py``'s setup).
``ping_interval`` (``--ping-interval S``) has the stations ping too.

Each station signs in with HTTP Basic authentication (OCPP 2.0.1 Security Profile 1/2, ADR 0031): username = its
station id, password = the one issued for it (``StationState.password``); a ``wss://`` URL is TLS (profile 2).

``python -m activation.ocpp_station ws://127.0.0.1:9000 SPEC.json --seconds S [--ca-file CA.pem]``: SPEC is a
JSON list of ``[station_id, draw_kw, password]``; prints READY once every station is booted, then a JSON summary.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import logging
import random
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

import websockets
from ocpp.charge_point import camel_to_snake_case
from ocpp.messages import Call, MessageType, validate_payload
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result, datatypes, enums


@lru_cache(maxsize=256)
def _snake_key(key: str) -> str:
    """The library's camelCase -> snake_case conversion of one key (kept: a profile has the same dozen keys)."""
    return next(iter(camel_to_snake_case({key: None})))


def _snake(data):
    """``ocpp.charge_point.camel_to_snake_case`` with its per-key conversion kept (``_snake_key``), descending
    only into the containers (a profile's sixteen values, five of them containers: five calls, not sixteen)."""
    if isinstance(data, dict):
        return {_snake_key(k): (_snake(v) if isinstance(v, _NESTED) else v) for k, v in data.items()}
    if isinstance(data, list):
        return [_snake(v) if isinstance(v, _NESTED) else v for v in data]
    return data


_NESTED = (dict, list)


@dataclass
class StationState:
    station_id: str
    draw_kw: float
    password: str = ""
    responds: bool = True
    reject: bool = False
    compliance: float = 1.0
    limit_kw: float | None = None
    limited_at: float = 0.0
    received: list[dict] = field(default_factory=list)
    received_at: list[float] = field(default_factory=list)
    cleared: list[int] = field(default_factory=list)


class SimStation(ChargePoint):
    def __init__(self, state: StationState, connection, ramp_seconds: float, *, validate: bool = False):
        super().__init__(state.station_id, connection, response_timeout=30)
        self.state = state
        self.ramp_seconds = ramp_seconds
        self.validate = validate

    async def route_message(self, raw_msg):
        """The CSMS's ``SetChargingProfile`` is answered here without the library's per-message routing (its
        key rewriting per request and typed answer serialized by deep copies: most of a simulated station's CPU in
        ``bench/bench_dispatch.py``); the answer is the same OCPP CALLRESULT. Everything else goes the library's
        way."""
        try:
            msg = json.loads(raw_msg)
        except ValueError:
            msg = None
        if (
            isinstance(msg, list)
            and len(msg) == 4
            and msg[0] == MessageType.Call
            and msg[2] == enums.Action.set_charging_profile
            and isinstance(msg[3], dict)
            and isinstance(msg[3].get("chargingProfile"), dict)
        ):
            # The registered handler still answers (a station's own behaviour, e.g. a firmware fault, stays its own);
            # an exception is a CALLERROR, as the library sends it.
            handler = self.route_map[enums.Action.set_charging_profile]["_on_action"]
            try:
                if self.validate:  # the request against the OCPP 2.0.1 schema, as a real station may check it
                    await validate_payload(Call(msg[1], msg[2], msg[3]), self._ocpp_version)
                result = await handler(evse_id=msg[3].get("evseId"), charging_profile=_snake(msg[3]["chargingProfile"]))
            except Exception as exc:  # noqa: BLE001 - answered as the library answers a failing handler
                await self._send(Call(msg[1], msg[2], msg[3]).create_call_error(exc).to_json())
                return
            status = getattr(result.status, "value", result.status)
            await self._send(json.dumps([MessageType.CallResult, msg[1], {"status": status}], separators=(",", ":")))
            return
        await super().route_message(raw_msg)

    @on(enums.Action.set_charging_profile, skip_schema_validation=True)
    async def on_set_charging_profile(self, evse_id, charging_profile, **kwargs):
        return call_result.SetChargingProfile(status=await self.set_charging_profile(charging_profile))

    async def set_charging_profile(self, charging_profile: dict) -> str:
        """The station takes the profile (snake_case keys, as the library hands them): its answer's status."""
        s = self.state
        s.received.append(charging_profile)
        s.received_at.append(time.time())
        if not s.responds:
            await asyncio.sleep(3600)  # never answers (the CSMS times out)
        if s.reject:
            return enums.ChargingProfileStatusEnumType.rejected.value
        period = charging_profile["charging_schedule"][0]["charging_schedule_period"][0]
        s.limit_kw, s.limited_at = float(period["limit"]) / 1000, time.monotonic()
        return enums.ChargingProfileStatusEnumType.accepted.value

    @on(enums.Action.clear_charging_profile, skip_schema_validation=True)
    async def on_clear_charging_profile(self, charging_profile_id=None, **kwargs):
        self.state.cleared.append(charging_profile_id)
        self.state.limit_kw = None
        return call_result.ClearChargingProfile(status=enums.ClearChargingProfileStatusEnumType.accepted)

    def kw_now(self) -> float:
        s = self.state
        if s.limit_kw is None or s.limit_kw >= s.draw_kw:
            return s.draw_kw
        shed = (s.draw_kw - s.limit_kw) * s.compliance
        frac = min((time.monotonic() - s.limited_at) / self.ramp_seconds, 1.0) if self.ramp_seconds else 1.0
        return s.draw_kw - shed * frac

    async def boot(self) -> None:
        await self.call(
            call.BootNotification(
                charging_station={"model": "SimCharger", "vendor_name": "flex-sim"},
                reason=enums.BootReasonEnumType.power_up,
            )
        )

    async def report(self) -> None:
        await self.call(
            call.MeterValues(
                evse_id=1,
                meter_value=[
                    datatypes.MeterValueType(
                        timestamp=datetime.now(UTC).isoformat(),
                        sampled_value=[
                            datatypes.SampledValueType(
                                value=round(self.kw_now() * 1000, 1),
                                measurand=enums.MeasurandEnumType.power_active_import,
                            )
                        ],
                    )
                ],
            )
        )


class StationFleet:
    """Many simulated stations in one event loop: ``await fleet.start()`` connects and boots them all."""

    def __init__(
        self,
        url: str,
        states: list[StationState],
        *,
        ramp_seconds: float = 0.0,
        ssl_context: ssl.SSLContext | None = None,
        validate: bool = False,
        ping_interval: float = 0,
    ):
        self.url = url.rstrip("/")
        self.ssl_context = ssl_context
        self.states = {s.station_id: s for s in states}
        self.ramp_seconds = ramp_seconds
        self.validate = validate
        self.ping_interval = ping_interval
        self.stations: dict[str, SimStation] = {}
        self._tasks: list[asyncio.Task] = []
        self._connections = []

    @staticmethod
    def from_seed(url, specs, *, seed=7, non_responders=0.0, partial=0.0, **kw) -> StationFleet:
        """``specs``: ``(station_id, draw_kw, password)`` (a password-less ``(station_id, draw_kw)`` is refused
        by the CSMS)."""
        rng = random.Random(seed)  # noqa: S311 - simulation
        states = []
        for station_id, draw, *password in specs:
            r = rng.random()
            states.append(
                StationState(
                    station_id, float(draw), password=password[0] if password else "", responds=r >= non_responders,
                    compliance=0.6 if r < non_responders + partial else 1.0,
                )
            )  # fmt: skip
        return StationFleet(url, states, **kw)

    async def _one(self, state: StationState, sem: asyncio.Semaphore) -> None:
        headers = {}
        if state.password:
            token = base64.b64encode(f"{state.station_id}:{state.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        async with sem:
            connection = await websockets.connect(
                f"{self.url}/{state.station_id}",
                subprotocols=["ocpp2.0.1"],
                open_timeout=30,
                max_queue=None,
                additional_headers=headers,
                ssl=self.ssl_context,
                compression=None,  # as the CSMS serves (activation.protocols.ocpp_csms)
                ping_interval=self.ping_interval or None,  # WebSocketPingInterval (module docstring)
            )
        self._connections.append(connection)
        station = SimStation(state, connection, self.ramp_seconds, validate=self.validate)
        self.stations[state.station_id] = station
        self._tasks.append(asyncio.get_running_loop().create_task(station.start()))
        await station.boot()

    async def start(self, concurrency: int = 100) -> StationFleet:
        sem = asyncio.Semaphore(concurrency)
        await asyncio.gather(*(self._one(s, sem) for s in self.states.values()))
        return self

    async def report(self) -> int:
        await asyncio.gather(*(s.report() for s in self.stations.values()))
        return len(self.stations)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for connection in self._connections:
            await connection.close()


def main(argv: list[str] | None = None) -> None:
    import argparse
    import sys

    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("spec")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--non-responders", type=float, default=0.0)
    parser.add_argument("--partial", type=float, default=0.0)
    parser.add_argument("--receipts", default="", help="Write station -> [receive times] here at the end.")
    parser.add_argument("--ca-file", default="", help="wss:// (security profile 2): trust the CSMS's certificate.")
    parser.add_argument(
        "--ping-interval", type=float, default=0, help="WebSocketPingInterval in s (0: the CSMS pings, we answer)."
    )
    parser.add_argument(
        "--validate", action="store_true", help="Check each SetChargingProfile against the OCPP 2.0.1 schema."
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("ocpp").setLevel(logging.WARNING)
    with open(args.spec) as fh:
        specs = [tuple(x) for x in json.load(fh)]

    async def run():
        context = ssl.create_default_context(cafile=args.ca_file) if args.ca_file else None
        fleet = StationFleet.from_seed(
            args.url, specs, non_responders=args.non_responders, partial=args.partial, ssl_context=context,
            validate=args.validate, ping_interval=args.ping_interval,
        )  # fmt: skip
        await fleet.start()
        # The booted fleet lives until the end: kept out of the cyclic GC's full collections (one during a burst
        # cost the simulator 0.14 CPU-s for 2,000 stations, bench/bench_ocpp.py).
        gc.collect()
        gc.freeze()
        print("READY", flush=True)
        await asyncio.sleep(args.seconds)
        await fleet.stop()
        if args.receipts:
            with open(args.receipts, "w") as fh:
                json.dump({k: s.received_at for k, s in fleet.states.items()}, fh)
        return sum(len(s.received) for s in fleet.states.values())

    received = asyncio.run(run())
    print(json.dumps({"received": received}), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
