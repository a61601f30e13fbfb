"""Write services for assessment: meter readings, baselines, flexible capacity."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Meter, Organisation, Premise
from flexplatform.errors import ApplicationError, NotPermitted

from . import selectors
from .baselines.accuracy import backtest, recommend
from .baselines.compute import METHODS, BaselineOutcome
from .baselines.compute import compute as compute_baseline
from .baselines.grid import local_slots
from .baselines.selection import InsufficientHistory
from .choice_services import baseline_choice_for
from .device_capacity import DeviceCapacity, premise_device_capacity
from .errors import AssessmentError
from .models import (
    AvailabilityDeclaration,
    Baseline,
    BaselineAccuracy,
    BaselineChoice,
    BaselineInterval,
    BaselineProgram,
    FlexibilityAssessment,
    FlexibilityProfile,
    MeterReading,
)
from .profiles import _d3, flexibility_profile_store
from .status_services import meter_statuses_refresh_many
from .weather.sources import method_without_weather

log = logging.getLogger(__name__)

KWH_QUANT = Decimal("0.0001")


def interval_starts(start: datetime, end: datetime, minutes: int) -> list[datetime]:
    step = timedelta(minutes=minutes)
    out, t = [], start
    while t < end:
        out.append(t)
        t += step
    return out


def _check_window(start: datetime, end: datetime, minutes: int) -> None:
    if timezone.is_naive(start) or timezone.is_naive(end):
        raise ApplicationError("Times must carry a timezone.", fields={"window_start": ["Naive datetime."]})
    if end <= start:
        raise ApplicationError("The window ends before it starts.", fields={"window_end": ["Must be after start."]})
    if int(start.timestamp()) % (minutes * 60):
        raise ApplicationError(
            f"The window must start on a {minutes}-minute boundary.", fields={"window_start": ["Not aligned."]}
        )


@transaction.atomic
def meter_readings_record(*, meter: Meter, readings: Sequence[tuple[datetime, Decimal]]) -> int:
    """Store interval readings; all-or-nothing. Re-sending an identical reading changes nothing.

    Returns how many new readings were stored.
    """
    step = meter.interval_minutes * 60
    rows = []
    for i, (start, kwh) in enumerate(readings):
        if timezone.is_naive(start):
            raise ApplicationError(
                f"Reading {i + 1}: time has no timezone.", fields={f"readings.{i}.start": ["Naive."]}
            )
        if int(start.timestamp()) % step:
            raise ApplicationError(
                f"Reading {i + 1}: {start.isoformat()} is not on a {meter.interval_minutes}-minute boundary.",
                fields={f"readings.{i}.start": ["Not aligned."]},
            )
        kwh = Decimal(kwh)
        if kwh < 0:
            raise ApplicationError(f"Reading {i + 1}: negative energy.", fields={f"readings.{i}.kwh": ["Negative."]})
        rows.append(MeterReading(meter=meter, start=start, kwh=kwh))
    before = MeterReading.objects.filter(meter=meter).count()
    MeterReading.objects.bulk_create(rows, ignore_conflicts=True, batch_size=5000)
    stored = MeterReading.objects.filter(meter=meter).count() - before
    if stored:
        from . import tasks

        meter_id = meter.pk
        transaction.on_commit(lambda: tasks.assessment_recompute_meter.delay(meter_id))
    return stored


def _method_for(
    meter: Meter, method: str | None, parameters: dict | None, *, target_day: date, slots: tuple[int, int], now
) -> tuple[str, dict, BaselineChoice | None]:
    """The method and parameters: explicit, else the meter's recorded choice under its premise's program for the
    day's month and day type (made now if missing: :func:`.choice_services.baseline_choice_for`), else the
    platform default."""
    if method is not None:
        return method, dict(parameters or {}), None
    choice = baseline_choice_for(meter=meter, target_day=target_day, start_slot=slots[0], end_slot=slots[1], now=now)
    if choice is not None:
        program = choice.program
        same = program is not None and program.method == choice.method
        return choice.method, dict(program.parameters) if same else {}, choice
    return settings.ASSESSMENT_BASELINE_METHOD, {}, None


@transaction.atomic
def baseline_compute(
    *,
    meter: Meter,
    window_start: datetime,
    window_end: datetime,
    now: datetime | None = None,
    method: str | None = None,
    parameters: dict | None = None,
) -> Baseline:
    """Compute (once per meter, method and window) the meter's baseline for a window within one local day.

    The method is the one recorded for the meter's month and day type under its premise's program
    (``ProgramEnrolment`` -> :class:`~.models.BaselineChoice`, by the program's policy) or the platform default
    (``ASSESSMENT_BASELINE_METHOD``, CAISO 10-in-10 with the day-of adjustment). Event days of the
    premise, NERC holidays (by day type) and outage days are excluded. The stored baseline carries the
    method, its parameters (with the day-of adjustment applied) and the days used.
    """
    _check_window(window_start, window_end, meter.interval_minutes)
    if method is not None and method not in METHODS:
        raise ApplicationError(f"Unknown baseline method {method!r}.", fields={"method": ["Unknown method."]})
    window = baseline_window(meter=meter, window_start=window_start, window_end=window_end)
    target_day, first_slot, last_slot = window.target_day, window.first_slot, window.last_slot
    method, parameters, choice = _method_for(
        meter, method, parameters, target_day=target_day, slots=(first_slot, last_slot), now=now
    )
    existing = Baseline.objects.filter(
        meter=meter, method=method, window_start=window_start, window_end=window_end
    ).first()
    if existing is not None:
        return existing
    lookback = int(parameters.get("lookback_days", METHODS[method]["lookback_days"]))
    grid = selectors.meter_day_grid(meter=meter, first_day=target_day - timedelta(days=lookback), last_day=target_day)
    excluded = selectors.baseline_excluded_days(meter=meter, grid=grid, before=target_day)
    temperature, weather = None, {}
    if METHODS[method]["family"] == "caltrack":  # weather-sensitive: temperatures, or a method that needs none
        found = selectors.temperature_grid(meter=meter, grid=grid)
        if found is None:
            weather = {"fallback_from": method, "fallback_reason": "no weather data for the premise"}
            method = method_without_weather()
            existing = Baseline.objects.filter(
                meter=meter, method=method, window_start=window_start, window_end=window_end
            ).first()
            if existing is not None:
                return existing
        else:
            temperature, weather = found.values, {"weather": found.source}
    try:
        outcome = compute_baseline(
            method=method,
            grid=grid,
            target_day=target_day,
            start_slot=first_slot,
            end_slot=last_slot,
            excluded_days=excluded,
            parameters=parameters,
            temperature=temperature,
        )
    except InsufficientHistory as exc:
        raise ApplicationError(f"Meter {meter.meter_id}: {exc}.", code=AssessmentError.INSUFFICIENT_HISTORY) from exc
    baseline, intervals = baseline_unsaved(
        meter=meter, window=window, outcome=outcome, weather=weather, choice=choice, now=now
    )
    with transaction.atomic():  # a baseline is stored with its intervals or not at all
        baseline.save(force_insert=True)
        for interval in intervals:
            interval.baseline = baseline
        BaselineInterval.objects.bulk_create(intervals)
    return baseline


@dataclass(frozen=True)
class BaselineWindow:
    """A baseline's window on its meter's local grid: the interval starts, each one's wall-clock slot, the local
    day and the slots ``[first_slot, last_slot)`` it covers."""

    window_start: datetime
    window_end: datetime
    starts: list[datetime]
    slots: list[int]
    target_day: date
    first_slot: int
    last_slot: int


def baseline_window(*, meter: Meter, window_start: datetime, window_end: datetime) -> BaselineWindow:
    """The window on the meter's grid; refused unless it is aware, ordered, aligned on the meter's interval and
    within one local day of the premise."""
    _check_window(window_start, window_end, meter.interval_minutes)
    starts = interval_starts(window_start, window_end, meter.interval_minutes)
    day_ord, slot = local_slots(starts, meter.premise.timezone, meter.interval_minutes)
    if len(set(day_ord.tolist())) != 1:
        raise ApplicationError(
            "A baseline window must lie within one local day.", fields={"window_end": ["Spans days."]}
        )
    return BaselineWindow(
        window_start=window_start,
        window_end=window_end,
        starts=starts,
        slots=slot.tolist(),
        target_day=date.fromordinal(int(day_ord[0])),
        first_slot=int(slot.min()),
        last_slot=int(slot.max()) + 1,
    )


def baseline_unsaved(
    *,
    meter: Meter,
    window: BaselineWindow,
    outcome: BaselineOutcome,
    weather: dict,
    choice: BaselineChoice | None,
    now: datetime | None,
) -> tuple[Baseline, list[BaselineInterval]]:
    """The baseline row of a computed outcome and its interval rows (not saved; the intervals' ``baseline`` is
    set when it is): kWh per interval rounded half up to 0.0001, the total their sum."""
    values = [
        Decimal(repr(float(outcome.values[k - window.first_slot]))).quantize(KWH_QUANT, rounding=ROUND_HALF_UP)
        for k in window.slots
    ]
    tz = meter.premise.timezone
    baseline = Baseline(
        meter=meter,
        method=outcome.method,
        parameters={**outcome.parameters, "tz": tz, "adjustment": round(outcome.adjustment, 6), **weather},
        days_used=[d.isoformat() for d in outcome.days_used],
        choice=choice,
        window_start=window.window_start,
        window_end=window.window_end,
        total_kwh=sum(values, Decimal("0")),
        computed_at=now or timezone.now(),
    )
    return baseline, [BaselineInterval(start=s, kwh=k) for s, k in zip(window.starts, values, strict=True)]


@transaction.atomic
def flexibility_assess(
    *, premise: Premise, window_start: datetime, window_end: datetime, now: datetime | None = None
) -> FlexibilityAssessment:
    """Assess the premise's flexible capacity (kW) over a window: what its registered devices can deliver (or a
    labelled estimate), capped by its revenue meter's forecast demand (``assessment.device_capacity``)."""
    existing = FlexibilityAssessment.objects.filter(
        premise=premise, window_start=window_start, window_end=window_end
    ).first()
    if existing is not None:
        return existing
    meter = premise.meters.order_by("id").first()
    if meter is None:
        raise ApplicationError("The premise has no meter.", code=AssessmentError.NO_METER)
    # Assessed before the event day: a forecast method (no day-of data yet).
    baseline = baseline_compute(
        meter=meter,
        window_start=window_start,
        window_end=window_end,
        now=now,
        method=settings.ASSESSMENT_FORECAST_METHOD,
    )
    baseline_kw = forecast_kw(total_kwh=baseline.total_kwh, window_start=window_start, window_end=window_end)
    capacity = premise_device_capacity(premise=premise, start=window_start, end=window_end, baseline_kw=baseline_kw)
    assessment = assessment_unsaved(
        premise=premise,
        baseline=baseline,
        window_start=window_start,
        window_end=window_end,
        baseline_kw=baseline_kw,
        capacity=capacity,
        now=now,
    )
    assessment.save(force_insert=True)
    return assessment


