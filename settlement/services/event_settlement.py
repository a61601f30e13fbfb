"""Event settlement within minutes: an event is settled as soon as its verification is final.

Activation announces a committed verification (``activation.signals.verification_final``, ADR 0017); settlement's
``AppConfig.ready()`` connects it to the ``settle_verified_event`` task, which calls :func:`event_settle`. The
event is settled by the one settlement engine (:func:`settlement.services.runs.settlement_run_execute`) over the
5-minute window holding the event's start (and, for a load-shifting resource, the window holding its recovery
end, where its energy credit is due): the same items, amounts and business keys as the daily run, so the
daily run stays the sweep that pays whatever the event path missed (a lost task, an event verified before this
path existed), and exactly-once holds across both by the journal entries' business keys (ADR 0008: overlapping
windows are safe). Every event starting in that window that is verified by then is settled with it.

Timeline: CAISO settles demand response on a fixed statement cycle (the Initial Settlement Statement T+3 business
days after the trade date, recalculations at T+12 business days and later; CAISO BPM for Settlements and Billing,
"Settlement Timeline"); ISO statements are the outer bound, not the target. This platform pays its participants
on verification instead (ADR 0027), and keeps the daily sweep for completeness.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from accounts.models import Device
from activation.models import DREvent, EventVerification
from flexplatform.errors import ApplicationError

from ..errors import SettlementError
from ..models import SettlementItem, SettlementRun
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
    twice."""
    now = now or timezone.now()
    start = DREvent.objects.filter(pk=event_id).values_list("start", flat=True).first()
    if start is None or not EventVerification.objects.filter(event_id=event_id).exists():
        raise ApplicationError(f"Event {event_id} has not been verified.", code=SettlementError.NOT_VERIFIED)
    window_start, window_end = event_window(start)
    if window_end > now:
        return None
    # Events verified together start together: the first task's run pays every one verified by then, so a task
    # whose event that window's run has paid already runs nothing (the window's run again would pay nothing and
    # cost as much as the whole window: one run per event made the day's event settlement O(events^2), issue #21).
    paid = SettlementItem.objects.filter(
        event_id=event_id, run__window_start=window_start, run__window_end=window_end
    ).exists()
    if paid:
        run = SettlementRun.objects.get(window_start=window_start, window_end=window_end)
    else:
        run = settlement_run_execute(
            window_start=window_start, window_end=window_end, trigger=SettlementRun.Trigger.EVENT, now=now
        )
    # A load-shifting resource's energy credit is due in the window holding the nominal recovery end (event end +
    # ``shift_recovery_hours``; settlement.services.shifting): settled now too when that window has ended.
    end, premise_id = DREvent.objects.filter(pk=event_id).values_list("end", "premise_id").get()
    if Device.objects.filter(premise_id=premise_id, active=True, kind__in=SHIFTING_KINDS).exists():
        hours = market_parameter("shift_recovery_hours")
        recovery_start, recovery_end = event_window(end + timedelta(minutes=int(hours * 60)))
        paid = SettlementItem.objects.filter(
            event_id=event_id, run__window_start=recovery_start, run__window_end=recovery_end
        ).exists()  # its credit paid by that window's run for an earlier task: nothing more to run
        if recovery_end <= now and recovery_start != window_start and not paid:
            settlement_run_execute(
                window_start=recovery_start, window_end=recovery_end, trigger=SettlementRun.Trigger.EVENT, now=now
            )
    return run
