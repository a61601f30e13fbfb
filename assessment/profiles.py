"""A premise's flexibility profile from its meter's day grid: availability scores per hour of the week, seasonal
profiles, peak shaving and load shift (:mod:`assessment.flexibility`), with the devices of its registry (ADR 0029).
Stored by :func:`flexibility_profile_store`, which both the per-premise service
(``services.flexibility_profile_compute``) and the nightly recompute of a chunk of meters (``assessment.recompute``,
grids read set-based) call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

import numpy as np
from django.db import transaction
from django.utils import timezone

from accounts.models import Meter, Premise
from accounts.selectors.devices import devices_by_premise

from . import selectors
from .baselines.grid import DayGrid
from .device_capacity import premise_device_capacity, premises_device_capacity
from .flexibility import availability_scores, load_shift_kwh, peak_shaving_kw, seasonal_profiles
from .models import FlexibilityProfile

PEAK_HOURS = (16, 21)  # system peak, local hours [16:00, 21:00)


def _d3(value: float) -> Decimal:
    return Decimal(repr(float(value))).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class _Load:
    """A grid's kept days (not excluded, with a reading) as hourly kW, and their hours of the week."""

    days: list[date]
    hourly_kw: np.ndarray  # (days, 24)
    how: np.ndarray  # (days, 24) hour of the week, Monday 00:00 = 0
    typical_kw: float


def _load(grid: DayGrid, excluded: set[date], interval_minutes: int) -> _Load | None:
    sph = 60 // interval_minutes
    read = ~np.isnan(grid.values)
    if not read.any():
        return None
    keep_days = np.array([d not in excluded for d in grid.days]) & read.any(axis=1)
    days = [d for d, k in zip(grid.days, keep_days, strict=True) if k]
    blocks = grid.values[keep_days].reshape(len(days), 24, sph)
    with np.errstate(invalid="ignore"):
        hourly_kw = np.where(np.isnan(blocks).all(axis=-1), np.nan, np.nansum(blocks, axis=-1))  # kWh per hour = kW
    how = np.array([[d.weekday() * 24 + h for h in range(24)] for d in days])
    typical_kw = float(np.nanmean(hourly_kw)) if np.isfinite(hourly_kw).any() else 0.0
    return _Load(days, hourly_kw, how, typical_kw)


def _profile_fields(
    load: _Load, *, grid: DayGrid, excluded: set[date], devices_kw: float, devices, reliability_factor: Decimal, now
) -> dict:
    """The stored profile's fields from the premise's load, its devices' sellable kW (``devices_kw``) and
    constraints (``devices``) and its reliability factor."""
    days, hourly_kw, how, typical_kw = load.days, load.hourly_kw, load.how, load.typical_kw
    # The flexible share of the typical demand is what the registered devices can shed (ADR 0029).
    share = min(devices_kw / typical_kw, 1.0) if typical_kw > 0 else 0.0
    reliability = float(reliability_factor)
    device_factor = (
        sum(d.power_kw for d in devices if d.available) / max(sum(d.power_kw for d in devices), 1e-9)
        if devices
        else 0.0
    )
    scores = availability_scores(
        hourly_kw.ravel(), how.ravel(), flexible_share=share, device_factor=device_factor, reliability=reliability
    )
    weekday_rows = [i for i, d in enumerate(days) if d.weekday() < 5]
    peak = slice(*PEAK_HOURS)
    with np.errstate(invalid="ignore"):
        peak_load = (
            np.nanmean(hourly_kw[weekday_rows, peak], axis=0)
            if weekday_rows
            else np.zeros(PEAK_HOURS[1] - PEAK_HOURS[0])
        )
    peak_load = np.nan_to_num(peak_load)
    peak_kw = peak_shaving_kw(peak_load, devices, peak_hours=PEAK_HOURS[1] - PEAK_HOURS[0])
    # Shift out of the peak window into the night (00:00-06:00): gap from 21:00 to 00:00 is 3 h.
    shift = load_shift_kwh(peak_load, 6.0, devices, interval_hours=1.0, gap_hours=3.0)
    seasonal = seasonal_profiles(hourly_kw, days, flexible_share=share, weekend=[d.weekday() >= 5 for d in days])
    peak_hours_of_week = [d * 24 + h for d in range(5) for h in range(*PEAK_HOURS)]
    score = int(round(float(np.mean(scores[peak_hours_of_week]))))
    drivers = {
        "flexible_share": share,
        "reliability_factor": reliability,
        "devices_online": device_factor,
        "typical_kw": round(typical_kw, 3),
        "history_days": len(days),
        "events_excluded": len([d for d in excluded if grid.index_of(d) is not None]),
        "device_source": "registry",
    }
    return {
        "availability_scores": [int(x) for x in scores],
        "seasonal": seasonal,
        "peak_shaving_kw": _d3(peak_kw),
        "load_shift_kwh": _d3(shift),
        "reliability_factor": Decimal(repr(reliability)).quantize(Decimal("0.0001"), rounding=ROUND_DOWN),
        "score": score,
        "drivers": drivers,
        "computed_at": now,
    }