def forecast_kw(*, total_kwh: Decimal, window_start: datetime, window_end: datetime) -> Decimal:
    """The forecast baseline's mean demand over the window (kW, rounded down to 1 W): what caps the capacity."""
    hours = Decimal((window_end - window_start).total_seconds()) / Decimal(3600)
    return (total_kwh / hours).quantize(Decimal("0.001"), rounding=ROUND_DOWN)


def assessment_unsaved(
    *,
    premise: Premise,
    baseline: Baseline,
    window_start: datetime,
    window_end: datetime,
    baseline_kw: Decimal,
    capacity: DeviceCapacity,
    now: datetime | None,
) -> FlexibilityAssessment:
    """The assessment row (not saved) of a premise's capacity over the window of its forecast ``baseline``."""
    return FlexibilityAssessment(
        premise=premise,
        baseline=baseline,
        window_start=window_start,
        window_end=window_end,
        baseline_kw=baseline_kw,
        capacity_kw=capacity.kw,
        method=capacity.method,
        breakdown=capacity.breakdown,
        assessed_at=now or timezone.now(),
    )


# --- Programs, accuracy report, flexibility profile, availability declarations --------------------

ACCURACY_TEST_DAYS = 10
ACCURACY_METHODS = (
    "caiso-10in10",
    "caiso-10in10-unadjusted",
    "pjm-cbl",
    "pjm-same-day",
    "pjm-match-day",
    "nyiso-cbl",
    "caltrack-hourly",
)
PEAK_HOURS = (16, 21)  # system peak, local hours [16:00, 21:00)


