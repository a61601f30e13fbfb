"""Event settlement within minutes: an event is settled as soon as its verification is final.

Activation announces a committed verification (``activation.signals.verification_final``, ADR 0017); settlement's
``AppConfig.ready()`` connects it to the ``settle_verified_event`` task, which calls :func:`event_settle`. The
event is settled by the one settlement engine (:func:`settlement.services.runs.settlement_run_execute`) over the
5-minute window holding the event's start (and, for a load-shifting resource, the window holding its recovery
end, where its energy credit is due): the same items, amounts and business keys as the daily run, so the
daily run stays the sweep that pays whatever the event path missed (a lost task, an event verified before this
path existed), and exactly-once holds across both by the journal entries' business keys (ADR 0008: overlapping
windows are safe). Every event starting in that window that is verified by then is settled with it. The
workers' verification sweep announces a chunk at once (``activation.signals.verifications_final``): its
``settle_verified_events`` task settles the chunk with :func:`events_settle`, each window once (ADR 0044).

Timeline: CAISO settles demand response on a fixed statement cycle (the Initial Settlement Statement T+3 business
days after the trade date, recalculations at T+12 business days and later; CAISO BPM for Settlements and Billing,
"Settlement Timeline"); ISO statements are the outer bound, not the target. This platform pays its participants
on verification instead (ADR 0027), and keeps the daily sweep for completeness.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.utils import timezone

from accounts.models import Device
from activation.models import EventVerification
from flexplatform.errors import ApplicationError

from ..errors import SettlementError
from ..models import SettlementCoverage, SettlementRun
from ..selectors import market_parameter
from .runs import settlement_run_execute
from .shifting import SHIFTING_KINDS

WINDOW = timedelta(minutes=5)


def event_window(start: datetime) -> tuple[datetime, datetime]:
    """The 5-minute settlement window ``[floor5(start), floor5(start) + 5 min)`` holding an event's start."""
    t = start.astimezone(UTC)
    floor = t.replace(minute=t.minute - t.minute % 5, second=0, microsecond=0)
    return floor, floor + WINDOW


def event_settle(*, event_id: int, now: datetime | None = None) -> SettlementRun | None:
    """Settle the verified event now (with any other verified event starting in its 5-minute window).

    Refused when the event is not verified; ``None`` when its window has not ended yet (an event shorter than
    5 minutes verified at once): the daily run settles it. A repeat, or a race with the daily run, pays nothing
    twice; a task whose verification a run has settled already runs nothing (:class:`SettlementCoverage`)."""
    now = now or timezone.now()
    row = (
        EventVerification.objects.filter(event_id=event_id)
        .values_list("pk", "event__start", "event__end", "event__premise_id")
        .first()
    )
    if row is None:
        raise ApplicationError(f"Event {event_id} has not been verified.", code=SettlementError.NOT_VERIFIED)
    verification_id, start, end, premise_id = row
    window_start, window_end = event_window(start)
    if window_end > now:
        return None
    run = _window_settle(window_start, window_end, verification_id, SettlementCoverage.Role.EVENT, now=now)
    # A load-shifting resource's energy credit is due in the window holding the nominal recovery end (event end +
    # ``shift_recovery_hours``; settlement.services.shifting): settled now too when that window has ended.
    if Device.objects.filter(premise_id=premise_id, active=True, kind__in=SHIFTING_KINDS).exists():
        hours = market_parameter("shift_recovery_hours")
        recovery_start, recovery_end = event_window(end + timedelta(minutes=int(hours * 60)))
        if recovery_end <= now and recovery_start != window_start:
            _window_settle(recovery_start, recovery_end, verification_id, SettlementCoverage.Role.RECOVERY, now=now)
    return run


