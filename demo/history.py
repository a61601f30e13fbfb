"""The demo's meter data: weeks of synthetic 15-minute history per meter (imported as a utility export), and the
market day's readings with each dispatched resource's response."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from accounts.models import Meter
from activation.models import DREvent
from assessment.ingest.services import readings_import
from assessment.ingest.types import ParsedReading, ParseResult
from assessment.models import ImportBatch, MeterReading, MeterStatus
from assessment.services import interval_starts, meter_readings_record, meter_status_refresh
from assessment.synthetic import load_profile_kwh, response_kwh

from .weather import meter_seed
from .world import HISTORY_DAYS, TZ, World, local_day_bounds


def history_load(*, world: World, until: date, days: int = HISTORY_DAYS) -> int:
    """Meter data for the ``days`` local days before ``until`` (idempotent; only missing days are made), then
    each meter's validation is refreshed (the market offers only premises with a validated meter)."""
    stored = 0
    for premise in world.premises:
        stored += meter_history_load(meter=premise.meters.get(), until=until, days=days)
    return stored


def meter_history_load(*, meter: Meter, until: date, days: int) -> int:
    """``days`` local days of synthetic 15-minute history before ``until`` for one meter, imported the way a
    utility's history export arrives (carrying the premise's utility account, which shows ownership), then the
    meter's validation status refreshed. Returns how many readings were new."""
    premise = meter.premise
    start, _ = local_day_bounds(until - timedelta(days=days))
    end, _ = local_day_bounds(until)
    have = set(
        MeterReading.objects.filter(meter=meter, start__gte=start, start__lt=end).values_list("start", flat=True)
    )
    starts = [s for s in interval_starts(start, end, meter.interval_minutes) if s not in have]
    new, stored = 0, {}
    if not starts and not MeterStatus.objects.filter(meter=meter, ownership_verified_at__isnull=False).exists():
        # A world loaded before imports showed ownership: re-send its last stored day (changes no reading).
        starts = list(
            MeterReading.objects.filter(meter=meter, start__lt=end)
            .order_by("-start")
            .values_list("start", flat=True)[: 24 * 60 // meter.interval_minutes]
        )[::-1]
        stored = dict(MeterReading.objects.filter(meter=meter, start__in=starts).values_list("start", "kwh"))
    if starts:
        values = load_profile_kwh(segment=premise.segment, seed=meter_seed(meter), starts=starts, tz=TZ)
        rows = [
            ParsedReading(meter.meter_id, s, stored.get(s, Decimal(v).quantize(Decimal("0.0001"))), f"history {i + 1}")
            for i, (s, v) in enumerate(zip(starts, values, strict=True))
        ]
        batch = readings_import(
            user=None,
            source=ImportBatch.Source.JSON,
            parsed=ParseResult(rows=rows),
            filename="utility-history-export",
            account_number=premise.utility_account_number,
        )
        new = batch.rows_new
    meter_status_refresh(meter=meter)
    return new


def _day_readings(*, meter: Meter, day: date, events: list[DREvent]) -> tuple[list, list[Decimal], dict[int, Decimal]]:
    """The meter's readings for ``day`` with each event's response applied, and the true reduction per event
    (the generator's counterfactual load minus what it metered over the event's intervals)."""
    start, end = local_day_bounds(day)
    starts = interval_starts(start, end, meter.interval_minutes)
    values = load_profile_kwh(segment=meter.premise.segment, seed=meter_seed(meter), starts=starts, tz=TZ)
    truth: dict[int, Decimal] = {}
    for event in events:
        # Most respond fully, some partly, a few not at all.
        # Seeded by what the event is (its premise's meter, window and program), not its id: the same world
        # responds the same way whatever rows the database held before.
        key = f"{meter.meter_id}|{event.start.isoformat()}|{event.end.isoformat()}|{event.source}|{event.target_kw}"
        r = random.Random(key).random()  # noqa: S311
        compliance = 0.0 if r < 0.08 else (0.55 if r < 0.25 else 1.0)
        idx = [i for i, s in enumerate(starts) if event.start <= s < event.end]
        actual = response_kwh(
            baseline_kwh=[values[i] for i in idx],
            reduction_kw=event.target_kw,
            interval_minutes=meter.interval_minutes,
            compliance=compliance,
        )
        truth[event.pk] = sum((Decimal(values[i]) - v for i, v in zip(idx, actual, strict=True)), Decimal("0"))
        for i, v in zip(idx, actual, strict=True):
            values[i] = v
    return starts, values, truth


def _events_by_premise(day: date) -> dict[int, list[DREvent]]:
    start, end = local_day_bounds(day)
    events: dict[int, list[DREvent]] = {}
    for e in DREvent.objects.filter(start__gte=start, start__lt=end).select_related("premise").order_by("start", "pk"):
        events.setdefault(e.premise_id, []).append(e)
    return events


def day_readings_load(*, world: World, day: date) -> dict[int, Decimal]:
    """Record the market day's meter data with each dispatched resource's response; returns the true reduction
    per event (kWh) that the generator applied, the ground truth measured delivery is compared with."""
    events = _events_by_premise(day)
    truth: dict[int, Decimal] = {}
    for premise in world.premises:
        meter = premise.meters.get()
        starts, values, true = _day_readings(meter=meter, day=day, events=events.get(premise.pk, []))
        truth.update(true)
        meter_readings_record(meter=meter, readings=list(zip(starts, values, strict=True)))
    return truth


def day_true_reductions(*, world: World, day: date) -> dict[int, Decimal]:
    """The true reduction per event of ``day`` (kWh), as :func:`day_readings_load` applied it: the generator is
    deterministic per meter and event, so a summary read back from the database knows the truth too."""
    events = _events_by_premise(day)
    truth: dict[int, Decimal] = {}
    for premise in world.premises:
        if premise.pk in events:
            truth.update(_day_readings(meter=premise.meters.get(), day=day, events=events[premise.pk])[2])
    return truth
