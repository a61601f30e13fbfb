"""Reading OpenADR 3 reports as interval energy: the VEN-reported usage and baseline that verification uses where
meter data is missing (or the resource has no meter).

OpenADR 3.0.1 ``report`` (OpenADR Alliance OpenAPI definition and User Guide): ``resources[]`` each with an
optional ``intervalPeriod`` {start, duration} and ``intervals[]`` of {id, intervalPeriod?, payloads[{type,
values}]}. An interval without its own intervalPeriod follows the resource's: the k-th interval in the list starts
at ``start + k x duration`` (``id`` is not a sequence number). Payload types read here, with the units of the
report's ``payloadDescriptors`` (defaults in brackets):

* ``USAGE`` energy used in the interval [KWH]; ``WH``/``MWH`` are converted;
* ``DEMAND`` average power over the interval [KW] (``W``/``MW`` converted), energy = power x interval hours;
* ``BASELINE`` the resource's baseline for the interval, energy [KWH] or power when its units are a power.

Pure code: plain dicts in, dataclasses out, no database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from . import openadr_spec

ENERGY = {"KWH": Decimal("1"), "WH": Decimal("0.001"), "MWH": Decimal("1000")}
POWER = {"KW": Decimal("1"), "W": Decimal("0.001"), "MW": Decimal("1000")}
DEFAULT_UNITS = {"USAGE": "KWH", "DEMAND": "KW", "BASELINE": "KWH"}
KWH = Decimal("0.0001")


@dataclass(frozen=True)
class Reading:
    """One reported interval of one resource, in kWh."""

    resource_name: str
    start: datetime
    end: datetime
    usage_kwh: Decimal | None
    baseline_kwh: Decimal | None


def parse_duration(value: str | None) -> timedelta:
    """ISO 8601 duration of fixed length (``PT15M``, ``PT1H``, ``P1D``, ``P1W``, ``PT0S``;
    ``activation.openadr_spec``); years and months have none and are refused here."""
    return openadr_spec.parse_duration(value).timedelta()


def parse_datetime(value: str | None) -> datetime:
    return openadr_spec.parse_datetime(value)


def window_period(start: datetime, end: datetime) -> dict:
    """An event window as an OpenADR 3 intervalPeriod (one interval)."""
    return {"start": start.isoformat(), "duration": f"PT{int((end - start).total_seconds())}S"}


def _kwh(payload_type: str, units: str | None, value, hours: Decimal) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{payload_type} value {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"{payload_type} value {value!r}")
    units = (units or DEFAULT_UNITS[payload_type]).upper()
    if units in ENERGY:
        return number * ENERGY[units]
    if units in POWER:
        return number * POWER[units] * hours
    raise ValueError(f"{payload_type} units {units!r}")


def report_readings(
    *, resources: list, payload_descriptors: list | None, default_period: dict | None = None
) -> list[Reading]:
    """Every interval of the report that carries USAGE, DEMAND or BASELINE, in kWh. ``default_period`` is the
    event's intervalPeriod, which applies where neither the resource nor the interval gives one. Raises ValueError
    for an interval it cannot place in time or a value it cannot read; intervals with other payloads are
    skipped."""
    units = {
        d.get("payloadType"): d.get("units")
        for d in payload_descriptors or []
        if isinstance(d, dict) and d.get("payloadType") in DEFAULT_UNITS
    }
    out: list[Reading] = []
    for resource in resources or []:
        period = resource.get("intervalPeriod") or default_period or {}
        for k, interval in enumerate(resource.get("intervals") or []):
            payloads = {
                p.get("type"): p.get("values") for p in interval.get("payloads") or [] if p.get("type") in DEFAULT_UNITS
            }
            if not payloads:
                continue
            own = interval.get("intervalPeriod") or {}
            duration = parse_duration(own.get("duration") or period.get("duration"))
            if duration <= timedelta(0):
                raise ValueError("interval duration must be positive")
            if own.get("start"):
                start = parse_datetime(own["start"])
            else:
                start = parse_datetime(period.get("start")) + k * duration
            hours = Decimal(duration.total_seconds()) / Decimal(3600)
            values = {}
            for ptype, vals in payloads.items():
                if not isinstance(vals, list) or len(vals) != 1:
                    raise ValueError(f"{ptype} needs one value per interval")
                values[ptype] = _kwh(ptype, units.get(ptype), vals[0], hours)
            usage = values.get("USAGE", values.get("DEMAND"))
            out.append(
                Reading(
                    resource_name=str(resource.get("resourceName")),
                    start=start,
                    end=start + duration,
                    usage_kwh=usage,
                    baseline_kwh=values.get("BASELINE"),
                )
            )
    return out


@dataclass(frozen=True)
class GridValue:
    usage_kwh: Decimal | None
    baseline_kwh: Decimal | None


def on_grid(
    readings_by_resource: dict[str, Iterable[Reading]], starts: list[datetime], minutes: int
) -> dict[datetime, GridValue]:
    """The reported energy on the verification grid ``[s, s + minutes)``: per resource, the readings inside the
    interval must tile it exactly (finer readings are summed; a reading spanning several grid intervals is not
    split); the premise's value is the sum over its reporting resources, and an interval counts only when every
    reporting resource covers it. Later readings for the same resource and start replace earlier ones (pass
    them in posting order)."""
    step = timedelta(minutes=minutes)
    per_resource: dict[str, dict[datetime, GridValue]] = {}
    for name, readings in readings_by_resource.items():
        latest: dict[tuple[datetime, datetime], Reading] = {}
        for r in readings:
            latest[(r.start, r.end)] = r
        grid: dict[datetime, GridValue] = {}
        for s in starts:
            inside = sorted((r for r in latest.values() if s <= r.start and r.end <= s + step), key=lambda r: r.start)
            t, ok = s, bool(inside)
            for r in inside:
                if r.start != t:
                    ok = False
                    break
                t = r.end
            if not ok or t != s + step:
                continue
            usage = [r.usage_kwh for r in inside]
            base = [r.baseline_kwh for r in inside]
            grid[s] = GridValue(
                usage_kwh=sum(usage, Decimal("0")).quantize(KWH) if None not in usage else None,
                baseline_kwh=sum(base, Decimal("0")).quantize(KWH) if None not in base else None,
            )
        per_resource[name] = grid
    out: dict[datetime, GridValue] = {}
    for s in starts:
        values = [g.get(s) for g in per_resource.values()]
        if not values or None in values:
            continue
        usage = [v.usage_kwh for v in values]
        base = [v.baseline_kwh for v in values]
        out[s] = GridValue(
            usage_kwh=sum(usage, Decimal("0")) if None not in usage else None,
            baseline_kwh=sum(base, Decimal("0")) if None not in base else None,
        )
    return out


def common_minutes(readings: Iterable[Reading]) -> int | None:
    """The most common reported interval length in whole minutes (the grid for a resource without a meter)."""
    counts: dict[int, int] = {}
    for r in readings:
        seconds = int((r.end - r.start).total_seconds())
        if seconds % 60 == 0:
            counts[seconds // 60] = counts.get(seconds // 60, 0) + 1
    return max(counts, key=lambda m: (counts[m], -m)) if counts else None
