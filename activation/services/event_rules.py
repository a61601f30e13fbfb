"""The rules an event must meet, whatever created it (an operator, a trigger, a cascade, a market award, a called
reservation, an emergency call): its window and the program's notice, and the program's per-day and per-month caps
for the premise. One rule, two answers: :func:`event_caps_refusal` says why an event may not go out (the market
award path records it on the event, which is then not dispatched); :func:`event_caps_check` and
:func:`event_window_check` refuse an interactive caller with the same reason.

What counts as one event for the caps: an event that starts exactly when another live event of the premise ends
continues it (a day-ahead block of consecutive hourly awards is one curtailment, as a utility program counts an
event: one dispatch of the resource), so it is counted once, on the day its first part starts. Cancelled events
never count.

The owner's limits per device (its own events per day / month, maximum duration, notice, comfort band, state of
charge) are not checked here: every event, whatever its source, is split over the devices through the one device
selector (``activation.selectors.events_devices`` -> ``accounts.selectors.devices``), which gives a device past
one of its limits 0 kW, so it is never commanded; what was not commanded is never the consumer's shortfall
(``selectors.event_accountable_kw``, ADR 0029).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, Exists, OuterRef, Q

from flexplatform.errors import ApplicationError, Conflict

from ..bulk import chunks, in_values
from ..errors import ActivationErrorCode as Code
from ..models import DREvent, Program


@dataclass(frozen=True)
class Refusal:
    """Why an event may not go out: an error code and a sentence for the record or the caller."""

    code: str
    detail: str
    fields: dict[str, list[str]] = field(default_factory=dict)


def event_caps_refusal(*, program: Program, premise, start: datetime, end: datetime | None = None) -> Refusal | None:
    """The program's caps for one premise: None when an event ``[start, end)`` may be added."""
    return caps_refusal(
        program=program,
        premise=premise,
        over=premises_over_caps(program=program, premises=[premise], start=start, end=end).get(premise.pk),
    )


def caps_refusal(*, program: Program, premise, over: tuple[str, int] | None) -> Refusal | None:
    """The refusal for one premise's entry of :func:`premises_over_caps` (None: not over a cap), for callers that
    asked about many premises at once (``awards.events_create_for_awards``)."""
    if over is None:
        return None
    code, n = over
    if code == Code.CAP_PER_DAY:
        return Refusal(code, f"{premise} already has {n} event(s) that day (program max {program.max_events_per_day}).")
    return Refusal(code, f"{premise} already has {n} event(s) that month (program max {program.max_events_per_month}).")


def event_caps_check(*, program: Program, premise, start: datetime, end: datetime | None = None) -> None:
    """Max events per local day and per local month for the premise (every non-cancelled event counts, a
    continuation once): refused with ``cap_per_day`` / ``cap_per_month``."""
    refusal = event_caps_refusal(program=program, premise=premise, start=start, end=end)
    if refusal is not None:
        raise Conflict(refusal.detail, code=refusal.code)


def event_window_check(*, program: Program, start: datetime, end: datetime, now: datetime) -> None:
    """The event window is ordered and not over, and it respects the program's notice."""
    if end <= start:
        raise ApplicationError("The event must end after it starts.", fields={"end": ["Must be after start."]})
    if end <= now:
        raise ApplicationError("The event window is over.", fields={"end": ["Must be in the future."]})
    if start - now < timedelta(minutes=program.notice_minutes):
        raise ApplicationError(
            f"The program needs {program.notice_minutes} minutes' notice; the event starts in "
            f"{max(int((start - now).total_seconds() // 60), 0)}.",
            code=Code.NOTICE_TOO_SHORT,
            fields={"start": [f"At least {program.notice_minutes} minutes from now."]},
        )


def _live():
    return DREvent.objects.exclude(status=DREvent.Status.CANCELLED).order_by()


def premises_over_caps(
    *, program, premises: list, start: datetime, end: datetime | None = None
) -> dict[int, tuple[str, int]]:
    """Premise id -> (``cap_per_day`` / ``cap_per_month``, events counted) for the premises that already have the
    program's maximum number of (non-cancelled, any program) events on the local day / in the local month of
    ``start``: the one place of the caps rule (:func:`event_caps_check` asks it for one premise). An event that
    continues another (starts when it ends) is not counted; with ``end``, a new event ``[start, end)`` that
    continues, or is continued by, a live event of the premise adds no event, so it is never over. Three
    grouped queries per time zone."""
    by_tz: dict[str, list[int]] = defaultdict(list)
    for p in premises:
        by_tz[p.timezone].append(p.pk)
    over: dict[int, tuple[str, int]] = {}
    continues = _live().filter(premise_id=OuterRef("premise_id"), end=OuterRef("start"))
    for tz, ids in by_tz.items():
        local = start.astimezone(ZoneInfo(tz))
        day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        month_start = day_start.replace(day=1)
        next_month = (month_start + timedelta(days=32)).replace(day=1)
        for chunk in chunks(ids):
            live = _live().filter(premise_id__in=in_values(chunk)).exclude(Exists(continues))
            month = dict(
                live.filter(start__gte=month_start, start__lt=next_month)
                .values_list("premise_id")
                .annotate(n=Count("id"))
                .values_list("premise_id", "n")
            )
            day = dict(
                live.filter(start__gte=day_start, start__lt=day_start + timedelta(days=1))
                .values_list("premise_id")
                .annotate(n=Count("id"))
                .values_list("premise_id", "n")
            )
            adjacent: set[int] = set()
            if end is not None:
                adjacent = set(
                    _live()
                    .filter(Q(end=start) | Q(start=end), premise_id__in=in_values(chunk))
                    .values_list("premise_id", flat=True)
                )
            for pk in chunk:
                if pk in adjacent:
                    continue
                if day.get(pk, 0) >= program.max_events_per_day:
                    over[pk] = (Code.CAP_PER_DAY, day[pk])
                elif month.get(pk, 0) >= program.max_events_per_month:
                    over[pk] = (Code.CAP_PER_MONTH, month[pk])
    return over
