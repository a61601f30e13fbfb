"""Settlement baselines of many (meter, window) cases at once: a verification chunk's (issue #21, ADR 0046).

The rule and the numbers of :func:`assessment.services.baseline_compute` without an explicit method (the meter's
recorded choice under its premise's baseline program, made if missing: :mod:`.choice_services`; else the platform
default), case by case with the same pure functions (:func:`.baselines.compute.compute`,
:func:`.baselines.choice.choose_method`) on the same day grids; only the reads are made once per chunk: the
premises' baseline programs, the choices and baselines already stored, every meter's readings (one statement,
enough history for each meter's choice and look-back), the premises' event days and the temperatures.

Nothing is saved by :func:`baselines_prepare`: the caller keeps the cases it can use (an event whose meter data is
complete, ...) and :func:`baselines_save` stores their new choices, baselines and intervals in bulk, so a case
the caller drops leaves nothing behind, as :func:`~.services.baseline_compute` inside a transaction rolled back.
A case that cannot be computed here (a window that does not fit, too little history) carries the error that
``baseline_compute`` would raise; two cases of one meter, method and window share one baseline, and cases of one
meter, month and day type share one choice (the first case's window chose it, as the first event would have).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection

from accounts.models import Meter
from flexplatform.errors import ApplicationError

from . import hooks, selectors
from .baselines.choice import day_type
from .baselines.compute import METHODS
from .baselines.compute import compute as compute_baseline
from .baselines.grid import build_grid, local_day_bounds
from .baselines.selection import InsufficientHistory
from .choice_services import baseline_choice_unsaved, choice_history_start
from .errors import AssessmentError
from .models import Baseline, BaselineChoice, BaselineInterval, BaselineProgram, ProgramEnrolment
from .services import baseline_unsaved, baseline_window
from .weather.sources import method_without_weather, temperatures_for_many


@dataclass
class Prepared:
    """One case's baseline: stored already (``intervals`` None) or new, with the key of the new choice it rests
    on, if any; ``values``: kWh per interval start."""

    baseline: Baseline
    values: dict[datetime, Decimal]
    intervals: list[BaselineInterval] | None = None
    choice_key: tuple | None = None


@dataclass
class BaselineBatch:
    results: list[Prepared | ApplicationError]
    choices: dict[tuple, BaselineChoice] = field(default_factory=dict)  # new, unsaved: (meter, month, day type)


def baselines_prepare(*, items: list[tuple[Meter, datetime, datetime]], now: datetime) -> BaselineBatch:
    """The settlement baseline of each (meter, window start, window end), not saved (meters with their premise
    loaded). Reads: the programs, choices, baselines and interval values stored, readings, event days,
    temperatures: a handful of statements whatever the number of cases."""
    results: list[Prepared | ApplicationError | None] = [None] * len(items)
    windows = {}
    for i, (meter, start, end) in enumerate(items):
        try:
            windows[i] = baseline_window(meter=meter, window_start=start, window_end=end)
        except ApplicationError as exc:
            results[i] = exc
    meters = {items[i][0].pk: items[i][0] for i in windows}
    _meters_lock(sorted(meters))
    programs: dict[int, BaselineProgram] = {}
    for enrolment in (
        ProgramEnrolment.objects.filter(premise_id__in={m.premise_id for m in meters.values()})
        .select_related("program")
        .order_by("-pk")  # the first by pk wins, as ``.first()`` per premise
    ):
        programs[enrolment.premise_id] = enrolment.program
    months = {windows[i].target_day.replace(day=1) for i in windows}
    stored_choices = {
        (c.meter_id, c.month, c.day_type): c
        for c in BaselineChoice.objects.filter(meter_id__in=list(meters), month__in=months).select_related("program")
    }
    # the choices to make (the first case of a meter, month and day type makes it), then every meter's history
    keys: dict[int, tuple | None] = {}
    to_choose: dict[tuple, int] = {}
    for i, w in windows.items():
        meter = items[i][0]
        if meter.premise_id not in programs:
            keys[i] = None
            continue
        keys[i] = (meter.pk, w.target_day.replace(day=1), day_type(w.target_day))
        if keys[i] not in stored_choices:
            to_choose.setdefault(keys[i], i)
    first_day: dict[int, date] = {}
    longest = max(spec["lookback_days"] for spec in METHODS.values())
    for i, w in windows.items():
        meter = items[i][0]
        days = [w.target_day - timedelta(days=longest)]
        if to_choose.get(keys[i]) == i and programs[meter.premise_id].policy == BaselineProgram.Policy.MOST_ACCURATE:
            days.append(choice_history_start(w.target_day))
        first_day[meter.pk] = min([*days, first_day.get(meter.pk, days[0])])
    last_day = {}
    for i, w in windows.items():
        last_day[items[i][0].pk] = max(w.target_day, last_day.get(items[i][0].pk, w.target_day))
    arrays = selectors.meter_reading_arrays(
        bounds={
            pk: (
                local_day_bounds(first_day[pk], meters[pk].premise.timezone)[0],
                local_day_bounds(last_day[pk], meters[pk].premise.timezone)[1],
            )
            for pk in meters
        }
    )
    events = hooks.activation().event_days_many(timezones={m.premise_id: m.premise.timezone for m in meters.values()})

    def grid_of(meter: Meter, first: date, last: date):
        if first < first_day[meter.pk]:  # a look-back longer than read (a program's parameters): read it alone
            return selectors.meter_day_grid(meter=meter, first_day=first, last_day=last)
        epoch, kwh = arrays.get(meter.pk, ((), ()))
        return build_grid(
            epoch=epoch,
            kwh=kwh,
            tz=meter.premise.timezone,
            interval_minutes=meter.interval_minutes,
            first_day=first,
            last_day=last,
        )

    def excluded_of(meter: Meter, grid, before: date) -> set[date]:  # selectors.baseline_excluded_days
        return {d for d in events[meter.premise_id] if d < before} | selectors.outage_days(grid)

    batch = BaselineBatch(results=[])
    choices = dict(stored_choices)
    grids = {}
    for key, i in to_choose.items():
        meter, w = items[i][0], windows[i]
        if programs[meter.premise_id].policy == BaselineProgram.Policy.MOST_ACCURATE:
            grids[key] = grid_of(meter, choice_history_start(w.target_day), w.target_day)
    temps = temperatures_for_many(items=[(items[to_choose[k]][0], g) for k, g in grids.items()])
    found = dict(zip(grids, temps, strict=True))
    for key, i in to_choose.items():
        meter, w = items[i][0], windows[i]
        grid = grids.get(key)
        choices[key] = batch.choices[key] = baseline_choice_unsaved(
            meter=meter,
            program=programs[meter.premise_id],
            target_day=w.target_day,
            start_slot=w.first_slot,
            end_slot=w.last_slot,
            grid=grid,
            excluded=None if grid is None else excluded_of(meter, grid, w.target_day),
            temperature=None if found.get(key) is None else found[key].values,
            now=now,
        )
    _compute(items, windows, keys, choices, batch, results, grid_of, excluded_of, now)
    batch.results = results  # type: ignore[assignment]
    return batch


#: first key of the two-key advisory lock on a meter's settlement baselines (the second: the meter's id)
_LOCK_NAMESPACE = 0x0BA5E1


def _meters_lock(meter_ids: list[int]) -> None:
    """Inside a transaction on PostgreSQL: wait for any other chunk computing these meters' choices and baselines
    to commit (a transaction-level advisory lock per meter, taken in id order, so two chunks never wait for each
    other in a cycle), then read what it stored, instead of failing on its unique keys at the insert."""
    if connection.vendor != "postgresql" or not connection.in_atomic_block or not meter_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(%s::int, (m %% 2147483647)::int)) FROM unnest(%s::bigint[]) AS m",
            [_LOCK_NAMESPACE, meter_ids],
        )


def _method_of(choice: BaselineChoice | None) -> tuple[str, dict]:
    """``services._method_for`` without an explicit method."""
    if choice is None:
        return settings.ASSESSMENT_BASELINE_METHOD, {}
    program = choice.program
    same = program is not None and program.method == choice.method
    return choice.method, dict(program.parameters) if same else {}


def _compute(items, windows, keys, choices, batch, results, grid_of, excluded_of, now) -> None:
    """Each case's baseline: stored (read with its interval values), or computed as ``baseline_compute`` does."""
    wanted = {i: _method_of(choices.get(keys[i])) for i in windows}
    stored = {
        (b.meter_id, b.method, b.window_start, b.window_end): b
        for b in Baseline.objects.filter(
            meter_id__in={items[i][0].pk for i in windows}, window_start__in={items[i][1] for i in windows}
        )
    }
    new: dict[tuple, Prepared] = {}
    weatherless: list[int] = []
    for i, w in windows.items():
        meter, start, end = items[i]
        method, parameters = wanted[i]
        key = (meter.pk, method, start, end)
        if key in stored or key in new:
            results[i] = new.get(key) or stored[key]
            continue
        if METHODS[method]["family"] == "caltrack":
            weatherless.append(i)
            continue
        results[i] = new[key] = _one(
            i, items, w, method, parameters, {}, keys, choices, batch, grid_of, excluded_of, now
        )
    if weatherless:  # weather-sensitive: the temperatures of their grids, read together
        grids = {}
        for i in weatherless:
            w, meter = windows[i], items[i][0]
            lookback = int(wanted[i][1].get("lookback_days", METHODS[wanted[i][0]]["lookback_days"]))
            grids[i] = grid_of(meter, w.target_day - timedelta(days=lookback), w.target_day)
        temps = temperatures_for_many(items=[(items[i][0], grids[i]) for i in weatherless])
        for i, found in zip(weatherless, temps, strict=True):
            meter, start, end = items[i]
            method, parameters = wanted[i]
            weather, temperature = {}, None
            if found is None:
                weather = {"fallback_from": method, "fallback_reason": "no weather data for the premise"}
                method = method_without_weather()
                key = (meter.pk, method, start, end)
                if key in stored or key in new:
                    results[i] = new.get(key) or stored[key]
                    continue
            else:
                temperature, weather = found.values, {"weather": found.source}
            key = (meter.pk, method, start, end)
            results[i] = new[key] = _one(
                i, items, windows[i], method, parameters, weather, keys, choices, batch, grid_of, excluded_of, now,
                grid=grids[i], lookback_method=wanted[i][0], temperature=temperature,
            )  # fmt: skip
    stored_ids = {r.pk for r in results if isinstance(r, Baseline)}
    values: dict[int, dict[datetime, Decimal]] = {pk: {} for pk in stored_ids}
    for baseline_id, start, kwh in BaselineInterval.objects.filter(baseline_id__in=stored_ids).values_list(
        "baseline_id", "start", "kwh"
    ):
        values[baseline_id][start] = kwh
    for i, r in enumerate(results):
        if isinstance(r, Baseline):
            results[i] = Prepared(baseline=r, values=values[r.pk])


