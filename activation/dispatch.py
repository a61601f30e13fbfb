"""Dispatch in bulk: the events' signals and every device's outbox command written with a few statements.

``event_dispatch`` (one event) and ``emergency_event_create`` (every enrolled resource in a zone at once) both
write through :func:`events_dispatch_locked`, so there is one dispatch path whatever the number of events. The
commands are built in memory (``activation.devices.translate``: comfort and safety limits applied per device)
and inserted with multi-row ``INSERT ... ON CONFLICT DO NOTHING`` (``COPY`` then one such ``INSERT`` on PostgreSQL), in the caller's
transaction (the transactional outbox of ADR 0010): the unique key (event, channel, destination) makes a second
dispatch of the same event write nothing, and an existing row keeps its ``message_id``.

Also the set-based helpers the emergency call needs: the per-day / per-month event caps for many premises at
once (:func:`premises_over_caps`). No publishing here: ``services.outbox_flush`` sends after commit.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import Count

from .models import DispatchSignal, DREvent, Enrollment, OutboxMessage, WebhookEndpoint
from .protocols import mqtt as mqtt_protocol

OUTBOX_INSERT_BATCH = 1000
COPY_THRESHOLD = 200  # rows: below it, one multi-row INSERT beats COPY's staging table on PostgreSQL
IN_CHUNK = 2000  # ids per ``IN (...)`` list (SQLite's bound-parameter limit)


def _chunks(values: list, size: int = IN_CHUNK):
    for i in range(0, len(values), size):
        yield values[i : i + size]


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


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One outbox message to write: a device command (MQTT) or a notification (webhook)."""

    event_id: int
    channel: str
    destination: str
    topic: str
    payload: dict
    ack_by: datetime | None
    message_id: uuid.UUID = field(default_factory=uuid.uuid4)


