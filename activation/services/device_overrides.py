"""The owner's override of one device's command (ADR 0029): the device leaves the event, its RESTORE goes out
on its own channel, and the override is recorded on the device's dispatch. The kW it was commanded stays what
the premise answers for (``selectors.event_accountable_kw``): an override is the owner's choice, not the
platform's failure."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import policies
from flexplatform.errors import ApplicationError, NotPermitted

from ..errors import ActivationErrorCode as Code
from ..models import DeviceDispatch, DREvent, OutboxMessage
from ..protocols import mqtt as mqtt_protocol
from .outbox import outbox_flush_on_commit, outbox_put


def device_override(*, event_id: int, device_id: int, user, now: datetime | None = None) -> DeviceDispatch:
    """Take one device out of an event (before or during it). Idempotent: a second override changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        dispatch = (
            DeviceDispatch.objects.select_for_update(of=("self",))
            .select_related("event", "device")
            .filter(event_id=event_id, device_id=device_id)
            .first()
        )
        if dispatch is None:
            raise ApplicationError("That device was not commanded in this event.", fields={"device": ["Not in it."]})
        if not policies.premises_writable_by(user).filter(pk=dispatch.premise_id).exists():
            raise NotPermitted("Only the premise's owner or its aggregator may override its devices.")
        if dispatch.opted_out_at is not None:
            return dispatch
        event = dispatch.event
        if event.status in (DREvent.Status.COMPLETED, DREvent.Status.CANCELLED) or now >= event.end:
            raise ApplicationError(f"Event {event.pk} is over.", code=Code.INVALID_STATE)
        dispatch.opted_out_at = now
        dispatch.save(update_fields=["opted_out_at"])
        ref = f"dev-{dispatch.device_id}"
        payload = {"event_id": event.pk, "premise_id": event.premise_id, "device_id": ref, "command": "RESTORE"}
        if dispatch.channel == "mqtt":
            outbox_put(
                event=event,
                channel=OutboxMessage.Channel.MQTT,
                destination=f"{ref}#override",
                topic=mqtt_protocol.command_topic(ref),
                payload=payload,
                now=now,
                ack_by=now + timedelta(seconds=settings.DEVICE_ACK_SECONDS),
            )
            outbox_flush_on_commit()
    return dispatch
