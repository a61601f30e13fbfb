"""Celery adapters for settlement and anchoring."""

from celery import shared_task


@shared_task(acks_late=True)
def settle_event(event_id: int) -> int:
    from .services.payments import settlement_create_for_event

    return settlement_create_for_event(event_id=event_id).pk


@shared_task(acks_late=True)
def anchor_closed_periods() -> list[int]:
    from .services.anchoring import periods_anchor_closed

    return [a.pk for a in periods_anchor_closed()]


@shared_task(acks_late=True)
def audit_anchors() -> int:
    """Recompute every anchored root from the database and compare with the chain; returns open alerts."""
    from .services.audit import anchors_audit

    return len(anchors_audit().alerts)
