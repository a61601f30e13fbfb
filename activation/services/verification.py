"""Verification of delivery: baseline minus actual over the event, from meter data or the VEN's reports.

Rule: performance is evaluated over the event. The NAESB WEQ Business Practice Standards for Measurement and
Verification of Wholesale Electricity Demand Response (WEQ-015) define the demand reduction value as the
baseline minus the metered load over the event's performance window; CAISO's PDR settlement (BPM for Demand
Response, performance evaluation methodology) nets the intervals of the dispatch the same way. Flooring each
interval at zero before summing would pay noise as delivery (an interval above the baseline would be dropped,
one below it paid), biasing every resource, a non-performing one included, upwards.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from assessment.selectors import meter_readings
from assessment.services import baseline_compute, interval_starts
from flexplatform.errors import ApplicationError

from ..errors import ActivationErrorCode as Code
from ..models import DataSource, DREvent, EventVerification, VerificationInterval
from ..selectors import ven_reported_energy
from ..signals import verification_final, verifications_final
from .performance import event_performance_record
from .units import KWH
from .verification_chunk import events_verify_chunk


def event_verify(*, event_id: int, now: datetime | None = None) -> EventVerification:
    """Verify one event (see :func:`_event_verify`) and announce it once committed: ``verification_final`` (the
    event) and ``penalty_recorded`` (its shortfall penalty, if any)."""
    return _event_verify(event_id=event_id, now=now, announce=True)[0]


def _event_verify(*, event_id: int, now: datetime | None, announce: bool) -> tuple[EventVerification, bool, int | None]:
    """Delivered energy = max(sum over the event's intervals of (baseline - actual), 0); stored once per event.

    Each interval's baseline - actual is kept signed in the record (``VerificationInterval.delivered_kwh``);
    only the event's total is floored at zero, and not even that for a program that ``allows_negative_credit``.

    The actual per interval is the meter reading, else the usage the resource's VEN reported over OpenADR 3 for
    that interval (meter data takes precedence); a resource without a meter is verified from its VEN's reports
    alone, against the BASELINE it reported. The record says which source was used (``actual_source``,
    ``baseline_source``, and per interval). Refused until the event has completed and every interval has data.

    Returns the verification, whether this call recorded it, and its shortfall penalty's id, if any.
    ``announce=False``: nothing is sent, the caller announces (:func:`events_verify`, issue #21).
    """
    now = now or timezone.now()
    with transaction.atomic():
        event = DREvent.objects.select_for_update(of=("self",)).select_related("premise", "program").get(pk=event_id)
        existing = EventVerification.objects.filter(event=event).first()
        if existing is not None:
            return existing, False, None
        if event.status != DREvent.Status.COMPLETED:
            raise ApplicationError(f"Event {event.pk} is {event.status}, not completed.", code=Code.INVALID_STATE)
        meter = event.premise.meters.order_by("id").first()
        minutes, reported = ven_reported_energy(event=event, minutes=meter.interval_minutes if meter else None)
        if meter is not None:
            baseline = baseline_compute(meter=meter, window_start=event.start, window_end=event.end, now=now)
            base = dict(baseline.intervals.values_list("start", "kwh"))
            actual = dict(meter_readings(meter=meter, start=event.start, end=event.end).values_list("start", "kwh"))
            baseline_source = DataSource.METER
        elif reported:
            baseline, baseline_source = None, DataSource.VEN_REPORT
            base = {s: v.baseline_kwh for s, v in reported.items() if v.baseline_kwh is not None}
            actual = {}
        else:
            raise ApplicationError("The premise has no meter and its VEN has reported nothing.", code=Code.NO_METER)
        starts = interval_starts(event.start, event.end, minutes)
        sources = {s: DataSource.METER for s in actual}
        for s, v in reported.items():
            if s not in actual and v.usage_kwh is not None:
                actual[s], sources[s] = v.usage_kwh, DataSource.VEN_REPORT
        missing = [s for s in starts if s not in actual or s not in base]
        if missing:
            raise ApplicationError(
                f"Event {event.pk}: {len(missing)} interval(s) without meter data or a VEN report, "
                f"first {missing[0].isoformat()}.",
                code=Code.METER_DATA_INCOMPLETE,
            )
        used = {sources[s] for s in starts}
        actual_source = used.pop() if len(used) == 1 else DataSource.MIXED
        rows = [(s, base[s], actual[s], base[s] - actual[s]) for s in starts]
        delivered = sum((r[3] for r in rows), Decimal("0"))
        if not (event.program_id and event.program.allows_negative_credit):
            delivered = max(delivered, Decimal("0"))
        hours = Decimal((event.end - event.start).total_seconds()) / Decimal(3600)
        verification = EventVerification.objects.create(
            event=event,
            baseline=baseline,
            baseline_source=baseline_source,
            actual_source=actual_source,
            baseline_kwh=sum((r[1] for r in rows), Decimal("0")),
            actual_kwh=sum((r[2] for r in rows), Decimal("0")),
            delivered_kwh=delivered,
            committed_kwh=(event.target_kw * hours).quantize(KWH),
            verified_at=now,
        )
        VerificationInterval.objects.bulk_create(
            [
                VerificationInterval(
                    verification=verification,
                    start=s,
                    baseline_kwh=b,
                    actual_kwh=a,
                    delivered_kwh=d,
                    actual_source=sources[s],
                )
                for s, b, a, d in rows
            ]
        )
        penalty = event_performance_record(
            event=event, verification=verification, rows=rows, now=now, announce=announce
        )
        # Final once committed: settlement pays the event at once (ADR 0027; the daily run ``settle-day`` is the
        # sweep); penalties are charged at once (``penalties.penalty_record``).
        if announce:
            event_id, verified_at = event.pk, verification.verified_at
            transaction.on_commit(
                lambda: verification_final.send(sender=EventVerification, event_id=event_id, verified_at=verified_at)
            )
    return verification, True, (penalty.pk if penalty is not None else None)


def events_due_for_verification() -> list[int]:
    """Completed events without a verification, oldest first."""
    return list(
        DREvent.objects.filter(status=DREvent.Status.COMPLETED, verification__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def events_verify_due(*, now: datetime | None = None) -> list[int]:
    """Verify every completed event without a verification whose meter data is complete."""
    return events_verify(event_ids=events_due_for_verification(), now=now)


def events_verify(*, event_ids: list[int], now: datetime | None = None) -> list[int]:
    """Verify these events, each in its own transaction, skipping those whose meter data is not complete yet;
    returns the ids verified (an event verified before is returned as it is: safe to run a chunk twice).

    The chunk is announced once (issue #21, ADR 0044): one ``verifications_final`` with the events this call
    verified and their shortfall penalties, after the last commit (also when a later event fails: what committed
    is announced), so settlement settles the chunk in one task (its penalties, then each window once) instead of
    one task per event and one per penalty. An event verified before (a repeated chunk) is not announced again:
    it was when it was verified, and the daily run is the sweep.

    The common case is verified set-based, the chunk in one transaction (ADR 0046,
    :func:`.verification_chunk.events_verify_chunk`: the same numbers, a handful of statements per chunk); the
    other events (and every event of their premises) one by one, after it."""
    verified: list[int] = []
    fresh: list[int] = []
    penalties: list[int] = []
    try:
        # the common case set-based, in one transaction (ADR 0046); the rest one by one, as before
        done, rest = events_verify_chunk(event_ids=event_ids, now=now or timezone.now())
        for event_id in event_ids:
            if event_id in done:
                created, penalty_id = done[event_id]
                verified.append(event_id)
                if created:
                    fresh.append(event_id)
                if penalty_id is not None:
                    penalties.append(penalty_id)
        for event_id in rest:
            try:
                _, created, penalty_id = _event_verify(event_id=event_id, now=now, announce=False)
            except ApplicationError as exc:
                if exc.code != Code.METER_DATA_INCOMPLETE:
                    raise
                continue
            verified.append(event_id)
            if created:
                fresh.append(event_id)
            if penalty_id is not None:
                penalties.append(penalty_id)
    finally:
        if fresh or penalties:  # at once outside a transaction (the task), else once the caller's commits
            transaction.on_commit(
                lambda: verifications_final.send(sender=EventVerification, event_ids=fresh, penalty_ids=penalties)
            )
    return verified
