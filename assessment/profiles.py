"""A premise's flexibility profile from its meter's day grid: availability scores per hour of the week, seasonal
profiles, peak shaving and load shift (:mod:`assessment.flexibility`), with the devices of its registry (ADR 0029).
Stored by :func:`flexibility_profile_store`, which both the per-premise service
(``services.flexibility_profile_compute``) and the nightly recompute of a chunk of meters (``assessment.recompute``,
grids read set-based) call."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

import numpy as np
from django.db import transaction
from django.utils import timezone

from accounts.models import Meter, Premise

from . import selectors
from .baselines.grid import DayGrid
from .device_capacity import premise_device_capacity
from .flexibility import availability_scores, load_shift_kwh, peak_shaving_kw, seasonal_profiles
from .models import FlexibilityProfile

PEAK_HOURS = (16, 21)  # system peak, local hours [16:00, 21:00)


def _d3(value: float) -> Decimal:
    return Decimal(repr(float(value))).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


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
    ``reliability_factor``: the premise's (``selectors.reliability_factor_for``), when the caller read it already."""
    sph = 60 // meter.interval_minutes
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
    # The flexible share of the typical demand is what the registered devices can shed (ADR 0029).
    now_ = now or timezone.now()
    devices_kw = float(premise_device_capacity(premise=premise, start=now_, end=now_ + timedelta(hours=1)).kw)
    share = min(devices_kw / typical_kw, 1.0) if typical_kw > 0 else 0.0
    devices = selectors.device_constraints_for(premise=premise, typical_kw=typical_kw)
    if reliability_factor is None:
        reliability_factor = selectors.reliability_factor_for(premise=premise)
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
    profile, _ = FlexibilityProfile.objects.update_or_create(
        premise=premise,
        as_of=as_of,
        defaults={
            "availability_scores": [int(x) for x in scores],
            "seasonal": seasonal,
            "peak_shaving_kw": _d3(peak_kw),
            "load_shift_kwh": _d3(shift),
            "reliability_factor": Decimal(repr(reliability)).quantize(Decimal("0.0001"), rounding=ROUND_DOWN),
            "score": score,
            "drivers": drivers,
            "computed_at": now or timezone.now(),
        },
    )
    return profile
