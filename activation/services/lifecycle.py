"""The event lifecycle: which status an event may move to from which, and the one write of a status change.

    scheduled -> notified (dispatched) -> active (its window started) -> completed (its window ended)
    scheduled | notified | active -> cancelled (by the operator, an opt-out, an OpenADR 3 DELETE)

Every status change of a :class:`DREvent` is written here: :func:`event_move` for one event the caller has locked
(refused unless its current status leads to the new one), :func:`events_move` for many at once (one UPDATE that
moves only the rows whose current status leads to the new one). The check on the current status is what makes a
task that runs twice, or two workers racing, harmless. Each new status stamps its time field.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from flexplatform.errors import ApplicationError

from ..errors import ActivationErrorCode as Code
from ..models import DREvent

Status = DREvent.Status

EVENT_TRANSITIONS: dict[str, tuple[str, ...]] = {
    Status.NOTIFIED: (Status.SCHEDULED,),
    Status.ACTIVE: (Status.NOTIFIED,),
    Status.COMPLETED: (Status.ACTIVE,),
    Status.CANCELLED: (Status.SCHEDULED, Status.NOTIFIED, Status.ACTIVE),
}
STAMP = {
    Status.NOTIFIED: "notified_at",
    Status.ACTIVE: "activated_at",
    Status.COMPLETED: "completed_at",
    Status.CANCELLED: "cancelled_at",
}


def event_move(event: DREvent, *, to: str, now: datetime, **fields) -> DREvent:
    """Move one event (locked by the caller) to ``to``, with ``fields`` saved alongside. Refused
    (``invalid_state``) unless its current status leads to ``to``."""
    allowed = EVENT_TRANSITIONS[to]
    if event.status not in allowed:
        raise ApplicationError(
            f"Event {event.pk} is {event.status}; only a {' or '.join(allowed)} event can become {to}.",
            code=Code.INVALID_STATE,
        )
    event.status = to
    setattr(event, STAMP[to], now)
    for name, value in fields.items():
        setattr(event, name, value)
    event.save(update_fields=["status", STAMP[to], *fields])
    return event


def created_as(to: str, *, now: datetime) -> dict:
    """The fields of an event created directly in status ``to`` (the move from its first status, without the
    UPDATE of a row just written): the status and its stamp, as :func:`events_move` would write them. Only a
    status one move from scheduled may be created so."""
    if Status.SCHEDULED not in EVENT_TRANSITIONS.get(to, ()):
        raise ValueError(f"an event cannot be created {to}")
    return {"status": to, STAMP[to]: now}


def events_move(*, events: QuerySet[DREvent], to: str, now: datetime) -> int:
    """Move every event of ``events`` whose current status leads to ``to``, in one UPDATE; the others are left
    as they are. Returns how many moved."""
    return events.filter(status__in=EVENT_TRANSITIONS[to]).update(status=to, **{STAMP[to]: now})