@transaction.atomic
def flexibility_profile_store(
    *,
    premise: Premise,
    meter: Meter,
    grid: DayGrid,
    excluded: set[date],
    as_of: date,
    now: datetime | None = None,
    reliability_factor: Decimal | None = None,
) -> FlexibilityProfile | None:
    """The premise's profile as of ``as_of`` from ``grid`` (its first meter's days before ``as_of``) less the
    ``excluded`` days (events, outages), stored (one row per premise and day); None when the grid has no reading.
    ``reliability_factor``: the premise's (``selectors.reliability_factor_for``), when the caller read it already.
    The devices' capacity and the availability declarations are those current at ``now``."""
    load = _load(grid, excluded, meter.interval_minutes)
    if load is None:
        return None
    now = now or timezone.now()
    devices_kw = float(premise_device_capacity(premise=premise, start=now, end=now + timedelta(hours=1)).kw)
    devices = selectors.device_constraints_for(premise=premise, typical_kw=load.typical_kw, now=now)
    if reliability_factor is None:
        reliability_factor = selectors.reliability_factor_for(premise=premise)
    fields = _profile_fields(
        load, grid=grid, excluded=excluded, devices_kw=devices_kw, devices=devices,
        reliability_factor=reliability_factor, now=now,
    )  # fmt: skip
    profile, _ = FlexibilityProfile.objects.update_or_create(premise=premise, as_of=as_of, defaults=fields)
    return profile


@dataclass(frozen=True)
class ProfileInput:
    """One premise's profile to store (:func:`flexibility_profile_store`'s arguments)."""

    premise: Premise
    meter: Meter
    grid: DayGrid
    excluded: set[date]
    as_of: date
    reliability_factor: Decimal


def flexibility_profiles_store_many(*, inputs: list[ProfileInput], now: datetime) -> int:
    """:func:`flexibility_profile_store` for many premises (the nightly recompute's chunk): the devices, their
    event usage, the availability declarations and the capacity estimates read once for all (a fixed number of
    statements), the profiles written by one upsert on (premise, day). The same rows; returns how many were
    stored. A premise and day given twice is stored once (the last)."""
    loads = [(item, _load(item.grid, item.excluded, item.meter.interval_minutes)) for item in inputs]
    loads = [(item, load) for item, load in loads if load is not None]
    if not loads:
        return 0
    premises = list({item.premise.pk: item.premise for item, _ in loads}.values())
    ids = [p.pk for p in premises]
    devices = devices_by_premise(ids)
    capacity = premises_device_capacity(premises=premises, start=now, end=now + timedelta(hours=1), devices=devices)
    declared = selectors.declarations_current(premise_ids=ids, start=now, end=now + timedelta(minutes=1))
    rows: dict[tuple[int, date], FlexibilityProfile] = {}
    for item, load in loads:
        pk = item.premise.pk
        declaration = declared.get(pk)
        constraints = selectors.device_constraints_from(
            devices=[d for d in devices.get(pk, []) if d.active],
            segment=item.premise.segment,
            typical_kw=load.typical_kw,
            declared_soc=declaration.soc_percent if declaration is not None else None,
        )
        fields = _profile_fields(
            load, grid=item.grid, excluded=item.excluded, devices_kw=float(capacity[pk].kw), devices=constraints,
            reliability_factor=item.reliability_factor, now=now,
        )  # fmt: skip
        rows[(pk, item.as_of)] = FlexibilityProfile(premise_id=pk, as_of=item.as_of, **fields)
    FlexibilityProfile.objects.bulk_create(
        list(rows.values()),
        update_conflicts=True,
        unique_fields=["premise", "as_of"],
        update_fields=list(PROFILE_FIELDS),
    )
    return len(rows)


PROFILE_FIELDS = (
    "availability_scores",
    "seasonal",
    "peak_shaving_kw",
    "load_shift_kwh",
    "reliability_factor",
    "score",
    "drivers",
    "computed_at",
)
