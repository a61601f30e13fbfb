"""What devices report back: acknowledgements of commands (and their deadlines), telemetry."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import DateTimeField, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Premise

from ..bulk import in_values
from ..models import Cascade, DREvent, OutboxMessage, Telemetry
from .cascades import cascade_evaluate


def device_ack_record(*, message_id: str, device_id: str, now: datetime | None = None) -> bool:
    """A device acknowledged a command. Idempotent; an ack after the deadline still counts as received."""
    now = now or timezone.now()
    try:
        mid = uuid.UUID(str(message_id))
    except ValueError:
        return False
    updated = OutboxMessage.objects.filter(
        message_id=mid, destination=device_id, status__in=[OutboxMessage.Status.SENT, OutboxMessage.Status.NO_ACK]
    ).update(status=OutboxMessage.Status.ACKNOWLEDGED, acked_at=now)
    return bool(updated)


def device_acks_record(*, acks: list[tuple[str, str, datetime]]) -> int:
    """Batch of (message_id, device_id, at) acknowledgements (the MQTT listener's path): one transaction, a
    lookup and one UPDATE per 5,000 acks. An ack counts only for the device the message was sent to (its
    command, its restore or a revision) and only once; one that overtakes the flush's "sent" mark (pending)
    counts too."""
    parsed: dict[uuid.UUID, tuple[str, datetime]] = {}
    for message_id, device_id, at in acks:
        try:
            parsed[uuid.UUID(str(message_id))] = (device_id, at)
        except ValueError:
            continue

    live = [OutboxMessage.Status.PENDING, OutboxMessage.Status.SENT, OutboxMessage.Status.NO_ACK]
    n = 0
    ids = list(parsed)
    with transaction.atomic():
        for i in range(0, len(ids), 5000):
            by_at: dict[datetime, list[int]] = defaultdict(list)
            # Locked and looked up by the unique message id alone (status and channel checked here), then
            # updated by primary key alone: the planner walks those two indexes even on a table whose
            # statistics predate the burst of rows.
            for pk, message_id, destination, channel, status in (
                OutboxMessage.objects.select_for_update()
                .filter(message_id__in=in_values(ids[i : i + 5000], db_type="uuid"))
                .values_list("id", "message_id", "destination", "channel", "status")
            ):
                device_id, at = parsed[message_id]
                if (  # the device's command, or a later one for it (``#restore``, ``#rev-...``)
                    channel == OutboxMessage.Channel.MQTT
                    and status in live
                    and destination.split("#", 1)[0] == device_id
                ):
                    by_at[at].append(pk)
            for at, pks in by_at.items():
                n += OutboxMessage.objects.filter(pk__in=in_values(pks)).update(
                    status=OutboxMessage.Status.ACKNOWLEDGED,
                    acked_at=at,
                    sent_at=Coalesce("sent_at", Value(at, output_field=DateTimeField())),
                )
    return n


def acks_overdue_mark(*, now: datetime | None = None) -> list[int]:
    """Mark commands not acknowledged by their deadline; running cascades with such devices are evaluated now
    (the device counts as delivering nothing, so the cascade escalates)."""
    now = now or timezone.now()
    with transaction.atomic():
        overdue = OutboxMessage.objects.filter(
            status=OutboxMessage.Status.SENT, channel=OutboxMessage.Channel.MQTT, ack_deadline__lte=now
        )
        event_ids = set(overdue.values_list("event_id", flat=True))
        overdue.update(status=OutboxMessage.Status.NO_ACK)
        cascades = set(
            Cascade.objects.filter(events__in=event_ids, status=Cascade.Status.RUNNING).values_list("pk", flat=True)
        )
        Cascade.objects.filter(pk__in=cascades).update(next_check_at=now)
    for pk in cascades:
        cascade_evaluate(cascade_id=pk, now=now)
    return sorted(event_ids)


def telemetry_record(*, device_id: str, data: dict, now: datetime | None = None) -> bool:
    """One telemetry message from a device: {"premise_id", "kw", "baseline_kw"?, "event_id"?, "at"?}."""
    try:
        premise_id = int(data["premise_id"])
        kw = Decimal(str(data["kw"])).quantize(Decimal("0.001"))
        base = data.get("baseline_kw")
        base = Decimal(str(base)).quantize(Decimal("0.001")) if base is not None else None
        at = datetime.fromisoformat(data["at"]) if data.get("at") else (now or timezone.now())
        event_id = int(data["event_id"]) if data.get("event_id") else None
    except (KeyError, ValueError, TypeError, ArithmeticError):
        return False
    if at.tzinfo is None or not Premise.objects.filter(pk=premise_id).exists():
        return False
    if event_id and not DREvent.objects.filter(pk=event_id, premise_id=premise_id).exists():
        event_id = None
    _, created = Telemetry.objects.get_or_create(
        device_id=device_id,
        at=at,
        defaults={"premise_id": premise_id, "kw": kw, "baseline_kw": base, "event_id": event_id},
    )
    return created
