"""Device command translation: an event's kW reduction becomes each device's command within its capabilities.

Pure code over plain dataclasses (no ORM). ``DeviceCapability`` is the seam for the accounts device registry:
today ``activation.selectors.premise_devices`` builds it from the premise's segment defaults (below); once the
registry lands it builds the same dataclass from the registered devices.

Commands, by kind (each stays inside the device's controllable range and its comfort limits):

* thermostat  -> ``SETPOINT_OFFSET`` °C (0 < offset <= comfort_max_offset_c), shed = offset x kw_per_unit
* ev_charger  -> ``CHARGE_LIMIT_KW`` (limit >= comfort_min_kw, the minimum charging power the owner keeps)
* water_heater-> ``OFF`` for at most comfort_max_off_minutes, shed = rated kW
* battery     -> ``DISCHARGE_KW`` up to rated kW
* process     -> ``PROCESS_SETPOINT_DELTA`` (<= comfort_max_offset_c units), shed = delta x kw_per_unit

Devices are filled in merit order (battery, water heater, EV, thermostat, process: least comfort impact first)
until the requested reduction is reached; the total never exceeds ``safety_max_kw``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal

KW = Decimal("0.001")
ORDER = ["battery", "water_heater", "ev_charger", "thermostat", "process"]


@dataclass(frozen=True)
class DeviceCapability:
    device_id: str
    kind: str  # thermostat | ev_charger | water_heater | battery | process
    rated_kw: Decimal
    min_kw: Decimal = Decimal("0")  # lowest controllable draw
    kw_per_unit: Decimal = Decimal("0")  # thermostat/process: kW shed per °C (or setpoint unit)
    comfort_max_offset_c: Decimal = Decimal("0")
    comfort_min_kw: Decimal = Decimal("0")
    comfort_max_off_minutes: int = 0
    channel: str = "mqtt"


@dataclass(frozen=True)
class DeviceCommand:
    device_id: str
    kind: str
    command: str
    value: Decimal
    shed_kw: Decimal
    duration_minutes: int

    def as_payload(self) -> dict:
        return {
            "device_id": self.device_id,
            "kind": self.kind,
            "command": self.command,
            "value": str(self.value),
            "shed_kw": str(self.shed_kw),
            "duration_minutes": self.duration_minutes,
        }


SEGMENT_DEFAULTS: dict[str, list[dict]] = {
    # Typical controllable loads: US DOE/LBNL "Demand Response Potential" device assumptions, rounded.
    "residential": [
        {"kind": "thermostat", "rated_kw": "3.5", "kw_per_unit": "0.8", "comfort_max_offset_c": "2"},
        {"kind": "ev_charger", "rated_kw": "7.2", "min_kw": "1.4", "comfort_min_kw": "1.4"},
        {"kind": "water_heater", "rated_kw": "4.5", "comfort_max_off_minutes": 120},
        {"kind": "battery", "rated_kw": "5"},
    ],
    "commercial": [
        {"kind": "thermostat", "rated_kw": "60", "kw_per_unit": "9", "comfort_max_offset_c": "2"},
        {"kind": "battery", "rated_kw": "50"},
    ],
    "industrial": [
        {"kind": "process", "rated_kw": "400", "kw_per_unit": "20", "comfort_max_offset_c": "5"},
        {"kind": "battery", "rated_kw": "250"},
    ],
}


def segment_devices(*, prefix: str, segment: str) -> list[DeviceCapability]:
    out = []
    for spec in SEGMENT_DEFAULTS[segment]:
        kw = {k: Decimal(v) for k, v in spec.items() if k not in ("kind", "comfort_max_off_minutes")}
        out.append(
            DeviceCapability(
                device_id=f"{prefix}-{spec['kind']}",
                kind=spec["kind"],
                comfort_max_off_minutes=spec.get("comfort_max_off_minutes", 0),
                **kw,
            )
        )
    return out


def _max_shed(d: DeviceCapability, duration_minutes: int) -> Decimal:
    if d.kind in ("thermostat", "process"):
        return min(d.comfort_max_offset_c * d.kw_per_unit, d.rated_kw)
    if d.kind == "ev_charger":
        return max(d.rated_kw - max(d.min_kw, d.comfort_min_kw), Decimal("0"))
    if d.kind == "water_heater":
        return d.rated_kw if d.comfort_max_off_minutes > 0 else Decimal("0")
    if d.kind == "battery":
        return d.rated_kw
    return Decimal("0")


def _command(d: DeviceCapability, want: Decimal, duration_minutes: int) -> DeviceCommand | None:
    cap = _max_shed(d, duration_minutes)
    want = min(want, cap)
    if want <= 0:
        return None
    if d.kind in ("thermostat", "process"):
        # Whole-step offsets (0.5 °C) rounded up to meet the need, never past the comfort limit.
        step = Decimal("0.5")
        units = ((want / d.kw_per_unit) / step).to_integral_value(rounding=ROUND_UP) * step
        units = min(units, d.comfort_max_offset_c)
        name = "SETPOINT_OFFSET" if d.kind == "thermostat" else "PROCESS_SETPOINT_DELTA"
        shed = min(units * d.kw_per_unit, d.rated_kw).quantize(KW)
        return DeviceCommand(d.device_id, d.kind, name, units, shed, duration_minutes)
    if d.kind == "ev_charger":
        limit = max(d.rated_kw - want, d.min_kw, d.comfort_min_kw).quantize(KW, rounding=ROUND_DOWN)
        return DeviceCommand(
            d.device_id, d.kind, "CHARGE_LIMIT_KW", limit, (d.rated_kw - limit).quantize(KW), duration_minutes
        )
    if d.kind == "water_heater":
        minutes = min(duration_minutes, d.comfort_max_off_minutes)
        return DeviceCommand(d.device_id, d.kind, "OFF", Decimal(minutes), d.rated_kw.quantize(KW), minutes)
    if d.kind == "battery":
        return DeviceCommand(
            d.device_id, d.kind, "DISCHARGE_KW", want.quantize(KW), want.quantize(KW), duration_minutes
        )
    return None


def translate(
    *,
    devices: list[DeviceCapability],
    reduction_kw: Decimal,
    duration_minutes: int,
    safety_max_kw: Decimal | None = None,
) -> list[DeviceCommand]:
    """Commands for ``devices`` reaching ``reduction_kw`` (capped at ``safety_max_kw``), comfort limits kept."""
    need = reduction_kw if safety_max_kw is None else min(reduction_kw, safety_max_kw)
    commands: list[DeviceCommand] = []
    total = Decimal("0")
    for d in sorted(devices, key=lambda x: (ORDER.index(x.kind) if x.kind in ORDER else 99, x.device_id)):
        remaining = need - total
        if remaining <= 0:
            break
        cmd = _command(d, remaining, duration_minutes)
        if cmd is None:
            continue
        if safety_max_kw is not None and total + cmd.shed_kw > safety_max_kw:
            # A discrete step would overshoot the safety limit: skip this device.
            continue
        commands.append(cmd)
        total += cmd.shed_kw
    return commands
