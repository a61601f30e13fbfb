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
import os
import threading
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


def in_values(values: list, *, db_type: str = "bigint"):
    """The right-hand side of an ``__in`` filter for many values: on PostgreSQL one array parameter
    (``IN (SELECT unnest(%s::bigint[]))``), elsewhere the list itself. A list of thousands of ids costs
    psycopg's client-side binding several times more than one array."""
    from django.db import connection
    from django.db.models.expressions import RawSQL

    if connection.vendor == "postgresql":
        return RawSQL(f"SELECT unnest(%s::{db_type}[])", [list(values)])  # noqa: S611 - fixed type name
    return values


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


_random_pool = bytearray()
_random_lock = threading.Lock()
# A forked child (Celery prefork, gunicorn --preload) must not hand out the ids left in its parent's pool.
os.register_at_fork(after_in_child=_random_pool.clear)


def new_message_id() -> uuid.UUID:
    """A random (version 4) UUID, as ``uuid.uuid4`` but drawing the OS randomness 64 KiB at a time (one
    ``getrandom`` call per 4,096 ids instead of one per id)."""
    with _random_lock:
        if len(_random_pool) < 16:
            _random_pool.extend(os.urandom(65536))
        raw = bytes(_random_pool[-16:])
        del _random_pool[-16:]
    return uuid.UUID(bytes=raw, version=4)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One outbox message to write: a device command (MQTT) or a notification (webhook)."""

    event_id: int
    channel: str
    destination: str
    topic: str
    payload: dict
    ack_by: datetime | None
    message_id: uuid.UUID = field(default_factory=new_message_id)


def outbox_insert(rows: list[OutboxRow], *, now: datetime, fresh: bool = False) -> None:
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
    # ``fresh``: the events were created in this transaction, so no row can exist yet (COPY straight in).
    unique = () if fresh else ("event_id", "channel", "destination")
    insert_values(OutboxMessage, columns, values, unique=unique, returning=False)


def insert_values(
    model, columns: list[str], values: list[tuple], *, unique: tuple[str, ...] = (), returning: bool = True
) -> list[int]:
    """Insert rows of database-ready ``values`` (in ``columns`` order) into ``model``'s table. With ``unique``,
    a row whose key exists already is skipped (ON CONFLICT DO NOTHING) and nothing is returned; without, the
    new primary keys are returned in row order (unless ``returning`` is false: rows that cannot conflict).
    PostgreSQL: COPY (into a transaction-scoped staging table when conflicts are possible; with ids drawn from
    the table's sequence first when they are returned). SQLite: multi-row INSERTs (``RETURNING`` the ids)."""
    returning = returning and not unique
    if not values:
        return []
    connection = connections[router.db_for_write(model)]
    qn = connection.ops.quote_name
    opts = model._meta
    table = qn(opts.db_table)
    conflict = f" ON CONFLICT ({', '.join(qn(c) for c in unique)}) DO NOTHING" if unique else ""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(values) >= COPY_THRESHOLD:
            if not unique and not returning:
                cols = ", ".join(qn(c) for c in columns)
                with cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                    for row in values:
                        copy.write_row(row)
                return []
            if not unique:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [opts.db_table, opts.pk.column, len(values)],
                )
                ids = [r[0] for r in cursor.fetchall()]
                cols = ", ".join(qn(c) for c in [opts.pk.column, *columns])
                with cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                    for pk, row in zip(ids, values, strict=True):
                        copy.write_row((pk, *row))
                return ids
            cols = ", ".join(qn(c) for c in columns)
            load = qn(f"{opts.db_table}_load")
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {load} ON COMMIT DROP AS "  # noqa: S608
                f"SELECT {cols} FROM {table} WITH NO DATA"
            )
            cursor.execute(f"TRUNCATE {load}")
            with cursor.copy(f"COPY {load} ({cols}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
            cursor.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {load}{conflict}")  # noqa: S608
            return []
        cols = ", ".join(qn(c) for c in columns)
        one = "(" + ", ".join(["%s"] * len(columns)) + ")"
        returning_sql = f" RETURNING {qn(opts.pk.column)}" if returning else ""
        # SQLite allows 32,766 bound parameters per statement.
        batch_size = max(1, min(OUTBOX_INSERT_BATCH, 30000 // len(columns)))
        ids: list[int] = []
        for i in range(0, len(values), batch_size):
            batch = values[i : i + batch_size]
            cursor.execute(
                f"INSERT INTO {table} ({cols}) VALUES {', '.join([one] * len(batch))}{conflict}{returning_sql}",  # noqa: S608
                [v for row in batch for v in row],
            )
            if returning:
                ids.extend(r[0] for r in cursor.fetchall())
        return ids


def insert_instances(objs: list, *, now: datetime, unique: tuple[str, ...] = (), returning: bool = True) -> None:
    """``bulk_create`` for the dispatch path without the ORM's per-value compilation: every concrete field's
    value is prepared once per distinct value (``auto_now``/``auto_now_add`` fields get ``now``); without
    ``unique`` the instances get their primary keys. Signals and events are written this way."""
    if not objs:
        return
    model = type(objs[0])
    connection = connections[router.db_for_write(model)]
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            for o in objs:
                setattr(o, f.attname, now)
    columns = [f.column for f in fields]
    prepared: list[list] = []
    for f in fields:
        cache: dict = {}
        col = []
        for o in objs:
            v = getattr(o, f.attname)
            try:
                col.append(cache[v])
            except (KeyError, TypeError):
                p = f.get_db_prep_save(v, connection)
                try:
                    cache[v] = p
                except TypeError:  # unhashable (a JSON payload)
                    pass
                col.append(p)
        prepared.append(col)
    values = list(zip(*prepared, strict=True))
    ids = insert_values(model, columns, values, unique=unique, returning=returning)
    if ids:
        for o, pk in zip(objs, ids, strict=True):
            o.pk = pk
            o._state.adding = False
            o._state.db = connection.alias


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


def events_dispatch_locked(*, events: list[DREvent], now: datetime, fresh: bool = False) -> None:
    """Write the dispatch of ``events`` (each with ``zone``, ``program`` and ``premise`` loaded): one OpenADR
    signal per event, one MQTT command per device within its capabilities, comfort limits and the enrollment's
    safety limit, one signed webhook per aggregator endpoint, the OpenADR subscription notifications; scheduled
    -> notified. The caller holds the transaction, has locked or just created the events and has checked their
    status and the emergency stop. Idempotent: nothing is written twice for an event. ``fresh``: the events
    were created in this transaction (nothing of theirs can exist yet), so rows are written without the
    conflict check."""
    from .devices import translate
    from .selectors import premise_devices
    from .services import _enqueue_flush

    if not events:
        return
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("events_dispatch_locked writes in the caller's transaction")
    insert_instances(
        [
            DispatchSignal(
                event_id=e.pk,
                premise_id=e.premise_id,
                payload=openadr_event_payload(e),
                channel=DispatchSignal.Channel.OPENADR,
            )
            for e in events
        ],
        now=now,
        unique=() if fresh else ("event_id", "premise_id"),
        returning=False,
    )
    safety = _safety_limits(events)
    ack_by = now + timedelta(seconds=settings.DEVICE_ACK_SECONDS)
    root = mqtt_protocol.topic_root()
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
                    topic=mqtt_protocol.command_topic(cmd.device_id, root=root),
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
    outbox_insert(rows, now=now, fresh=fresh)
    _subscription_notifications(events=events, now=now)
    scheduled = [e.pk for e in events if e.status == DREvent.Status.SCHEDULED]
    for chunk in _chunks(scheduled):
        DREvent.objects.filter(pk__in=chunk, status=DREvent.Status.SCHEDULED).update(
            status=DREvent.Status.NOTIFIED, notified_at=now
        )
    for e in events:
        if e.status == DREvent.Status.SCHEDULED:
            e.status, e.notified_at = DREvent.Status.NOTIFIED, now
    transaction.on_commit(_enqueue_flush)


def _subscription_notifications(*, events: list[DREvent], now: datetime) -> None:
    """OpenADR 3 notifications of the events' creation (``services._subscription_notifications``, i.e.
    ``openadr_services.notify_event``), only for events whose program has subscriptions: one query for the
    whole batch instead of one per event when nobody subscribed."""
    from .models import OadrSubscription
    from .services import _subscription_notifications as notify

    programs = {e.program_id for e in events if e.program_id}
    subscribed = set(
        OadrSubscription.objects.filter(program_id__in=programs).values_list("program_id", flat=True).distinct()
    )
    for event in events:
        if event.program_id in subscribed:
            notify(event=event, now=now)


def premises_over_caps(*, program, premises: list, start: datetime) -> dict[int, tuple[str, int]]:
    """Premise id -> (``cap_per_day`` / ``cap_per_month``, events counted) for the premises that already have the
    program's maximum number of (non-cancelled, any program) events on the local day / in the local month of
    ``start``: the one place of the caps rule (``services._check_caps`` asks it for one premise); two grouped
    queries per time zone."""
    from zoneinfo import ZoneInfo

    by_tz: dict[str, list[int]] = defaultdict(list)
    for p in premises:
        by_tz[p.timezone].append(p.pk)
    over: dict[int, tuple[str, int]] = {}
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
                    over[pk] = ("cap_per_day", day[pk])
                elif month.get(pk, 0) >= program.max_events_per_month:
                    over[pk] = ("cap_per_month", month[pk])
    return over