@transaction.atomic
def baseline_program_set(
    *, code: str, name: str, method: str, parameters: dict | None = None, policy: str = BaselineProgram.Policy.FIXED
) -> BaselineProgram:
    """Create or change a program's baseline method and choice policy; baselines already computed and choices
    already recorded keep their method."""
    if method not in METHODS:
        raise ApplicationError(f"Unknown baseline method {method!r}.", fields={"method": ["Unknown method."]})
    if policy not in BaselineProgram.Policy.values:
        raise ApplicationError(f"Unknown baseline policy {policy!r}.", fields={"policy": ["Unknown policy."]})
    program, _ = BaselineProgram.objects.update_or_create(
        code=code, defaults={"name": name, "method": method, "parameters": dict(parameters or {}), "policy": policy}
    )
    return program


@transaction.atomic
def baseline_accuracy_report(
    *,
    meter: Meter,
    as_of: date,
    methods: Sequence[str] = ACCURACY_METHODS,
    test_days: int = ACCURACY_TEST_DAYS,
    window_hours: tuple[int, int] = PEAK_HOURS,
    now: datetime | None = None,
) -> list[BaselineAccuracy]:
    """Back-test each method on the meter's most recent held-out non-event weekdays before ``as_of``.

    Each test day is treated as an event day over ``window_hours`` (local); the baseline is computed from
    the days before it and compared with what the meter actually read. Stores one row per method
    (replacing that day's report) and flags the recommended method.
    """
    from .baselines.calendar import is_nerc_holiday

    longest = max(METHODS[m]["lookback_days"] for m in methods)
    first = as_of - timedelta(days=longest + test_days * 2)
    grid = selectors.meter_day_grid(meter=meter, first_day=first, last_day=as_of - timedelta(days=1))
    excluded = selectors.baseline_excluded_days(meter=meter, grid=grid, before=as_of)
    sph = 60 // meter.interval_minutes
    s0, s1 = window_hours[0] * sph, window_hours[1] * sph
    candidates = [
        d
        for d, row in zip(grid.days, grid.values, strict=True)
        if d.weekday() < 5 and not is_nerc_holiday(d) and d not in excluded and not np.isnan(row[s0:s1]).any()
    ]
    held_out = candidates[-test_days:]
    temperature = None
    if any(METHODS[m]["family"] == "caltrack" for m in methods):
        found = selectors.temperature_grid(meter=meter, grid=grid)
        if found is None:  # no weather at the premise: weather-sensitive methods cannot be back-tested
            methods = [m for m in methods if METHODS[m]["family"] != "caltrack"]
        else:
            temperature = found.values

    def baseline_for(method: str, day: date) -> np.ndarray:
        return compute_baseline(
            method=method,
            grid=grid,
            target_day=day,
            start_slot=s0,
            end_slot=s1,
            excluded_days=excluded,
            temperature=temperature,
        ).values

    results = backtest(
        methods=methods,
        test_days=held_out,
        actual_for=lambda d: grid.values[grid.index_of(d), s0:s1],
        baseline_for=baseline_for,
    )
    best = recommend(results)
    BaselineAccuracy.objects.filter(meter=meter, as_of=as_of).delete()
    rows = [
        BaselineAccuracy(
            meter=meter,
            method=r.method,
            as_of=as_of,
            days=r.days,
            intervals=r.n,
            relative_error_pct=_d3(r.relative_error_pct),
            nmbe_pct=_d3(r.nmbe_pct),
            cvrmse_pct=_d3(r.cvrmse_pct),
            meets_guideline14=r.meets_guideline14,
            recommended=best is not None and r.method == best.method,
            computed_at=now or timezone.now(),
        )
        for r in results
    ]
    return BaselineAccuracy.objects.bulk_create(rows)


