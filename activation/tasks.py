"""Celery adapters for activation."""

from celery import shared_task


@shared_task(acks_late=True)
def create_event_for_award(award_id: int) -> int:
    """Any market's award: an event (energy-type products) or a reservation (capacity, ancillary)."""
    from .services import award_activate

    return award_activate(award_id=award_id).pk


@shared_task(acks_late=True)
def activate_pending_awards() -> list[int]:
    from .services import awards_activate_pending

    return awards_activate_pending()


@shared_task
def advance_events() -> int:
    from .services import events_advance

    return events_advance()


@shared_task(acks_late=True)
def verify_due_events() -> list[int]:
    from .services import events_verify_due

    return events_verify_due()


@shared_task
def flush_outbox() -> dict:
    from .services import outbox_flush

    return outbox_flush()


@shared_task
def check_acks_and_cascades() -> dict:
    from .services import acks_overdue_mark, cascades_evaluate_due, events_dispatch_pending

    return {
        "dispatched": events_dispatch_pending(),
        "overdue_events": acks_overdue_mark(),
        "cascades": cascades_evaluate_due(),
    }
