"""The nightly recompute of a chunk of meters, set-based (issue #21): the same rows as
``services.assessment_recompute_meter`` run meter by meter, for a fraction of the work.

Per meter the recompute refreshes its status (``services.meter_status_refresh``: connectivity, data quality,
validation, the year's consumption), back-tests the baseline methods on its held-out days
(``services.baseline_accuracy_report``: ASHRAE Guideline 14 metrics of CAISO 10-in-10, PJM CBL / Same Day /
Match Day, NYISO CBL and CalTRACK 2.0 hourly) and stores its premise's flexibility profile
(:func:`.profiles.flexibility_profile_store`). Here, for the whole chunk:

* the readings of every meter are read in one query, as integers (kWh x 10,000: exact for ``numeric(12, 4)``)
  into numpy arrays; the latest and earliest reading of each meter, and the revenue meters' year, in two more;
* the quality checks run on those arrays (:func:`.quality.assess_quality_arrays`);
* each baseline method runs once over every (meter, held-out day) of the chunk (:mod:`.baselines.batch`);
* statuses are updated and accuracy rows replaced in bulk.

Running a chunk twice leaves the same rows (accuracy rows are replaced per meter and day, profiles kept per
premise and day, statuses updated in place).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

import numpy as np
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from accounts.models import Meter

from . import hooks, selectors
from .baselines.accuracy import backtest, recommend
from .baselines.batch import Case, MeterDays, compute_many
from .baselines.calendar import is_nerc_holiday
from .baselines.compute import METHODS
from .baselines.grid import DayGrid, build_grid, local_day_bounds
from .baselines.selection import InsufficientHistory
from .flexibility import reliability_factor
from .models import BaselineAccuracy
from .profiles import ProfileInput, _d3, flexibility_profiles_store_many
from .selectors.baseline_inputs import outage_days
from .selectors.performance import PERFORMANCE_EVENTS
from .status_services import UNITS, reading_ends, readings_arrays, status_window, statuses_lock, statuses_store

log = logging.getLogger(__name__)

PROFILE_HISTORY_DAYS = 90  # services.flexibility_profile_compute's default


def recompute_meters(*, meter_ids: Sequence[int], now: datetime | None = None) -> int:
    """Recompute the status, baseline accuracy and flexibility profile of these meters; returns how many."""
    from .services import ACCURACY_METHODS, ACCURACY_TEST_DAYS, PEAK_HOURS

    now = now or timezone.now()
    meters = list(Meter.objects.select_related("premise").filter(pk__in=list(meter_ids)).order_by("pk"))
    if not meters:
        return 0
    ends = reading_ends(meters)
    longest = max(METHODS[m]["lookback_days"] for m in ACCURACY_METHODS)
    as_of = {
        m.pk: ends[m.pk][2].astimezone(ZoneInfo(m.premise.timezone)).date() + timedelta(days=1)
        for m in meters
        if ends[m.pk][2] is not None
    }
    firsts = dict(
        Meter.objects.filter(premise_id__in={m.premise_id for m in meters})
        .order_by()
        .values("premise_id")
        .annotate(first=Min("id"))
        .values_list("premise_id", "first")
    )
    profile_meters = {m.premise_id: m for m in Meter.objects.select_related("premise").filter(pk__in=firsts.values())}
    windows = {m.pk: status_window(m, now) for m in meters}
    ranges: dict[int, list[datetime]] = {}
    for m in meters:
        _widen(ranges, m.pk, windows[m.pk][2], windows[m.pk][3])
        if m.pk in as_of:
            day = as_of[m.pk]
            _widen(ranges, m.pk, *_days_bounds(day - timedelta(days=longest + ACCURACY_TEST_DAYS * 2), day, m))
            pm = profile_meters[m.premise_id]
            _widen(ranges, pm.pk, *_days_bounds(day - timedelta(days=PROFILE_HISTORY_DAYS), day, pm))
    readings = readings_arrays(ranges)
    with transaction.atomic():
        statuses = statuses_lock([m.pk for m in meters])
        statuses_store(meters, statuses, readings=readings, ranges=ranges, windows=windows, ends=ends, now=now)
    if not as_of:
        return len(meters)
    events = hooks.activation().event_days_many(timezones={m.premise_id: m.premise.timezone for m in meters})
    _accuracy_store(
        [m for m in meters if m.pk in as_of],
        readings,
        as_of,
        events,
        methods=ACCURACY_METHODS,
        test_days=ACCURACY_TEST_DAYS,
        window_hours=PEAK_HOURS,
        first_offset=longest + ACCURACY_TEST_DAYS * 2,
        now=now,
    )
    reliability = _reliability_factors({m.premise_id for m in meters if m.pk in as_of})
    inputs = []
    for m in meters:
        if m.pk not in as_of:
            continue
        pm, day = profile_meters[m.premise_id], as_of[m.pk]
        grid = _grid(pm, readings, day - timedelta(days=PROFILE_HISTORY_DAYS), day - timedelta(days=1))
        excluded = {d for d in events[m.premise_id] if d < day} | outage_days(grid)
        inputs.append(ProfileInput(m.premise, pm, grid, excluded, day, reliability[m.premise_id]))
    flexibility_profiles_store_many(inputs=inputs, now=now)
    return len(meters)


def _reliability_factors(premise_ids: set[int]) -> dict[int, Decimal]:
    """``selectors.reliability_factor_for`` of each premise, from one read of their latest deliveries."""
    deliveries = hooks.activation().deliveries_many(list(premise_ids), limit=PERFORMANCE_EVENTS)
    out = {}
    for premise_id in premise_ids:
        history = deliveries.get(premise_id, [])
        factor = reliability_factor([float(d) for d, _ in history], [float(c) for _, c in history])
        out[premise_id] = Decimal(repr(factor)).quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
    return out


# --- reading ------------------------------------------------------------------------------------------------


def _widen(ranges: dict[int, list[datetime]], meter_id: int, lo: datetime, hi: datetime) -> None:
    if meter_id in ranges:
        ranges[meter_id] = [min(ranges[meter_id][0], lo), max(ranges[meter_id][1], hi)]
    else:
        ranges[meter_id] = [lo, hi]


def _days_bounds(first: date, until: date, meter: Meter) -> tuple[datetime, datetime]:
    """UTC bounds of local days ``first`` .. the day before ``until`` in the premise's zone (the baselines')."""
    return local_day_bounds(first, meter.premise.timezone)[0], local_day_bounds(until, meter.premise.timezone)[0]


def _grid(meter: Meter, readings, first_day: date, last_day: date) -> DayGrid:
    """``selectors.meter_day_grid`` from the arrays read (``units / 10,000`` is exactly ``float(Decimal)``)."""
    epoch, units = readings[meter.pk]
    return build_grid(
        epoch=epoch,
        kwh=units / float(UNITS),
        tz=meter.premise.timezone,
        interval_minutes=meter.interval_minutes,
        first_day=first_day,
        last_day=last_day,
    )


# --- baseline accuracy (services.baseline_accuracy_report, set-based) ----------------------------------------


@transaction.atomic
def _accuracy_store(meters, readings, as_of, events, *, methods, test_days, window_hours, first_offset, now) -> None:
    grids = {}
    for m in meters:
        day = as_of[m.pk]
        grids[m.pk] = _grid(m, readings, day - timedelta(days=first_offset), day - timedelta(days=1))
    weather = {}
    if any(METHODS[x]["family"] == "caltrack" for x in methods):  # the chunk's temperatures, read together
        found = selectors.temperature_grids(items=[(m, grids[m.pk]) for m in meters])
        weather = {m.pk: t for m, t in zip(meters, found, strict=True)}
    plans = []  # (meter, its MeterDays, methods, held-out grid indexes, s0, s1)
    for m in meters:
        day, grid = as_of[m.pk], grids[m.pk]
        excluded = {d for d in events[m.premise_id] if d < day} | outage_days(grid)
        sph = 60 // m.interval_minutes
        s0, s1 = window_hours[0] * sph, window_hours[1] * sph
        held_out = [
            i
            for i, (d, row) in enumerate(zip(grid.days, grid.values, strict=True))
            if d.weekday() < 5 and not is_nerc_holiday(d) and d not in excluded and not np.isnan(row[s0:s1]).any()
        ][-test_days:]
        own = list(methods)
        temperature = None
        if any(METHODS[x]["family"] == "caltrack" for x in own):
            if weather[m.pk] is None:
                own = [x for x in own if METHODS[x]["family"] != "caltrack"]
            else:
                temperature = weather[m.pk].values
        plans.append((m, MeterDays(grid=grid, excluded=excluded, temperature=temperature), own, held_out, s0, s1))
    cases: dict[tuple, list[tuple[int, Case]]] = {}
    for k, (_, days, own, held_out, s0, s1) in enumerate(plans):
        worked = days.holidays_worked(held_out)
        for method in own:
            cases.setdefault((method, s0, s1), []).extend((k, Case(days, i, worked[i])) for i in held_out)
    values: dict[tuple[int, str, int], np.ndarray | None] = {}
    for (method, s0, s1), group in cases.items():
        found = compute_many(method=method, cases=[c for _, c in group], start_slot=s0, end_slot=s1)
        for (k, case), v in zip(group, found, strict=True):
            values[(k, method, case.target)] = v
    rows = []
    for k, (m, days, own, held_out, s0, s1) in enumerate(plans):
        grid = days.grid

        def baseline_for(method: str, day: date, k=k, grid=grid) -> np.ndarray:
            v = values[(k, method, grid.index_of(day))]
            if v is None:
                raise InsufficientHistory(method)
            return v

        results = backtest(
            methods=own,
            test_days=[grid.days[i] for i in held_out],
            actual_for=lambda d, grid=grid, s0=s0, s1=s1: grid.values[grid.index_of(d), s0:s1],
            baseline_for=baseline_for,
        )
        best = recommend(results)
        rows += [
            BaselineAccuracy(
                meter=m,
                method=r.method,
                as_of=as_of[m.pk],
                days=r.days,
                intervals=r.n,
                relative_error_pct=_d3(r.relative_error_pct),
                nmbe_pct=_d3(r.nmbe_pct),
                cvrmse_pct=_d3(r.cvrmse_pct),
                meets_guideline14=r.meets_guideline14,
                recommended=best is not None and r.method == best.method,
                computed_at=now,
            )
            for r in results
        ]
    by_day: dict[date, list[int]] = {}
    for m in meters:
        by_day.setdefault(as_of[m.pk], []).append(m.pk)
    for day, ids in by_day.items():
        BaselineAccuracy.objects.filter(meter_id__in=ids, as_of=day).delete()
    BaselineAccuracy.objects.bulk_create(rows)
