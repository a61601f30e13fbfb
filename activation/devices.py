"""The dispatch allocation rule: an event's kW reduction split over the premise's registered devices, each
command within the device's controllable kW and comfort limits (ADR 0029).

Pure code over :class:`accounts.selectors.devices.ControllableDevice` (the one device selector; the kinds are
``accounts.Device.Kind``). The rule, in order:

1. only usable devices take part (kW > 0 for the window: capability, comfort band, state of charge, event
   duration, notice and event budget already applied by the selector; manual devices and PV inverters count 0);
2. devices are taken in merit order, least comfort impact first: battery, water heater, pool pump, EV charger,
   HVAC, industrial process (ties by device id);
3. each device is asked for the remainder, never more than its kW; a device whose command comes in discrete
   steps (a water heater or pool pump is switched off whole; a thermostat moves in 0.5 °C steps) may overshoot
   the remainder by at most its step, unless that would pass the enrollment's safety limit, in which case it is
   skipped;
4. the sum never exceeds the safety limit (``safety_max_kw``); the target may stay unmet when the devices can
   not reach it (what was commanded is what delivery is measured against, ``activation.services.verification``).

Commands, by kind (each stays inside the device's controllable range and the owner's comfort limits):

* hvac               -> ``SETPOINT_OFFSET`` °C, 0.5 °C steps, never past ``comfort_max_c - setpoint_c`` (nor the
  2 °C of a full shed, ``accounts.capability.HVAC_FULL_SHED_C``); shed = offset / 2 °C x controllable range
* ev_charger         -> ``CHARGE_LIMIT_KW`` (limit >= min_kw, the charging power the owner keeps); OCPP:
  a SetChargingProfile with that limit for the event window
* water_heater       -> ``OFF`` for the event (at most its max event minutes)
* pool_pump          -> ``OFF`` for the event
* battery            -> ``DISCHARGE_KW``
* industrial_process -> ``LOAD_LIMIT_KW`` (limit >= min_kw)
"""

from __future__ import annotations

import json
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from json.encoder import encode_basestring_ascii
from typing import NamedTuple

from accounts.capability import HVAC_FULL_SHED_C
from accounts.selectors.devices import ControllableDevice

KW = Decimal("0.001")
ORDER = ["battery", "water_heater", "pool_pump", "ev_charger", "hvac", "industrial_process"]
_RANK = {kind: i for i, kind in enumerate(ORDER)}  # merit order position by kind (99: any other kind, last)
STEP_C = Decimal("0.5")
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))


class CommandOutsideLimits(ValueError):
    """A command that would pass a device's comfort or event limits (never sent)."""


class DeviceCommand(NamedTuple):
    """One device's command for one event: immutable plain data, a named tuple (10,000 per emergency call: a third of
    the cost of building a frozen dataclass, ADR 0053)."""

    device_id: str
    kind: str
    command: str
    value: Decimal
    shed_kw: Decimal
    duration_minutes: int
    channel: str = "mqtt"
    device_pk: int | None = None
    address: str = ""

    def as_payload(self) -> dict:
        return {
            "device_id": self.device_id,
            "kind": self.kind,
            "channel": self.channel,
            "command": self.command,
            "value": str(self.value),
            "shed_kw": str(self.shed_kw),
            "duration_minutes": self.duration_minutes,
        }

    def as_payload_json(self) -> str:
        """:meth:`as_payload` as compact JSON text, exactly what ``json.dumps(self.as_payload(), separators=(",",
        ":"))`` writes (strings through the encoder's own ``encode_basestring_ascii``), built without the dict:
        10,000 per emergency call (test_devices compares the two)."""
        if type(self.duration_minutes) is not int:  # the encoder's own path for anything but a plain int
            return _COMPACT_JSON.encode(self.as_payload())
        q = encode_basestring_ascii
        return (
            f'{{"device_id":{q(self.device_id)},"kind":{q(self.kind)},"channel":{q(self.channel)},'
            f'"command":{q(self.command)},"value":{q(str(self.value))},"shed_kw":{q(str(self.shed_kw))},'
            f'"duration_minutes":{int.__repr__(self.duration_minutes)}}}'
        )