def _one(
    i, items, w, method, parameters, weather, keys, choices, batch, grid_of, excluded_of, now,
    *, grid=None, lookback_method=None, temperature=None,
) -> Prepared | ApplicationError:  # fmt: skip
    meter = items[i][0]
    lookback = int(parameters.get("lookback_days", METHODS[lookback_method or method]["lookback_days"]))
    if grid is None:
        grid = grid_of(meter, w.target_day - timedelta(days=lookback), w.target_day)
    try:
        outcome = compute_baseline(
            method=method,
            grid=grid,
            target_day=w.target_day,
            start_slot=w.first_slot,
            end_slot=w.last_slot,
            excluded_days=excluded_of(meter, grid, w.target_day),
            parameters=parameters,
            temperature=temperature,
        )
    except InsufficientHistory as exc:
        return ApplicationError(f"Meter {meter.meter_id}: {exc}.", code=AssessmentError.INSUFFICIENT_HISTORY)
    choice = choices.get(keys[i])
    baseline, intervals = baseline_unsaved(
        meter=meter, window=w, outcome=outcome, weather=weather, choice=choice, now=now
    )
    return Prepared(
        baseline=baseline,
        values={row.start: row.kwh for row in intervals},
        intervals=intervals,
        choice_key=keys[i] if keys[i] in batch.choices else None,
    )


def baselines_save(*, batch: BaselineBatch, keep: Iterable[int]) -> None:
    """Store the new choices and baselines (with their intervals) of the cases ``keep`` (indexes into the
    batch's items), in bulk; a stored baseline is left as it is. Call inside the caller's transaction."""
    baselines: dict[int, Prepared] = {}
    for i in keep:
        prepared = batch.results[i]
        if isinstance(prepared, Prepared) and prepared.intervals is not None:
            baselines[id(prepared)] = prepared
    choices = {p.choice_key: batch.choices[p.choice_key] for p in baselines.values() if p.choice_key is not None}
    BaselineChoice.objects.bulk_create(list(choices.values()))
    for p in baselines.values():
        if p.choice_key is not None:
            p.baseline.choice = choices[p.choice_key]
    Baseline.objects.bulk_create([p.baseline for p in baselines.values()])
    rows = []
    for p in baselines.values():
        for row in p.intervals:
            row.baseline = p.baseline
        rows += p.intervals
        p.intervals = None  # stored now
    BaselineInterval.objects.bulk_create(rows)
