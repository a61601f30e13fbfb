"""Write services for activation: events from awards, dispatch, lifecycle, verification of delivery."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from assessment.services import baseline_compute, interval_starts
from flexplatform.errors import ApplicationError
from market.models import Award

from .models import DispatchSignal, DREvent, EventVerification, VerificationInterval

KWH = Decimal("0.0001")


def _openadr_event_payload(event: DREvent) -> dict:
    """The dispatch instruction, shaped like an OpenADR 3 event (one interval, IMPORT_CAPACITY_LIMIT style)."""
    return {
        "objectType": "EVENT",
        "eventName": f"flex-event-{event.pk}",
        "programID": f"zone-{event.zone.code}",
        "intervalPeriod": {
            "start": event.start.isoformat(),
            "duration": f"PT{int((event.end - event.start).total_seconds() // 60)}M",
        },
        "payloadDescriptors": [{"payloadType": "LOAD_REDUCTION", "units": "KW"}],
        "intervals": [{"id": 0, "payloads": [{"type": "LOAD_REDUCTION", "values": [str(event.target_kw)]}]}],
        "targets": [{"type": "RESOURCE_NAME", "values": [f"premise-{event.premise_id}"]}],
    }


@transaction.atomic
def event_create_for_award(*, award_id: int, now: datetime | None = None) -> DREvent:
    """Each award becomes one event for its resource; created once, then dispatched."""
    award = Award.objects.select_related("premise").get(pk=award_id)
    event, created = DREvent.objects.get_or_create(
        award=award,
        defaults={
            "premise": award.premise,
            "zone": award.premise.grid_zone,
            "target_kw": award.kw,
            "start": award.window_start,
            "end": award.window_end,
        },
    )
    if created:
        event_dispatch(event=event, now=now)
    return event


@transaction.atomic
def event_dispatch(*, event: DREvent, now: datetime | None = None) -> DispatchSignal:
    """Record the dispatch signal for the event's resource and mark the event notified."""
    now = now or timezone.now()
    event = DREvent.objects.select_for_update().select_related("zone").get(pk=event.pk)
    signal, _ = DispatchSignal.objects.get_or_create(
        event=event,
        premise_id=event.premise_id,
        defaults={"payload": _openadr_event_payload(event), "channel": DispatchSignal.Channel.OPENADR},
    )
    if event.status == DREvent.Status.SCHEDULED:
        event.status = DREvent.Status.NOTIFIED
        event.notified_at = now
        event.save(update_fields=["status", "notified_at"])
    return signal


def events_advance(*, now: datetime | None = None) -> int:
    """Move events along their lifecycle by the clock: notified -> active -> completed."""
    now = now or timezone.now()
    changed = 0
    with transaction.atomic():
        changed += DREvent.objects.filter(status=DREvent.Status.NOTIFIED, start__lte=now, end__gt=now).update(
            status=DREvent.Status.ACTIVE
        )
        changed += DREvent.objects.filter(
            status__in=[DREvent.Status.NOTIFIED, DREvent.Status.ACTIVE], end__lte=now
        ).update(status=DREvent.Status.COMPLETED, completed_at=now)
    return changed


def event_verify(*, event_id: int, now: datetime | None = None) -> EventVerification:
    """Delivered energy per interval = baseline - actual, never below zero; stored once per event.

    Refused until the event has completed and every interval of the event has a meter reading.
    """
    from assessment.selectors import meter_readings

    now = now or timezone.now()
    with transaction.atomic():
        event = DREvent.objects.select_for_update().select_related("premise").get(pk=event_id)
        existing = EventVerification.objects.filter(event=event).first()
        if existing is not None:
            return existing
        if event.status != DREvent.Status.COMPLETED:
            raise ApplicationError(f"Event {event.pk} is {event.status}, not completed.", code="invalid_state")
        meter = event.premise.meters.order_by("id").first()
        if meter is None:
            raise ApplicationError("The premise has no meter.", code="no_meter")
        baseline = baseline_compute(meter=meter, window_start=event.start, window_end=event.end, now=now)
        base = dict(baseline.intervals.values_list("start", "kwh"))
        actual = dict(meter_readings(meter=meter, start=event.start, end=event.end).values_list("start", "kwh"))
        starts = interval_starts(event.start, event.end, meter.interval_minutes)
        missing = [s for s in starts if s not in actual]
        if missing:
            raise ApplicationError(
                f"Event {event.pk}: {len(missing)} interval(s) without meter data, first {missing[0].isoformat()}.",
                code="meter_data_incomplete",
            )
        rows = []
        for s in starts:
            delivered = max(base[s] - actual[s], Decimal("0"))
            rows.append((s, base[s], actual[s], delivered))
        hours = Decimal((event.end - event.start).total_seconds()) / Decimal(3600)
        verification = EventVerification.objects.create(
            event=event,
            baseline=baseline,
            baseline_kwh=sum((r[1] for r in rows), Decimal("0")),
            actual_kwh=sum((r[2] for r in rows), Decimal("0")),
            delivered_kwh=sum((r[3] for r in rows), Decimal("0")),
            committed_kwh=(event.target_kw * hours).quantize(KWH),
            verified_at=now,
        )
        VerificationInterval.objects.bulk_create(
            [
                VerificationInterval(
                    verification=verification, start=s, baseline_kwh=b, actual_kwh=a, delivered_kwh=d
                )
                for s, b, a, d in rows
            ]
        )
        from settlement import tasks as settlement_tasks

        transaction.on_commit(lambda: settlement_tasks.settle_event.delay(event.pk))
    return verification


def events_verify_due(*, now: datetime | None = None) -> list[int]:
    """Verify every completed event without a verification whose meter data is complete."""
    verified = []
    for event_id in DREvent.objects.filter(
        status=DREvent.Status.COMPLETED, verification__isnull=True
    ).values_list("pk", flat=True):
        try:
            event_verify(event_id=event_id, now=now)
        except ApplicationError as exc:
            if exc.code != "meter_data_incomplete":
                raise
            continue
        verified.append(event_id)
    return verified