def events_settle(*, event_ids: list[int], now: datetime | None = None) -> list[int]:
    """:func:`event_settle` for a chunk of events at once (issue #21, ADR 0044): their verifications, markers
    and shifting devices read in three queries, then each window they need run once (in time order, under its
    lock) unless every verification it is needed for is covered already. The same runs as the events' tasks one
    by one would make, so the same items; an event not verified is skipped (the daily run is the sweep), a repeat
    runs nothing. Returns the ids of the runs made."""
    now = now or timezone.now()
    rows = list(
        EventVerification.objects.filter(event_id__in=event_ids)
        .order_by("event_id")
        .values_list("pk", "event__start", "event__end", "event__premise_id")
    )
    if not rows:
        return []
    covered = set(
        SettlementCoverage.objects.filter(verification_id__in=[r[0] for r in rows]).values_list(
            "verification_id", "role"
        )
    )
    shifting = set(
        Device.objects.filter(premise_id__in={r[3] for r in rows}, active=True, kind__in=SHIFTING_KINDS).values_list(
            "premise_id", flat=True
        )
    )
    hours = market_parameter("shift_recovery_hours") if shifting else None
    windows: dict[tuple[datetime, datetime, str], list[int]] = {}
    for verification_id, start, end, premise_id in rows:
        window_start, window_end = event_window(start)
        if window_end > now:
            continue  # not ended yet: the daily run settles it
        windows.setdefault((window_start, window_end, SettlementCoverage.Role.EVENT), []).append(verification_id)
        if premise_id in shifting:
            recovery_start, recovery_end = event_window(end + timedelta(minutes=int(hours * 60)))
            if recovery_end <= now and recovery_start != window_start:
                key = (recovery_start, recovery_end, SettlementCoverage.Role.RECOVERY)
                windows.setdefault(key, []).append(verification_id)
    runs = []
    for (window_start, window_end, role), ids in sorted(windows.items()):
        if all((v, role) in covered for v in ids):
            continue
        with _window_lock(window_start):
            # again under the lock: a task of this window may have run it meanwhile
            if SettlementCoverage.objects.filter(verification_id__in=ids, role=role).count() < len(ids):
                run = settlement_run_execute(
                    window_start=window_start, window_end=window_end, trigger=SettlementRun.Trigger.EVENT, now=now
                )
                runs.append(run.pk)
    return runs


def _window_settle(
    window_start: datetime, window_end: datetime, verification_id: int, role: str, *, now: datetime
) -> SettlementRun:
    """Run the window unless a run has settled this verification in this role already (issue #21: the first
    task of a window's events pays them all; without this check every later one re-ran the whole window, so the
    cost of a window grew with the square of its events). Tasks of one window wait for each other (an advisory
    lock on the window, Postgres), so the second finds its verification covered instead of running the window
    again beside the first; exactly-once never rests on that lock but on the journal's business keys."""
    covered = SettlementCoverage.objects.filter(verification_id=verification_id, role=role)
    if not covered.exists():
        with _window_lock(window_start):
            if not covered.exists():  # again under the lock: a task of this window may have run it meanwhile
                return settlement_run_execute(
                    window_start=window_start, window_end=window_end, trigger=SettlementRun.Trigger.EVENT, now=now
                )
    run = SettlementRun.objects.filter(window_start=window_start, window_end=window_end).first()
    return run or SettlementCoverage.objects.select_related("run").get(verification_id=verification_id, role=role).run


#: first key of the two-key advisory lock on a 5-minute settlement window (the second: the window's number)
_LOCK_NAMESPACE = 0x5E7721


@contextmanager
def _window_lock(window_start: datetime) -> Iterator[None]:
    """Postgres advisory lock on the window: a session lock released at the end, or, inside a transaction, a
    transaction lock (released at its commit or rollback). Nothing to wait for elsewhere (SQLite: one writer)."""
    if connection.vendor != "postgresql":
        yield
        return
    key = int(window_start.timestamp()) // int(WINDOW.total_seconds())
    if connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, key])
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, key])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_NAMESPACE, key])