@transaction.atomic
def flexibility_profile_compute(
    *, premise: Premise, as_of: date, history_days: int = 90, now: datetime | None = None
) -> FlexibilityProfile | None:
    """Recompute the premise's flexibility measures from its meter history before ``as_of``.

    Returns None when the premise has no meter data yet.
    """
    meter = premise.meters.order_by("id").first()
    if meter is None:
        return None
    grid = selectors.meter_day_grid(
        meter=meter, first_day=as_of - timedelta(days=history_days), last_day=as_of - timedelta(days=1)
    )
    excluded = selectors.baseline_excluded_days(meter=meter, grid=grid, before=as_of)
    return flexibility_profile_store(premise=premise, meter=meter, grid=grid, excluded=excluded, as_of=as_of, now=now)


@transaction.atomic
def availability_declare(
    *,
    premise: Premise,
    organisation: Organisation,
    available_kw: Decimal,
    valid_until: datetime,
    soc_percent: Decimal | None = None,
    now: datetime | None = None,
) -> AvailabilityDeclaration:
    """Declare what the premise can deliver from now until ``valid_until``; it caps offers at once.

    Only the premise's owner or its aggregator may declare.
    """
    now = now or timezone.now()
    if organisation.pk not in (premise.organisation_id, premise.aggregator_id):
        raise NotPermitted("You may not declare availability for this premise.", fields={"premise": ["Not yours."]})
    errors: dict[str, list[str]] = {}
    if timezone.is_naive(valid_until):
        errors["valid_until"] = ["Naive datetime."]
    elif valid_until <= now:
        errors["valid_until"] = ["Must be in the future."]
    if Decimal(available_kw) < 0:
        errors["available_kw"] = ["Must not be negative."]
    if soc_percent is not None and not (Decimal("0") <= Decimal(soc_percent) <= Decimal("100")):
        errors["soc_percent"] = ["Must be between 0 and 100."]
    if errors:
        raise ApplicationError("Invalid availability declaration.", fields=errors)
    Premise.objects.select_for_update().filter(pk=premise.pk).first()
    return AvailabilityDeclaration.objects.create(
        premise=premise,
        declared_by=organisation,
        available_kw=Decimal(available_kw),
        soc_percent=None if soc_percent is None else Decimal(soc_percent),
        valid_from=now,
        valid_until=valid_until,
        created_at=now,
    )


