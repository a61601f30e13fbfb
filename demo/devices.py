"""The demo's devices: what each premise declares (by segment), and the MQTT device simulator that answers the
market day's dispatch."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings

from accounts.models import Premise

if TYPE_CHECKING:
    from .world import World


def demo_devices(segment: str, n: int) -> list[dict]:
    """A few plausible devices per premise (deterministic in ``n``)."""
    d = Decimal
    if segment == Premise.Segment.RESIDENTIAL:
        out = [
            {
                "name": "Smart thermostat",
                "kind": "hvac",
                "control_channel": "mqtt",
                "rated_kw": d("3.5"),
                "min_kw": d("0.3"),
                "max_kw": d("3.5"),
                "max_event_minutes": 240,
                "notice_minutes": 30,
                "max_events_per_day": 1,
                "max_events_per_month": 15,
                "rebound_percent": d("40"),
                "rebound_minutes": 60,
                "comfort_min_c": d("19"),
                "comfort_max_c": d("25"),
                "setpoint_c": d("23") + d(n % 3) / 2,
            },
            {
                "name": "Water heater",
                "kind": "water_heater",
                "control_channel": "mqtt",
                "rated_kw": d("4.5"),
                "max_kw": d("4.5"),
                "max_event_minutes": 180,
                "max_events_per_day": 2,
                "max_events_per_month": 40,
                "rebound_percent": d("80"),
                "rebound_minutes": 90,
                "comfort_min_c": d("49"),
                "comfort_max_c": d("60"),
                "setpoint_c": d("55"),
            },
        ]
        if n % 2:
            out.append(
                {
                    "name": "EV charger",
                    "kind": "ev_charger",
                    "control_channel": "ocpp",
                    "rated_kw": d("7.4"),
                    "min_kw": d("0"),
                    "max_kw": d("7.4"),
                    "ramp_kw_per_min": d("7.4"),
                    "max_event_minutes": 240,
                    "max_events_per_day": 1,
                    "max_events_per_month": 20,
                    "rebound_percent": d("100"),
                    "channel_address": f"CP-{n:04d}",
                }
            )
        if n % 3 == 0:
            out.append(
                {
                    "name": "Home battery",
                    "kind": "battery",
                    "control_channel": "vendor_api",
                    "rated_kw": d("5"),
                    "max_kw": d("5"),
                    "capacity_kwh": d("13.5"),
                    "soc_min_percent": d("20"),
                    "soc_max_percent": d("100"),
                    "soc_percent": d("80"),
                    "max_events_per_day": 2,
                    "max_events_per_month": 40,
                }
            )
        if n % 4 == 1:
            out.append(
                {
                    "name": "Pool pump",
                    "kind": "pool_pump",
                    "control_channel": "mqtt",
                    "rated_kw": d("1.5"),
                    "max_kw": d("1.5"),
                    "max_event_minutes": 360,
                    "max_events_per_day": 1,
                }
            )
        if n % 5 == 0:
            out.append(
                {
                    "name": "Rooftop PV",
                    "kind": "pv_inverter",
                    "control_channel": "vendor_api",
                    "rated_kw": d("6"),
                    "max_kw": d("6"),
                }
            )
        return out
    if segment == Premise.Segment.COMMERCIAL:
        return [
            {
                "name": "Rooftop HVAC units",
                "kind": "hvac",
                "control_channel": "openadr_ven",
                "rated_kw": d("60"),
                "min_kw": d("15"),
                "max_kw": d("60"),
                "ramp_kw_per_min": d("10"),
                "max_event_minutes": 240,
                "notice_minutes": 60,
                "max_events_per_day": 1,
                "max_events_per_month": 10,
                "rebound_percent": d("30"),
                "comfort_min_c": d("20"),
                "comfort_max_c": d("26"),
                "setpoint_c": d("23.5"),
                "channel_address": f"ven-biz-{n:02d}",
            },
            {
                "name": "Fleet chargers",
                "kind": "ev_charger",
                "control_channel": "ocpp",
                "rated_kw": d("44"),
                "min_kw": d("6"),
                "max_kw": d("44"),
                "max_event_minutes": 180,
                "max_events_per_day": 2,
                "max_events_per_month": 40,
                "rebound_percent": d("100"),
                "channel_address": f"CP-BIZ-{n:02d}",
            },
            {
                "name": "Building battery",
                "kind": "battery",
                "control_channel": "mqtt",
                "rated_kw": d("50"),
                "max_kw": d("50"),
                "capacity_kwh": d("200"),
                "soc_min_percent": d("10"),
                "soc_max_percent": d("95"),
                "soc_percent": d("80"),
                "max_events_per_day": 2,
                "max_events_per_month": 40,
            },
        ]
    return [
        {"name": "Process line", "kind": "industrial_process", "control_channel": "openadr_ven", "rated_kw": d("900"),
         "min_kw": d("350"), "max_kw": d("900"), "ramp_kw_per_min": d("25"), "min_event_minutes": 30,
         "max_event_minutes": 240, "notice_minutes": 120, "max_events_per_day": 1, "max_events_per_month": 8,
         "rebound_percent": d("60"), "rebound_minutes": 240, "channel_address": f"ven-plant-{n:02d}"},
        {"name": "Site battery", "kind": "battery", "control_channel": "mqtt", "rated_kw": d("250"),
         "max_kw": d("250"), "ramp_kw_per_min": d("250"), "capacity_kwh": d("500"), "soc_min_percent": d("10"),
         "soc_max_percent": d("95"), "soc_percent": d("70"), "max_events_per_day": 2, "max_events_per_month": 40},
    ]  # fmt: skip


@dataclass
class DeviceSimulation:
    fleet: object | None = None
    listener: object | None = None
    collector: object | None = None
    note: str = ""


def devices_simulate_start(world: World) -> DeviceSimulation:
    """Connect the device simulator (``activation.simulator.DeviceFleet``: every premise's devices on one MQTT
    connection, a share of non-responders and partial responders) and the platform's ack/telemetry listener
    to the broker at MQTT_HOST:MQTT_PORT before the day's events are dispatched. No broker: skipped, and the
    summary says so (the commands wait in the outbox)."""

    from activation.protocols.mqtt import BrokerUnavailable, MqttListener, broker_reachable
    from activation.protocols.mqtt_wire import WireError
    from activation.selectors import registry_device_specs
    from activation.simulator import AckCollector, DeviceFleet

    where = f"{settings.MQTT_HOST}:{settings.MQTT_PORT}"
    if not broker_reachable():
        return DeviceSimulation(
            note=f"no MQTT broker at {where}: device simulator skipped, commands kept in the outbox"
        )
    specs = registry_device_specs(premises=world.premises, draw_share=0.7)
    fleet = DeviceFleet.from_seed(specs, host=settings.MQTT_HOST, port=settings.MQTT_PORT, ramp_seconds=0)
    try:
        fleet.start()
        collector = AckCollector()
        listener = MqttListener(on_ack=collector.on_ack, on_telemetry=collector.on_telemetry).start()
    except (BrokerUnavailable, WireError, OSError) as exc:
        fleet.stop()
        return DeviceSimulation(note=f"MQTT broker at {where} refused ({exc}): device simulator skipped")
    return DeviceSimulation(fleet=fleet, listener=listener, collector=collector, note=where)


def devices_simulate_finish(simulation: DeviceSimulation) -> str:
    """Publish what is still in the outbox, record the simulated devices' acks and one round of their telemetry
    through the services, disconnect; returns the summary line."""
    from time import monotonic

    from activation.services import outbox_flush
    from activation.simulator import apply_messages

    if simulation.fleet is None:
        return simulation.note
    fleet, collector = simulation.fleet, simulation.collector
    totals = {"acks": 0, "telemetry": 0}

    def pump(seconds: float) -> None:  # until nothing new for 1 s
        deadline, quiet = monotonic() + seconds, monotonic()
        while monotonic() < deadline and monotonic() - quiet < 1.0:
            got = apply_messages(collector.drain(timeout=0.2))
            if got["acks"] or got["telemetry"]:
                quiet = monotonic()
            totals["acks"] += got["acks"]
            totals["telemetry"] += got["telemetry"]

    try:
        outbox_flush()
        pump(10)
        fleet.report_telemetry()
        pump(5)
    finally:
        simulation.listener.stop()
        fleet.stop()
    received = sum(map(len, fleet.received.values()))
    return (
        f"{received} commands received by simulated devices over MQTT ({simulation.note}), "
        f"{totals['acks']} acknowledged, {totals['telemetry']} telemetry readings recorded"
    )