def outbox_insert(rows: list[OutboxRow], *, now: datetime) -> None:
    """Insert outbox rows, pending and due ``now``; a row whose (event, channel, destination) exists already is
    skipped (the first one, with its message id, stays). Multi-row ``INSERT ... ON CONFLICT DO NOTHING`` through
    the connection's cursor: the ORM's per-field preparation in ``bulk_create`` costs several times more for
    10,000 rows. Columns this function does not know (added later) get their field's default."""
    if not rows:
        return
    connection = connections[router.db_for_write(OutboxMessage)]
    ops = connection.ops
    opts = OutboxMessage._meta
    uuid_field = opts.get_field("message_id")
    at = ops.adapt_datetimefield_value(now)
    deadlines: dict = {None: None}
    for r in rows:
        if r.ack_by not in deadlines:
            deadlines[r.ack_by] = ops.adapt_datetimefield_value(r.ack_by)
    per_row = {
        "event_id": lambda r: r.event_id,
        "channel": lambda r: r.channel,
        "destination": lambda r: r.destination,
        "message_id": lambda r: uuid_field.get_db_prep_value(r.message_id, connection),
        "topic": lambda r: r.topic,
        "payload": lambda r: json.dumps({**r.payload, "message_id": str(r.message_id)}, separators=(",", ":")),
        "ack_deadline": lambda r: deadlines[r.ack_by],
    }
    constant = {"status": OutboxMessage.Status.PENDING, "attempts": 0, "next_attempt_at": at, "created_at": at}
    fields = [f for f in opts.concrete_fields if not f.primary_key]
    for f in fields:
        if f.column not in per_row and f.column not in constant:
            constant[f.column] = f.get_db_prep_save(f.get_default(), connection)
    columns = list(per_row) + [f.column for f in fields if f.column not in per_row]
    tail = tuple(constant[c] for c in columns[len(per_row) :])
    getters = list(per_row.values())
    values = [tuple(g(r) for g in getters) + tail for r in rows]
    qn = ops.quote_name
    unique = ", ".join(qn(c) for c in ("event_id", "channel", "destination"))
    cols = ", ".join(qn(c) for c in columns)
    table = qn(opts.db_table)
    if connection.vendor == "postgresql" and len(values) >= COPY_THRESHOLD:
        # COPY into a transaction-scoped staging table, then one INSERT ... SELECT that skips existing keys.
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS activation_outbox_load ON COMMIT DROP AS "  # noqa: S608
                f"SELECT {cols} FROM {table} WITH NO DATA"
            )
            cursor.execute("TRUNCATE activation_outbox_load")
            with cursor.copy(f"COPY activation_outbox_load ({cols}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
            cursor.execute(
                f"INSERT INTO {table} ({cols}) SELECT {cols} FROM activation_outbox_load "  # noqa: S608
                f"ON CONFLICT ({unique}) DO NOTHING"
            )
        return
    head = f"INSERT INTO {table} ({cols}) VALUES "  # noqa: S608
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    # SQLite allows 32,766 bound parameters per statement: 1,000 rows x ~15 columns stays below.
    with connection.cursor() as cursor:
        for i in range(0, len(values), OUTBOX_INSERT_BATCH):
            batch = values[i : i + OUTBOX_INSERT_BATCH]
            sql = f"{head}{', '.join([one] * len(batch))} ON CONFLICT ({unique}) DO NOTHING"
            cursor.execute(sql, [v for row in batch for v in row])


def _safety_limits(events: list[DREvent]) -> dict[tuple[int, int], Decimal]:
    """(program id, premise id) -> the enrollment's safety limit, for the events' resources."""
    programs = {e.program_id for e in events if e.program_id}
    premises = sorted({e.premise_id for e in events if e.program_id})
    out: dict[tuple[int, int], Decimal] = {}
    for chunk in _chunks(premises):
        for program_id, premise_id, safety in Enrollment.objects.filter(
            program_id__in=programs, premise_id__in=chunk
        ).values_list("program_id", "premise_id", "safety_max_kw"):
            out[(program_id, premise_id)] = safety
    return out


def events_dispatch_locked(*, events: list[DREvent], now: datetime) -> None:
    """Write the dispatch of ``events`` (each with ``zone``, ``program`` and ``premise`` loaded): one OpenADR
    signal per event, one MQTT command per device within its capabilities, comfort limits and the enrollment's
    safety limit, one signed webhook per aggregator endpoint, the OpenADR subscription notifications; scheduled
    -> notified. The caller holds the transaction, has locked or just created the events and has checked their
    status and the emergency stop. Idempotent: nothing is written twice for an event."""
    from .devices import translate
    from .selectors import premise_devices
    from .services import _enqueue_flush

    if not events:
        return
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("events_dispatch_locked writes in the caller's transaction")
    DispatchSignal.objects.bulk_create(
        [
            DispatchSignal(
                event=e,
                premise_id=e.premise_id,
                payload=openadr_event_payload(e),
                channel=DispatchSignal.Channel.OPENADR,
            )
            for e in events
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )
    safety = _safety_limits(events)
    ack_by = now + timedelta(seconds=settings.DEVICE_ACK_SECONDS)
    mqtt, webhook = OutboxMessage.Channel.MQTT, OutboxMessage.Channel.WEBHOOK
    rows: list[OutboxRow] = []
    commands_by_event: dict[int, list] = {}
    for event in events:
        minutes = int((event.end - event.start).total_seconds() // 60)
        commands = translate(
            devices=premise_devices(event.premise),
            reduction_kw=event.target_kw,
            duration_minutes=minutes,
            safety_max_kw=safety.get((event.program_id, event.premise_id), event.target_kw),
        )
        commands_by_event[event.pk] = commands
        common = {
            "event_id": event.pk,
            "premise_id": event.premise_id,
            "start": event.start.isoformat(),
            "end": event.end.isoformat(),
            "emergency": event.source == DREvent.Source.EMERGENCY,
        }
        for cmd in commands:
            rows.append(
                OutboxRow(
                    event_id=event.pk,
                    channel=mqtt,
                    destination=cmd.device_id,
                    topic=mqtt_protocol.command_topic(cmd.device_id),
                    payload={**common, **cmd.as_payload()},
                    ack_by=ack_by,
                )
            )
    aggregators = {e.premise.aggregator_id for e in events if e.premise.aggregator_id}
    if aggregators:
        endpoints: dict[int, list[WebhookEndpoint]] = defaultdict(list)
        for endpoint in WebhookEndpoint.objects.filter(organisation_id__in=aggregators, active=True).order_by("pk"):
            endpoints[endpoint.organisation_id].append(endpoint)
        for event in events:
            for endpoint in endpoints.get(event.premise.aggregator_id, []):
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
    rows.extend(_subscription_notification_rows(events=events, now=now))
    outbox_insert(rows, now=now)
    scheduled = [e.pk for e in events if e.status == DREvent.Status.SCHEDULED]
    for chunk in _chunks(scheduled):
        DREvent.objects.filter(pk__in=chunk, status=DREvent.Status.SCHEDULED).update(
            status=DREvent.Status.NOTIFIED, notified_at=now
        )
    for e in events:
        if e.status == DREvent.Status.SCHEDULED:
            e.status, e.notified_at = DREvent.Status.NOTIFIED, now
    transaction.on_commit(_enqueue_flush)


def _subscription_notification_rows(*, events: list[DREvent], now: datetime) -> list[OutboxRow]:
    """OpenADR 3 subscriptions to EVENT CREATE on the events' programs: one ``notification`` per callback,
    through the outbox (POST to callbackUrl with the subscription's bearerToken). A VEN is told only about
    events for its resources."""
    from .models import OadrSubscription, VenResource
    from .openadr import event_object

    programs = {e.program_id for e in events if e.program_id}
    if not programs:
        return []
    subs = list(OadrSubscription.objects.filter(program_id__in=programs).select_related("ven").order_by("pk"))
    if not subs:
        return []
    ven_premises: dict[int, set[int]] = defaultdict(set)
    ven_ids = {s.ven_id for s in subs if s.ven_id}
    for ven_id, premise_id in VenResource.objects.filter(ven_id__in=ven_ids, premise__isnull=False).values_list(
        "ven_id", "premise_id"
    ):
        ven_premises[ven_id].add(premise_id)
    rows = []
    for event in events:
        for sub in subs:
            if sub.program_id != event.program_id:
                continue
            if sub.ven_id and event.premise_id not in ven_premises[sub.ven_id]:
                continue
            for n, op in enumerate(sub.object_operations or []):
                if "EVENT" in op.get("objects", []) and "CREATE" in op.get("operations", []):
                    rows.append(
                        OutboxRow(
                            event_id=event.pk,
                            channel=OutboxMessage.Channel.WEBHOOK,
                            destination=f"subscription-{sub.pk}-{n}",
                            topic=op["callbackUrl"],
                            payload={
                                "objectType": "EVENT",
                                "operation": "POST",
                                "object": event_object(event),
                                "bearerToken": op.get("bearerToken"),
                            },
                            ack_by=None,
                        )
                    )
    return rows


def premises_over_caps(*, program, premises: list, start: datetime) -> dict[int, str]:
    """Premise id -> ``cap_per_day`` / ``cap_per_month`` for the premises that already have the program's maximum
    number of (non-cancelled, any program) events on the local day / in the local month of ``start``: the same
    rule as ``services._check_caps``, two grouped queries per time zone instead of two per premise."""
    from zoneinfo import ZoneInfo

    by_tz: dict[str, list[int]] = defaultdict(list)
    for p in premises:
        by_tz[p.timezone].append(p.pk)
    over: dict[int, str] = {}
    for tz, ids in by_tz.items():
        local = start.astimezone(ZoneInfo(tz))
        day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        month_start = day_start.replace(day=1)
        next_month = (month_start + timedelta(days=32)).replace(day=1)
        for chunk in _chunks(ids):
            live = DREvent.objects.filter(premise_id__in=chunk).exclude(status=DREvent.Status.CANCELLED).order_by()
            month = dict(
                live.filter(start__gte=month_start, start__lt=next_month)
                .values_list("premise_id")
                .annotate(n=Count("id"))
                .values_list("premise_id", "n")
            )
            day = dict(
                live.filter(start__gte=day_start, start__lt=day_start + timedelta(days=1))
                .values_list("premise_id")
                .annotate(n=Count("id"))
                .values_list("premise_id", "n")
            )
            for pk in chunk:
                if day.get(pk, 0) >= program.max_events_per_day:
                    over[pk] = "cap_per_day"
                elif month.get(pk, 0) >= program.max_events_per_month:
                    over[pk] = "cap_per_month"
    return over