def assessment_recompute_meter(*, meter_id: int, as_of: date | None = None, now: datetime | None = None) -> None:
    """Recompute a meter's validation status, accuracy report and its premise's flexibility profile (after new
    data, nightly)."""
    meter = Meter.objects.select_related("premise").get(pk=meter_id)
    meter_status_refresh(meter=meter, now=now)
    if as_of is None:
        latest = MeterReading.objects.filter(meter=meter).order_by("-start").values_list("start", flat=True).first()
        if latest is None:
            return
        from zoneinfo import ZoneInfo

        as_of = latest.astimezone(ZoneInfo(meter.premise.timezone)).date() + timedelta(days=1)
    baseline_accuracy_report(meter=meter, as_of=as_of, now=now)
    flexibility_profile_compute(premise=meter.premise, as_of=as_of, now=now)


def meters_with_data_ids() -> list[int]:
    """Every meter with readings, by id (one index probe per meter, not a scan of every reading)."""
    from django.db.models import Exists, OuterRef

    has_data = Exists(MeterReading.objects.filter(meter_id=OuterRef("pk")))
    return list(Meter.objects.filter(has_data).order_by("pk").values_list("pk", flat=True))


def assessment_recompute_all(*, now: datetime | None = None) -> int:
    """Nightly: every meter with data."""
    return assessment_recompute_meters(meter_ids=meters_with_data_ids(), now=now)


def assessment_recompute_meters(*, meter_ids: list[int], now: datetime | None = None) -> int:
    """Recompute these meters (a chunk of the nightly recompute; safe to run again): the rows
    :func:`assessment_recompute_meter` stores for each, computed set-based (:mod:`assessment.recompute`)."""
    from .recompute import recompute_meters

    return recompute_meters(meter_ids=meter_ids, now=now)


def meter_status_refresh(*, meter: Meter, now: datetime | None = None):
    """Re-assess a meter's connectivity, data quality and validation over the last ``METER_VALIDATION_MIN_DAYS``
    complete local days, and store it on its :class:`~assessment.models.MeterStatus`
    (:func:`assessment.status_services.meter_statuses_refresh_many` for this one meter)."""
    return meter_statuses_refresh_many(meter_ids=[meter.pk], now=now)[0]


STATUS_CHUNK = 200  # meters refreshed together by the hourly sweep


def meter_statuses_refresh(*, now: datetime | None = None) -> int:
    """Refresh the status of every meter, a chunk of meters per transaction; returns how many were refreshed.
    A chunk that fails is refreshed again meter by meter, so that one meter's bad data never stops the others."""
    now = now or timezone.now()
    count = 0
    failed: list[str] = []
    ids = list(Meter.objects.order_by("pk").values_list("pk", flat=True))
    for i in range(0, len(ids), STATUS_CHUNK):
        chunk = ids[i : i + STATUS_CHUNK]
        try:
            count += len(meter_statuses_refresh_many(meter_ids=chunk, now=now))
            continue
        except Exception:  # noqa: BLE001 - the chunk is retried meter by meter below, each failure logged
            log.warning(
                "meter status refresh: chunk from meter pk %s failed; refreshing its meters one by one", chunk[0]
            )
        for meter in Meter.objects.select_related("premise").filter(pk__in=chunk).order_by("pk"):
            try:  # its transaction alone rolls back
                meter_status_refresh(meter=meter, now=now)
            except Exception:  # noqa: BLE001 - reported below and in the log, with its traceback
                log.exception("meter status refresh failed for meter %s", meter.meter_id)
                failed.append(meter.meter_id)
                continue
            count += 1
    if failed:
        log.error("meter status refresh: %d meter(s) failed: %s", len(failed), ", ".join(failed[:50]))
    return count
