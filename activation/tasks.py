"""Celery adapters for activation: each takes ids, calls one service and returns what it returned. The services
never import this module, except ``services.outbox.outbox_flush_on_commit`` to enqueue ``flush_outbox`` after
commit."""

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def create_event_for_award(award_id: int) -> int:
    """Any market's award: an event (energy-type products) or a reservation (capacity, ancillary)."""
    return services.award_activate(award_id=award_id).pk


@shared_task(acks_late=True)
def create_events_for_awards(award_ids: list[int]) -> int:
    """A chunk of any market's awards (``services.award_chunks``): their events in one set-based pass, or
    reservations. Idempotent: a chunk delivered twice creates nothing twice."""
    services.awards_activate(award_ids=award_ids)
    return len(award_ids)


@shared_task(acks_late=True)
def activate_pending_awards() -> list[int]:
    return services.awards_activate_pending()


@shared_task
def advance_events() -> int:
    return services.events_advance()


#: events per verification task: the beat sweep sends the due events in chunks that the workers share
VERIFY_CHUNK = 100


@shared_task(acks_late=True)
def verify_due_events() -> int:
    """The sweep (beat): one ``verify_events`` task per chunk of due events; returns how many were due."""
    ids = services.events_due_for_verification()
    for i in range(0, len(ids), VERIFY_CHUNK):
        verify_events.delay(ids[i : i + VERIFY_CHUNK])
    return len(ids)


@shared_task(acks_late=True)
def verify_events(event_ids: list[int]) -> list[int]:
    """Verify a chunk of events (idempotent: an event verified before is left as it is)."""
    return services.events_verify(event_ids=event_ids)


@shared_task
def flush_outbox() -> dict:
    return services.outbox_flush()


@shared_task
def check_acks_and_cascades() -> dict:
    return {
        "dispatched": services.events_dispatch_pending(),
        "overdue_events": services.acks_overdue_mark(),
        "cascades": services.cascades_evaluate_due(),
    }
