"""What a baseline is computed from: the meter's readings as a day grid, the days excluded from it (event days,
outages), the outdoor temperature."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

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
    epoch, kwh = _readings_arrays(meter_id=meter.pk, start=start, end=end)
    return build_grid(
        epoch=epoch, kwh=kwh, tz=tz, interval_minutes=meter.interval_minutes, first_day=first_day, last_day=last_day
    )


def meter_day_grids(*, spans: Sequence[tuple[Meter, date, date]]) -> dict[int, DayGrid]:
    """:func:`meter_day_grid` of many meters (meter, first day, last day), their readings read in one statement
    on PostgreSQL (the same epoch seconds and ``kwh::float8`` values, one row of two arrays per meter)."""
    bounds = {}
    for meter, first_day, last_day in spans:
        tz = meter.premise.timezone
        bounds[meter.pk] = (local_day_bounds(first_day, tz)[0], local_day_bounds(last_day, tz)[1])
    arrays = meter_reading_arrays(bounds=bounds)
    empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
    return {
        meter.pk: build_grid(
            epoch=arrays.get(meter.pk, empty)[0],
            kwh=arrays.get(meter.pk, empty)[1],
            tz=meter.premise.timezone,
            interval_minutes=meter.interval_minutes,
            first_day=first_day,
            last_day=last_day,
        )
        for meter, first_day, last_day in spans
    }


def meter_reading_arrays(*, bounds: dict[int, tuple[datetime, datetime]]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """(epoch seconds, kWh as float) of each meter's readings in its ``[start, end)`` (meter id -> bounds), read in
    one statement on PostgreSQL (one row of two arrays per meter with readings; a meter without is left out)."""
    arrays: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if connection.vendor == "postgresql" and bounds:
        ids = sorted(bounds)
        with connection.cursor() as cursor:
            # One index range scan of (meter_id, start) per meter: the aggregate in a LATERAL subquery cannot be
            # flattened into a join of the ranges with the whole table, which the planner ran as a sequential scan
            # of every reading per chunk (6.9 s for 100 meters among 10,000; ADR 0041).
            cursor.execute(
                "SELECT q.meter_id, r.epochs, r.vals"  # noqa: S608
                " FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[]) AS q(meter_id, lo, hi)"
                " CROSS JOIN LATERAL (SELECT array_agg(EXTRACT(EPOCH FROM start)::bigint ORDER BY start) AS epochs,"
                f" array_agg(kwh::float8 ORDER BY start) AS vals FROM {MeterReading._meta.db_table}"
                " WHERE meter_id = q.meter_id AND start >= q.lo AND start < q.hi) AS r WHERE r.epochs IS NOT NULL",
                [ids, [bounds[i][0] for i in ids], [bounds[i][1] for i in ids]],
            )
            for meter_id, epochs, values in cursor.fetchall():
                arrays[meter_id] = (np.array(epochs, dtype=np.int64), np.array(values, dtype=np.float64))
    elif bounds:
        for meter_id, (start, end) in bounds.items():
            arrays[meter_id] = _readings_arrays(meter_id=meter_id, start=start, end=end)
    return arrays


def _readings_arrays(*, meter_id: int, start: datetime, end: datetime) -> tuple[np.ndarray, np.ndarray]:
    """(epoch seconds, kWh as float) of the meter's readings in ``[start, end)``. On Postgres the database
    converts them (one row of two arrays: no datetime or Decimal built per reading, a verification reads 35 days
    of them); ``numeric::float8`` and Python's ``float(Decimal)`` both round correctly, so the values are equal."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT COALESCE(array_agg(EXTRACT(EPOCH FROM start)::bigint ORDER BY start), '{{}}'),"  # noqa: S608
                f" COALESCE(array_agg(kwh::float8 ORDER BY start), '{{}}')"
                f" FROM {MeterReading._meta.db_table} WHERE meter_id = %s AND start >= %s AND start < %s",
                [meter_id, start, end],
            )
            epochs, values = cursor.fetchone()
        return np.array(epochs, dtype=np.int64), np.array(values, dtype=np.float64)
    rows = list(
        MeterReading.objects.filter(meter_id=meter_id, start__gte=start, start__lt=end).values_list("start", "kwh")
    )
    return (
        np.array([int(s.timestamp()) for s, _ in rows], dtype=np.int64),
        np.array([float(k) for _, k in rows], dtype=np.float64),
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


def temperature_grids(*, items: list[tuple[Meter, DayGrid]]) -> list:
    """:func:`temperature_grid` of each (meter, grid), read together (the nightly recompute's chunk)."""
    from ..weather.sources import temperatures_for_many

    return temperatures_for_many(items=items)
