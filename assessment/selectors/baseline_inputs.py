"""What a baseline is computed from: the meter's readings as a day grid, the days excluded from it (event days,
outages), the outdoor temperature."""

from __future__ import annotations

from datetime import date

import numpy as np
from django.db import connection

from accounts.models import Meter

from .. import hooks
from ..baselines.grid import DayGrid, build_grid, local_day_bounds
from ..models import MeterReading


def meter_day_grid(*, meter: Meter, first_day: date, last_day: date) -> DayGrid:
    """The meter's readings for local days ``first_day..last_day`` as a (days x slots) grid."""
    tz = meter.premise.timezone
    start, _ = local_day_bounds(first_day, tz)
    _, end = local_day_bounds(last_day, tz)
    if connection.vendor == "postgresql":
        # the starts as epoch seconds and the kWh as doubles computed by PostgreSQL: the same numbers (whole
        # seconds; numeric to double is correctly rounded, as Python's float(Decimal)) without a datetime and a
        # Decimal built per row, the bulk of the cost of reading 45 days of 15-minute readings
        with connection.cursor() as cur:
            cur.execute(
                f"SELECT extract(epoch FROM start)::bigint, kwh::float8 FROM {MeterReading._meta.db_table} "  # noqa: S608
                "WHERE meter_id = %s AND start >= %s AND start < %s",
                [meter.pk, start, end],
            )
            rows = cur.fetchall()
        epoch = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        kwh = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
    else:
        rows = list(
            MeterReading.objects.filter(meter=meter, start__gte=start, start__lt=end).values_list("start", "kwh")
        )
        epoch = np.array([int(s.timestamp()) for s, _ in rows], dtype=np.int64)
        kwh = np.array([float(k) for _, k in rows], dtype=np.float64)
    return build_grid(
        epoch=epoch, kwh=kwh, tz=tz, interval_minutes=meter.interval_minutes, first_day=first_day, last_day=last_day
    )


def outage_days(grid: DayGrid) -> set[date]:
    """Days the meter read but recorded no load at all (supply outage): excluded like event days."""
    vals = grid.values
    read = ~np.isnan(vals)
    zero = read.any(axis=1) & (np.where(read, vals, 0.0).sum(axis=1) == 0)
    return {d for d, z in zip(grid.days, zero, strict=True) if z}


def baseline_excluded_days(*, meter: Meter, grid: DayGrid, before: date) -> set[date]:
    """Event days of the premise and outage days (NERC holidays are handled by day type)."""
    events = hooks.activation().event_days(premise_id=meter.premise_id, tz=meter.premise.timezone)
    return {d for d in events if d < before} | outage_days(grid)


def temperature_grid(*, meter: Meter, grid: DayGrid):
    """Outdoor temperature (°C) per grid cell at the premise, through the weather source interface
    (:mod:`assessment.weather.sources`: the nearest station's observations), or None when no source has data."""
    from ..weather.sources import temperatures_for

    return temperatures_for(meter=meter, grid=grid)
