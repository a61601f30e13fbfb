"""Dispatch in bulk: the events' signals and every device's outbox command written with a few statements.

``event_dispatch`` (one event) and ``emergency_event_create`` (every enrolled resource in a zone at once) both
write through :func:`events_dispatch_locked`, so there is one dispatch path whatever the number of events. The
commands are built in memory (``activation.devices.translate``: comfort and safety limits applied per device)
and written with ``outbox.outbox_insert`` (multi-row ``INSERT ... ON CONFLICT DO NOTHING``; ``COPY`` then one
such ``INSERT`` on PostgreSQL, ``activation.bulk``) in the caller's transaction (the transactional outbox of ADR
0010): the unique key (event, channel, destination) makes a second dispatch of the same event write nothing, and
an existing row keeps its ``message_id``. Scheduled events become notified through ``lifecycle.events_move``.
No publishing here: ``outbox_delivery.outbox_flush`` sends after commit."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction

from flexplatform.collector import collection_paused

from .. import notify
from ..bulk import chunks, in_values, insert_records
from ..devices import DeviceCommand, translate
from ..models import (
    DeviceDispatch,
    DispatchSignal,
    DREvent,
    Enrollment,
    OadrSubscription,
    OutboxMessage,
    WebhookEndpoint,
)
from ..protocols import mqtt as mqtt_protocol
from ..selectors import events_devices
from .lifecycle import events_move
from .openadr_notifications import notify_event
from .openadr_notifiers import notifier_enabled
from .outbox import OutboxRow, outbox_flush_on_commit, outbox_insert

_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))  # as outbox_insert writes a payload


def openadr_event_payload(event: DREvent) -> dict:
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


def device_dispatch_record(
    *, event: DREvent, command: DeviceCommand, day, now: datetime, ids: tuple[int, int] | None = None
) -> dict:
    """The record of one device's command for ``event`` (event budget, M&V, opt-out): a ``DeviceDispatch`` row
    as a dict (``bulk.insert_records``: no model instance per device). ``ids``: the event's (pk, premise id),
    when the caller has read them already."""
    event_id, premise_id = ids or (event.pk, event.premise_id)
    return {
        "event_id": event_id,
        "device_id": command.device_pk,
        "premise_id": premise_id,
        "channel": command.channel,
        "kind": command.kind,
        "command": command.command,
        "value": command.value,
        "shed_kw": command.shed_kw,
        "local_day": day,
        "opted_out_at": None,
        "created_at": now,
    }


def _safety_limits(events: list[DREvent]) -> dict[tuple[int, int], Decimal]:
    """(program id, premise id) -> the enrollment's safety limit, for the events' resources."""
    programs = {e.program_id for e in events if e.program_id}
    premises = sorted({e.premise_id for e in events if e.program_id})
    out: dict[tuple[int, int], Decimal] = {}
    for chunk in chunks(premises):
        for program_id, premise_id, safety in Enrollment.objects.filter(
            program_id__in=programs, premise_id__in=in_values(chunk)
        ).values_list("program_id", "premise_id", "safety_max_kw"):
            out[(program_id, premise_id)] = safety
    return out


@collection_paused()  # a command, a record and an outbox row per device (ADR 0053)
def events_dispatch_locked(
    *,
    events: list[DREvent],
    now: datetime,
    fresh: bool = False,
    safety: dict[tuple[int, int], Decimal] | None = None,
) -> None:
    """Write the dispatch of ``events`` (each with ``zone``, ``program`` and ``premise`` loaded): one OpenADR
    signal per event, one MQTT command per device within its capabilities, comfort limits and the enrollment's
    safety limit, one signed webhook per aggregator endpoint, the OpenADR subscription notifications; scheduled
    -> notified. The caller holds the transaction, has locked or just created the events and has checked their
    status and the emergency stop. Idempotent: nothing is written twice for an event. ``fresh``: the events
    were created in this transaction (nothing of theirs can exist yet), so rows are written without the
    conflict check; they may be created notified at ``now`` (announced like scheduled ones, not moved again).
    ``safety``: (program id, premise id) -> the enrollment's safety limit, when the caller holds the enrollments
    (locked in this transaction: an emergency call); else read here."""
    if not events:
        return
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("events_dispatch_locked writes in the caller's transaction")
    insert_records(
        DispatchSignal,
        [
            {
                "event_id": e.pk,
                "premise_id": e.premise_id,
                "payload": openadr_event_payload(e),
                "channel": DispatchSignal.Channel.OPENADR,
            }
            for e in events
        ],
        now=now,
        unique=() if fresh else ("event_id", "premise_id"),
    )
    if safety is None:
        safety = _safety_limits(events)
    ack_by = now + timedelta(seconds=settings.DEVICE_ACK_SECONDS)
    root = mqtt_protocol.topic_root()
    mqtt, webhook, ocpp = OutboxMessage.Channel.MQTT, OutboxMessage.Channel.WEBHOOK, OutboxMessage.Channel.OCPP
    s2 = OutboxMessage.Channel.S2
    rows: list[OutboxRow] = []
    dispatches: list[dict] = []
    commands_by_event: dict[int, list] = {}
    devices = events_devices(events, now=now)
    emergency = DREvent.Source.EMERGENCY
    texts: dict = {}  # (datetime, UTC offset) -> its ISO text (an emergency call's events share one window)
    for event in events:
        # The event's values read once per event, not once per command (model attribute access goes through
        # Django's descriptors: 10,000 commands read them tens of thousands of times).
        event_id, premise_id, start, end = event.pk, event.premise_id, event.start, event.end
        minutes = int((end - start).total_seconds() // 60)
        event_devices = devices.get(event_id, [])
        commands = translate(
            devices=event_devices,
            reduction_kw=event.target_kw,
            duration_minutes=minutes,
            safety_max_kw=safety.get((event.program_id, premise_id), event.target_kw),
        )
        commands_by_event[event_id] = commands
        # Keyed with the UTC offset: equal instants in other offsets are written otherwise.
        start_key, end_key = (start, start.utcoffset()), (end, end.utcoffset())
        if start_key not in texts:
            texts[start_key] = start.isoformat()
        if end_key not in texts:
            texts[end_key] = end.isoformat()
        common = {
            "event_id": event_id,
            "premise_id": premise_id,
            "start": texts[start_key],
            "end": texts[end_key],
            "emergency": event.source == emergency,
        }
        # A command's payload is ``{**common, **cmd.as_payload()}``: written as JSON text, the event's keys encoded
        # once per event and each command's text appended (``DeviceCommand.as_payload_json``), not a merged dict
        # encoded per command (``outbox.payload_json`` adds the message id to the text).
        head = _COMPACT_JSON.encode(common)[:-1] + ","
        day = start.astimezone(ZoneInfo(event.premise.timezone)).date()
        rated = {d.pk: d.max_kw for d in event_devices}
        for cmd in commands:
            dispatches.append(
                device_dispatch_record(event=event, command=cmd, day=day, now=now, ids=(event_id, premise_id))
            )
            if cmd.channel == "mqtt":
                topic, channel = mqtt_protocol.command_topic(cmd.device_id, root=root), mqtt
                payload = head + cmd.as_payload_json()[1:]
            elif cmd.channel == "ocpp":
                topic, channel = cmd.address or cmd.device_id, ocpp
                payload = head + cmd.as_payload_json()[1:]
            elif cmd.channel == "s2":  # the household energy manager's URL; the battery's rating bounds the envelope
                topic, channel = cmd.address, s2
                payload = {**common, **cmd.as_payload(), "rated_kw": str(rated.get(cmd.device_pk, cmd.value))}
            else:
                continue  # OpenADR VEN: the VEN reads the event; vendor API: the signed webhook below
            rows.append(
                OutboxRow(
                    event_id=event_id,
                    channel=channel,
                    destination=cmd.device_id,
                    topic=topic,
                    payload=payload,
                    ack_by=ack_by,
                )
            )
    insert_records(DeviceDispatch, dispatches, now=now, unique=() if fresh else ("event_id", "device_id"))

    # Signed webhooks: to the premise's aggregator; a premise selling directly with vendor-API devices: to its
    # own organisation's endpoints (the vendor integration it registered).
    def receiver(e: DREvent) -> int | None:
        if e.premise.aggregator_id:
            return e.premise.aggregator_id
        if any(c.channel == "vendor_api" for c in commands_by_event[e.pk]):
            return e.premise.organisation_id
        return None

    receivers = {e.pk: receiver(e) for e in events}
    if any(receivers.values()):
        endpoints: dict[int, list[WebhookEndpoint]] = defaultdict(list)
        for endpoint in WebhookEndpoint.objects.filter(
            organisation_id__in={r for r in receivers.values() if r}, active=True
        ).order_by("pk"):
            endpoints[endpoint.organisation_id].append(endpoint)
        for event in events:
            for endpoint in endpoints.get(receivers[event.pk], []):
                rows.append(
                    OutboxRow(
                        event_id=event.pk,
                        channel=webhook,
                        destination=f"endpoint-{endpoint.pk}",
                        topic=endpoint.url,
                        payload={
                            "type": "event.notified",
                            "event": openadr_event_payload(event),
                            "commands": [c.as_payload() for c in commands_by_event[event.pk]],
                        },
                        ack_by=None,
                    )
                )
    outbox_insert(rows, now=now, fresh=fresh)
    _subscription_notifications(events=events, now=now)
    scheduled = [e.pk for e in events if e.status == DREvent.Status.SCHEDULED]
    # Announced now: the scheduled events, and fresh ones the caller created notified at ``now`` (an emergency
    # call: no UPDATE of rows it has just written).
    announced = [
        e
        for e in events
        if e.status == DREvent.Status.SCHEDULED
        or (fresh and e.status == DREvent.Status.NOTIFIED and e.notified_at == now)
    ]
    notify.events_scheduled(announced, now=now)  # ADR 0030
    notify.manual_devices_asked(  # a manual device is not commanded: its owner is asked to turn it down
        [(e, [d.name for d in devices.get(e.pk, []) if d.channel == "manual" and d.available]) for e in announced],
        now=now,
    )
    for chunk in chunks(scheduled):
        events_move(events=DREvent.objects.filter(pk__in=chunk), to=DREvent.Status.NOTIFIED, now=now)
    for e in events:
        if e.status == DREvent.Status.SCHEDULED:
            e.status, e.notified_at = DREvent.Status.NOTIFIED, now
    outbox_flush_on_commit()


def _subscription_notifications(*, events: list[DREvent], now: datetime) -> None:
    """OpenADR 3 notifications of the events' creation (``openadr_notifications.notify_event``), only for events whose program has subscriptions: one query for the
    whole batch instead of one per event when nobody subscribed."""
    programs = {e.program_id for e in events if e.program_id}
    subscribed = set(
        OadrSubscription.objects.filter(program_id__in=programs).values_list("program_id", flat=True).distinct()
    )
    everything = notifier_enabled() or OadrSubscription.objects.filter(program__isnull=True).exists()
    for event in events:
        if event.program_id in subscribed or (event.program_id and everything):
            notify_event(event=event, operation="CREATE", now=now)