def command_check(device: ControllableDevice, command: DeviceCommand) -> None:
    """Refuse a command beyond the device's limits: more than its controllable kW for the window (one step of
    overshoot allowed for switched devices), a setpoint past the comfort band, a charge/load limit below the
    device's minimum, a duration past its maximum event length."""
    if command.duration_minutes > device.max_event_minutes:
        raise CommandOutsideLimits(f"{device.ref}: {command.duration_minutes} min > {device.max_event_minutes} min")
    if not device.usable:
        raise CommandOutsideLimits(f"{device.ref}: not usable for this event")
    if command.command == "SETPOINT_OFFSET":
        headroom = (device.comfort_max_c or Decimal(0)) - (device.setpoint_c or Decimal(0))
        if command.value > headroom or command.value > HVAC_FULL_SHED_C or command.value <= 0:
            raise CommandOutsideLimits(f"{device.ref}: offset {command.value} °C outside the comfort band")
    elif command.command in ("CHARGE_LIMIT_KW", "LOAD_LIMIT_KW"):
        if command.value < device.min_kw:
            raise CommandOutsideLimits(f"{device.ref}: limit {command.value} kW below the device's {device.min_kw}")
    elif command.shed_kw > device.kw:
        raise CommandOutsideLimits(f"{device.ref}: {command.shed_kw} kW above its {device.kw} kW")


def _command(d: ControllableDevice, want: Decimal, minutes: int) -> DeviceCommand | None:
    want = min(want, d.kw)
    if want <= 0:
        return None
    minutes = min(minutes, d.max_event_minutes)
    kind = d.kind
    if kind == "hvac":
        span = d.max_kw - d.min_kw
        per_c = span / HVAC_FULL_SHED_C
        headroom = min((d.comfort_max_c or Decimal(0)) - (d.setpoint_c or Decimal(0)), HVAC_FULL_SHED_C)
        steps = ((want / per_c) / STEP_C).to_integral_value(rounding=ROUND_UP)
        offset = min(steps * STEP_C, (headroom / STEP_C).to_integral_value(rounding=ROUND_DOWN) * STEP_C)
        if offset <= 0:
            return None
        command, value, shed = "SETPOINT_OFFSET", offset, min(offset * per_c, d.kw).quantize(KW, rounding=ROUND_DOWN)
    elif kind in ("ev_charger", "industrial_process"):
        limit = max(d.max_kw - want, d.min_kw).quantize(KW, rounding=ROUND_UP)
        command = "CHARGE_LIMIT_KW" if kind == "ev_charger" else "LOAD_LIMIT_KW"
        value, shed = limit, min(d.max_kw - limit, d.kw).quantize(KW, rounding=ROUND_DOWN)
    elif kind in ("water_heater", "pool_pump"):
        command, value, shed = "OFF", Decimal(minutes), d.kw
    elif kind == "battery":
        command = "DISCHARGE_KW"
        value = shed = want.quantize(KW, rounding=ROUND_DOWN)
    else:
        return None
    # Positional, in the field order: device_id, kind, command, value, shed_kw, duration_minutes, channel,
    # device_pk, address (keyword arguments cost more than the construction, 10,000 times per emergency call).
    return DeviceCommand(d.ref, kind, command, value, shed, minutes, d.channel, d.pk, d.address)


def translate(
    *,
    devices: list[ControllableDevice],
    reduction_kw: Decimal,
    duration_minutes: int,
    safety_max_kw: Decimal | None = None,
) -> list[DeviceCommand]:
    """Commands for ``devices`` reaching ``reduction_kw`` (capped at ``safety_max_kw``) by the rule above."""
    need = reduction_kw if safety_max_kw is None else min(reduction_kw, safety_max_kw)
    commands: list[DeviceCommand] = []
    total = Decimal("0")
    usable = [d for d in devices if d.usable]
    for d in sorted(usable, key=lambda x: (_RANK.get(x.kind, 99), x.pk)):
        remaining = need - total
        if remaining <= 0:
            break
        cmd = _command(d, remaining, duration_minutes)
        if cmd is None or cmd.shed_kw <= 0:
            continue
        if safety_max_kw is not None and total + cmd.shed_kw > safety_max_kw:
            continue  # a discrete step would pass the safety limit
        command_check(d, cmd)
        commands.append(cmd)
        total += cmd.shed_kw
    return commands
