"""Test data for activation outputs: an event's verified delivery (what ``event_verify`` stores from meter data)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from activation.models import DREvent, EventPerformance, EventVerification, VerificationInterval
from assessment.models import Baseline


def verification_make(
    event: DREvent, delivered: list[Decimal], *, baseline: Decimal = Decimal("10"), available: bool = True
) -> EventVerification:
    """Complete the event and record its delivery per 15-minute interval (and its performance row)."""
    DREvent.objects.filter(pk=event.pk).update(status=DREvent.Status.COMPLETED, completed_at=event.end)
    b = Baseline.objects.create(
        meter=event.premise.meters.order_by("id").first(),
        method="test",
        window_start=event.start,
        window_end=event.end,
        total_kwh=baseline * len(delivered),
        computed_at=event.end,
    )
    hours = Decimal(int((event.end - event.start).total_seconds())) / Decimal(3600)
    v = EventVerification.objects.create(
        event=event,
        baseline=b,
        baseline_kwh=baseline * len(delivered),
        actual_kwh=sum((baseline - d for d in delivered), Decimal("0")),
        delivered_kwh=sum(delivered, Decimal("0")),
        committed_kwh=(event.target_kw * hours).quantize(Decimal("0.0001")),
        verified_at=event.end,
    )
    VerificationInterval.objects.bulk_create(
        [
            VerificationInterval(
                verification=v,
                start=event.start + timedelta(minutes=15 * i),
                baseline_kwh=baseline,
                actual_kwh=baseline - d,
                delivered_kwh=d,
            )
            for i, d in enumerate(delivered)
        ]
    )
    EventPerformance.objects.create(
        event=event,
        activated=available,
        duration_compliance=Decimal("1"),
        magnitude_achievement=Decimal("1"),
        available=available,
        computed_at=timezone.now(),
    )
    return v


def commands_sent(event: DREvent) -> int:
    """The event's device commands left the platform and no device acknowledged them by the deadline (the
    platform did its part: a shortfall is then the premise's, ``activation.selectors.event_accountable_kw``)."""
    from activation.models import OutboxMessage

    return (
        OutboxMessage.objects.filter(event=event)
        .exclude(channel=OutboxMessage.Channel.WEBHOOK)
        .update(status=OutboxMessage.Status.NO_ACK, sent_at=event.start)
    )
