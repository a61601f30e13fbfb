"""The window assessment: every metered premise's flexible capacity for a delivery window, before gate closure,
in chunks of premises that the workers share (write service; the Celery adapters are ``assessment.tasks``).

A chunk is assessed set-based, with the rule of :func:`assessment.services.flexibility_assess` (a forecast
baseline from the premise's revenue meter, capped device capacity, ADR 0029) and the same rows: the premises,
their assessments and baselines already stored, their meters, the readings of every meter (one statement), their
event days, devices, event usage, declared states of charge and labelled estimates are read once per chunk; the
forecast baselines run vectorised across the chunk (:func:`assessment.baselines.batch.outcomes_many`, the
numbers of :func:`assessment.baselines.compute.compute`); baselines, their intervals and the assessments are
written in bulk, in one transaction. A weather-sensitive forecast method (CalTRACK) keeps the premise-by-premise
path (one model fit and one weather read per meter either way).

An assessment already stored for the window is kept, and a stored baseline for the window is reused: a chunk run
twice writes nothing new. If another worker stores some of the chunk's rows at the same moment, the chunk's
transaction fails on their unique keys, is rolled back and runs once more, keeping what the other stored. One
premise's refusal (no meter, too little history, a window it cannot take) is logged and does not stop its chunk.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import GridZone, Meter, Premise
from accounts.selectors import zone_with_descendant_ids
from flexplatform.errors import ApplicationError

from . import hooks, selectors
from .baselines.batch import Case, MeterDays, outcomes_many
from .baselines.compute import METHODS
from .device_capacity import premises_device_capacity
from .models import Baseline, BaselineInterval, FlexibilityAssessment
from .services import (
    BaselineWindow,
    assessment_unsaved,
    baseline_unsaved,
    baseline_window,
    flexibility_assess,
    forecast_kw,
)

log = logging.getLogger(__name__)


def window_assessment_premise_ids(*, zone: GridZone | None = None) -> list[int]:
    """The premises to assess for a window: every premise with a meter (in ``zone`` or below it, if given),
    grouped by grid zone (a chunk then covers one zone, or a few), then by id."""
    premises = Premise.objects.filter(meters__isnull=False)
    if zone is not None:
        premises = premises.filter(grid_zone_id__in=zone_with_descendant_ids([zone]))
    return list(premises.distinct().order_by("grid_zone_id", "pk").values_list("pk", flat=True))


def flexibility_assess_premises(
    *, premise_ids: Iterable[int], window_start: datetime, window_end: datetime, now: datetime | None = None
) -> int:
    """Assess these premises for ``[window_start, window_end)``; returns how many have an assessment for the
    window afterwards. Safe to run again, and beside another run of the same chunk."""
    ids = sorted(set(premise_ids))
    method = settings.ASSESSMENT_FORECAST_METHOD
    if METHODS[method]["family"] == "caltrack":
        return _one_by_one(ids, window_start, window_end, now)
    now = now or timezone.now()
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                return _assess_chunk(ids, window_start, window_end, now, method)
        except IntegrityError:
            if attempt == 2:
                raise
            log.info("window assessment: premises %s..%s stored meanwhile by another run; again", ids[0], ids[-1])
    raise AssertionError("unreachable")


def _one_by_one(ids: list[int], window_start: datetime, window_end: datetime, now: datetime | None) -> int:
    """:func:`assessment.services.flexibility_assess` per premise (one transaction each)."""
    done = 0
    for premise in Premise.objects.filter(pk__in=ids).order_by("pk"):
        try:
            flexibility_assess(premise=premise, window_start=window_start, window_end=window_end, now=now)
        except ApplicationError as exc:
            log.warning("window assessment: premise %s not assessed: %s", premise.pk, exc.detail)
            continue
        done += 1
    return done


def _assess_chunk(ids: list[int], window_start: datetime, window_end: datetime, now: datetime, method: str) -> int:
    stored = set(
        FlexibilityAssessment.objects.filter(
            premise_id__in=ids, window_start=window_start, window_end=window_end
        ).values_list("premise_id", flat=True)
    )
    premises = {p.pk: p for p in Premise.objects.filter(pk__in=[i for i in ids if i not in stored]).order_by("pk")}
    if not premises:
        return len(stored)
    meters: dict[int, Meter] = {}  # premise id -> its revenue meter (the first by id)
    for meter in Meter.objects.filter(premise_id__in=list(premises)).order_by("premise_id", "id"):
        if meter.premise_id not in meters:
            meter.premise = premises[meter.premise_id]
            meters[meter.premise_id] = meter
    windows: dict[int, BaselineWindow] = {}
    for premise_id in premises:
        meter = meters.get(premise_id)
        try:
            if meter is None:
                raise ApplicationError("The premise has no meter.")
            windows[premise_id] = baseline_window(meter=meter, window_start=window_start, window_end=window_end)
        except ApplicationError as exc:
            log.warning("window assessment: premise %s not assessed: %s", premise_id, exc.detail)
    baselines = {
        b.meter_id: b
        for b in Baseline.objects.filter(
            meter_id__in=[meters[pk].pk for pk in windows],
            method=method,
            window_start=window_start,
            window_end=window_end,
        )
        .order_by()
        .only("pk", "meter_id", "total_kwh")
    }
    todo = [pk for pk in windows if meters[pk].pk not in baselines]
    new = _baselines_compute(todo, meters, windows, method, now)
    if new:
        Baseline.objects.bulk_create([b for b, _ in new.values()])
        intervals = []
        for baseline, rows in new.values():
            for row in rows:
                row.baseline = baseline
            intervals += rows
        BaselineInterval.objects.bulk_create(intervals)
        baselines.update((b.meter_id, b) for b, _ in new.values())
    assessed = [pk for pk in windows if meters[pk].pk in baselines]
    demand = {
        pk: forecast_kw(total_kwh=baselines[meters[pk].pk].total_kwh, window_start=window_start, window_end=window_end)
        for pk in assessed
    }
    capacity = premises_device_capacity(
        premises=[premises[pk] for pk in assessed], start=window_start, end=window_end, baseline_kw=demand
    )
    FlexibilityAssessment.objects.bulk_create(
        [
            assessment_unsaved(
                premise=premises[pk],
                baseline=baselines[meters[pk].pk],
                window_start=window_start,
                window_end=window_end,
                baseline_kw=demand[pk],
                capacity=capacity[pk],
                now=now,
            )
            for pk in assessed
        ]
    )
    return len(stored) + len(assessed)


def _baselines_compute(
    todo: list[int], meters: dict[int, Meter], windows: dict[int, BaselineWindow], method: str, now: datetime
) -> dict[int, tuple[Baseline, list[BaselineInterval]]]:
    """The forecast baselines of these premises' meters (premise id -> unsaved baseline and intervals), as
    :func:`assessment.services.baseline_compute` computes them one by one: ``method``'s look-back before the
    window's local day, the premise's event days before it and outage days excluded; a meter with too little
    history is logged and left out."""
    if not todo:
        return {}
    lookback = METHODS[method]["lookback_days"]
    spans = [(meters[pk], windows[pk].target_day - timedelta(days=lookback), windows[pk].target_day) for pk in todo]
    grids = selectors.meter_day_grids(spans=spans)
    events = hooks.activation().event_days_many(timezones={pk: meters[pk].premise.timezone for pk in todo})
    groups: dict[tuple[int, int], list[tuple[int, Case]]] = {}
    for pk in todo:
        meter, window = meters[pk], windows[pk]
        grid = grids[meter.pk]
        excluded = {d for d in events[pk] if d < window.target_day} | selectors.outage_days(grid)
        days = MeterDays(grid=grid, excluded=excluded)
        target = grid.index_of(window.target_day)
        worked = days.holidays_worked([target])[target]
        groups.setdefault((window.first_slot, window.last_slot), []).append((pk, Case(days, target, worked)))
    out = {}
    for (first_slot, last_slot), group in groups.items():
        found = outcomes_many(method=method, cases=[c for _, c in group], start_slot=first_slot, end_slot=last_slot)
        for (pk, _), outcome in zip(group, found, strict=True):
            meter = meters[pk]
            if outcome is None:
                log.warning(
                    "window assessment: premise %s not assessed: Meter %s: %s: not enough eligible days or readings "
                    "for %s.",
                    pk,
                    meter.meter_id,
                    method,
                    windows[pk].target_day,
                )
                continue
            out[pk] = baseline_unsaved(
                meter=meter, window=windows[pk], outcome=outcome, weather={}, choice=None, now=now
            )
    return out
