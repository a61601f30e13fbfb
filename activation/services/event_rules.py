"""The rules an event must meet to be created: its window and notice, the program's per-day and per-month caps."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count

from flexplatform.errors import ApplicationError, Conflict

from ..bulk import chunks
from ..errors import ActivationErrorCode as Code
from ..models import DREvent, Program


def event_caps_check(*, program: Program, premise, start: datetime) -> None:
    """Max events per local day and per local month for the premise (every non-cancelled event counts)."""
    over = premises_over_caps(program=program, premises=[premise], start=start).get(premise.pk)
    if over is None:
        return
    code, n = over
    if code == Code.CAP_PER_DAY:
        raise Conflict(
            f"{premise} already has {n} event(s) that day (program max {program.max_events_per_day}).", code=code
        )
    raise Conflict(
        f"{premise} already has {n} event(s) that month (program max {program.max_events_per_month}).", code=code
    )


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


def premises_over_caps(*, program, premises: list, start: datetime) -> dict[int, tuple[str, int]]:
    """Premise id -> (``cap_per_day`` / ``cap_per_month``, events counted) for the premises that already have the
    program's maximum number of (non-cancelled, any program) events on the local day / in the local month of
    ``start``: the one place of the caps rule (:func:`event_caps_check` asks it for one premise); two grouped
    queries per time zone."""
    by_tz: dict[str, list[int]] = defaultdict(list)
    for p in premises:
        by_tz[p.timezone].append(p.pk)
    over: dict[int, tuple[str, int]] = {}
    for tz, ids in by_tz.items():
        local = start.astimezone(ZoneInfo(tz))
        day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        month_start = day_start.replace(day=1)
        next_month = (month_start + timedelta(days=32)).replace(day=1)
        for chunk in chunks(ids):
            live = DREvent.objects.filter(premise_id__in=chunk).exclude(status=DREvent.Status.CANCELLED).order_by()
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
            for pk in chunk:
                if day.get(pk, 0) >= program.max_events_per_day:
                    over[pk] = (Code.CAP_PER_DAY, day[pk])
                elif month.get(pk, 0) >= program.max_events_per_month:
                    over[pk] = (Code.CAP_PER_MONTH, month[pk])
    return over
