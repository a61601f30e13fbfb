"""Capability assessment: the controllable kW the platform counts for one device, and why (plain data).

The kW counted is the *load reduction* the device can hold for a whole event. Start from the declared
controllable range (``max_kw - min_kw``, never above the rating), then apply, in order, the limits that
apply to the device (each adds a reason, so the owner sees how the number came about):

- control: a manually controlled device is not dispatchable and counts 0 kW (its response, if any, shows at
  the meter); a PV inverter can only curtail generation, which raises net load, so counts 0 kW of reduction;
- event fit: an event shorter than the device's minimum or longer than its maximum, a notice shorter than it
  needs, or its daily/monthly event budget spent -> 0 kW;
- ramp: the kW reachable within the response time (15 minutes, one settlement interval) at its ramp rate;
- battery (discharge to cover site load): the energy between the state of charge and its lower limit,
  spread over the event (``capacity x (SoC - SoC_min) / event hours``); an unknown SoC counts as SoC_min;
- HVAC / thermostat: the setpoint may move up to the edge of the comfort band; a full shed needs 2 °C of
  headroom (a common thermostat-program offset, e.g. the 2-4 °F offsets of utility smart-thermostat DR
  programmes), less headroom counts proportionally, none counts 0;
- water heater: the tank may coast down to the comfort minimum; a full shed needs 5 °C of headroom above it,
  less counts proportionally.

Rebound is reported (kWh consumed after the event), not deducted from the kW.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

RESPONSE_MINUTES = Decimal(15)
HVAC_FULL_SHED_C = Decimal(2)
WATER_HEATER_FULL_SHED_C = Decimal(5)
KW = Decimal("0.001")


@dataclass(frozen=True)
class DeviceSpec:
    kind: str
    control_channel: str
    rated_kw: Decimal
    min_kw: Decimal
    max_kw: Decimal
    ramp_kw_per_min: Decimal | None = None
    min_event_minutes: int = 15
    max_event_minutes: int = 240
    notice_minutes: int = 0
    max_events_per_day: int = 1
    max_events_per_month: int = 20
    rebound_percent: Decimal = Decimal(0)
    comfort_min_c: Decimal | None = None
    comfort_max_c: Decimal | None = None
    setpoint_c: Decimal | None = None
    capacity_kwh: Decimal | None = None
    soc_min_percent: Decimal | None = None
    soc_max_percent: Decimal | None = None
    soc_percent: Decimal | None = None

    @classmethod
    def of(cls, device) -> DeviceSpec:
        """From an ``accounts.Device`` (or anything with the same attributes)."""
        return cls(**{f: getattr(device, f) for f in cls.__dataclass_fields__})


@dataclass
class Capability:
    kw: Decimal
    reasons: list[str] = field(default_factory=list)
    rebound_kwh: Decimal = Decimal("0.000")


def _q(x: Decimal) -> Decimal:
    return max(x, Decimal(0)).quantize(KW, rounding=ROUND_DOWN)


def assess_device(
    spec: DeviceSpec | Any,
    *,
    event_minutes: int = 60,
    notice_minutes: int | None = None,
    events_today: int = 0,
    events_this_month: int = 0,
) -> Capability:
    """The kW of load reduction counted for ``spec`` over an event of ``event_minutes``. ``spec``: a
    :class:`DeviceSpec`, or anything with its attributes (an ``accounts.Device``, a device row); only read."""
    kw = min(spec.max_kw, spec.rated_kw) - spec.min_kw
    counted = _q(kw)  # ``_q(kw)``, taken again each time ``kw`` changes below (its last value is what is counted)
    reasons = [f"Controllable range {spec.min_kw}-{spec.max_kw} kW: up to {counted} kW of reduction."]

    def zero(why: str) -> Capability:
        return Capability(Decimal("0.000"), [*reasons, why])

    if spec.control_channel == "manual":
        return zero("Manual control: not dispatchable by the platform; counted as 0 kW.")
    if spec.kind == "pv_inverter":
        return zero("PV inverter: curtailing generation raises net load; no load reduction counted.")
    if not spec.min_event_minutes <= event_minutes <= spec.max_event_minutes:
        return zero(
            f"A {event_minutes}-minute event is outside the device's {spec.min_event_minutes}-"
            f"{spec.max_event_minutes} minutes."
        )
    if notice_minutes is not None and notice_minutes < spec.notice_minutes:
        return zero(f"{notice_minutes} minutes' notice; the device needs {spec.notice_minutes}.")
    if events_today >= spec.max_events_per_day:
        return zero(f"Its {spec.max_events_per_day} event(s) per day are used.")
    if events_this_month >= spec.max_events_per_month:
        return zero(f"Its {spec.max_events_per_month} event(s) per month are used.")

    if spec.ramp_kw_per_min is not None and spec.ramp_kw_per_min > 0:
        reachable = spec.ramp_kw_per_min * RESPONSE_MINUTES
        if reachable < kw:
            kw = reachable
            counted = _q(kw)
            reasons.append(
                f"Ramp {spec.ramp_kw_per_min} kW/min reaches {counted} kW within the {RESPONSE_MINUTES}-minute response."
            )

    hours = Decimal(event_minutes) / Decimal(60)
    if spec.kind == "battery":
        if spec.capacity_kwh is None or spec.soc_min_percent is None:
            return zero("Battery without capacity and SoC limits: counted as 0 kW.")
        soc = spec.soc_percent if spec.soc_percent is not None else spec.soc_min_percent
        energy = spec.capacity_kwh * max(soc - spec.soc_min_percent, Decimal(0)) / 100
        sustained = energy / hours
        if sustained < kw:
            kw = sustained
            counted = _q(kw)
            reasons.append(
                f"State of charge {soc}% with a {spec.soc_min_percent}% floor leaves {_q(energy)} kWh: "
                f"{counted} kW over {event_minutes} minutes."
            )
    elif spec.kind == "hvac":
        if spec.setpoint_c is None or spec.comfort_max_c is None:
            return zero("Thermostat without setpoint and comfort limit: counted as 0 kW.")
        headroom = spec.comfort_max_c - spec.setpoint_c
        share = min(max(headroom / HVAC_FULL_SHED_C, Decimal(0)), Decimal(1))
        if share < 1:
            kw = kw * share
            counted = _q(kw)
            reasons.append(
                f"Setpoint {spec.setpoint_c} °C, comfort limit {spec.comfort_max_c} °C: {headroom} °C of the "
                f"{HVAC_FULL_SHED_C} °C a full shed needs; {counted} kW."
            )
        else:
            reasons.append(f"Comfort band allows a {HVAC_FULL_SHED_C} °C setpoint offset: full shed.")
    elif spec.kind == "water_heater":
        if spec.setpoint_c is None or spec.comfort_min_c is None:
            return zero("Water heater without setpoint and comfort minimum: counted as 0 kW.")
        headroom = spec.setpoint_c - spec.comfort_min_c
        share = min(max(headroom / WATER_HEATER_FULL_SHED_C, Decimal(0)), Decimal(1))
        if share < 1:
            kw = kw * share
            counted = _q(kw)
            reasons.append(
                f"Tank at {spec.setpoint_c} °C may coast to {spec.comfort_min_c} °C: {headroom} °C of the "
                f"{WATER_HEATER_FULL_SHED_C} °C a full shed needs; {counted} kW."
            )

    kw = counted
    rebound = (kw * hours * spec.rebound_percent / 100).quantize(KW, rounding=ROUND_DOWN)
    if rebound:
        reasons.append(f"Expect {rebound} kWh of rebound after the event ({spec.rebound_percent}%).")
    reasons.append(f"Counted: {kw} kW.")
    return Capability(kw, reasons, rebound)
