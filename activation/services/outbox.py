"""The transactional outbox (ADR 0010), activation's one way to send anything to a device or an endpoint.

Every writer (dispatch, cancellations and restores, OpenADR 3 revisions and subscription notifications, aggregator
webhooks) puts its messages here in its own transaction: :func:`outbox_put` (one message) or :func:`outbox_insert`
(many, set-based), then :func:`outbox_flush_on_commit`; ``outbox_delivery.outbox_flush`` sends them after commit (MQTT to
devices, signed webhooks, OpenADR 3 notifications), with backoff, and holds them under the emergency stop."""

from __future__ import annotations

import json
import os
import threading
import uuid
from datetime import datetime
from json.encoder import encode_basestring_ascii
from typing import NamedTuple

from django.conf import settings
from django.db import connections, router, transaction

from flexplatform.core import egress
from flexplatform.errors import ApplicationError

from ..bulk import insert_values
from ..models import OutboxMessage, WebhookEndpoint

_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))  # one encoder (json.dumps builds one per call with options)
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
        raw = int.from_bytes(_random_pool[-16:])
        del _random_pool[-16:]
    # The version (4) and variant (RFC 4122) bits set as ``uuid.UUID(..., version=4)`` sets them, on the integer.
    return uuid.UUID(int=raw & _VERSION_CLEAR | _VERSION_4)


_VERSION_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_VERSION_4 = (0x8000 << 48) | (4 << 76)


class OutboxRow(NamedTuple):
    """One outbox message to write: a device command (MQTT) or a notification (webhook). ``payload``: a dict, or
    its compact JSON object text when the writer built it already (a device command, from its event's and its
    command's text); ``message_id``: drawn when the row is written (``new_message_id``) unless given. A named tuple
    (10,000 per emergency call, ADR 0053)."""

    event_id: int
    channel: str
    destination: str
    topic: str
    payload: dict | str
    ack_by: datetime | None
    message_id: uuid.UUID | None = None


def payload_json(payload: dict | str, message_id: str) -> str:
    """The payload written for a message: ``payload`` with its ``message_id`` as compact JSON,
    ``json.dumps({**payload, "message_id": message_id}, separators=(",", ":"))``. A payload given as the compact
    JSON text of an object without a ``message_id`` gets the key appended to its text: the same text, without
    decoding or re-encoding it (test_outbox compares the two)."""
    if type(payload) is str:
        comma = "," if payload != "{}" else ""
        return f'{payload[:-1]}{comma}"message_id":{encode_basestring_ascii(message_id)}}}'
    return _COMPACT_JSON.encode({**payload, "message_id": message_id})


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
    at = ops.adapt_datetimefield_value(now)
    deadlines: dict = {None: None}
    for r in rows:
        if r.ack_by not in deadlines:
            deadlines[r.ack_by] = ops.adapt_datetimefield_value(r.ack_by)
    # The per-row columns, in this order, built in one loop below (no function call per value: 10,000 commands).
    per_row = ("event_id", "channel", "destination", "message_id", "topic", "payload", "ack_deadline")
    constant = {"status": OutboxMessage.Status.PENDING, "attempts": 0, "next_attempt_at": at, "created_at": at}
    fields = [f for f in opts.concrete_fields if not f.primary_key]
    for f in fields:
        if f.column not in per_row and f.column not in constant:
            constant[f.column] = f.get_db_prep_save(f.get_default(), connection)
    columns = list(per_row) + [f.column for f in fields if f.column not in per_row]
    tail = tuple(constant[c] for c in columns[len(per_row) :])
    uuid_field = opts.get_field("message_id")
    # A native uuid column takes the UUID as it is (what ``UUIDField.get_db_prep_value`` returns); else its hex.
    native_uuid = connection.features.has_native_uuid_field
    values = []
    for r in rows:
        message_id = r.message_id or new_message_id()
        values.append(
            (
                r.event_id,
                r.channel,
                r.destination,
                message_id if native_uuid else uuid_field.get_db_prep_value(message_id, connection),
                r.topic,
                payload_json(r.payload, str(message_id)),
                deadlines[r.ack_by],
                *tail,
            )
        )
    # ``fresh``: the events were created in this transaction, so no row can exist yet (COPY straight in).
    unique = () if fresh else ("event_id", "channel", "destination")
    insert_values(OutboxMessage, columns, values, unique=unique, returning=False)
    if any(r.channel == OutboxMessage.Channel.OCPP for r in rows):
        ocpp_commands_notify()


#: The PostgreSQL notification channel the OCPP CSMS listens on (``activation.protocols.ocpp_csms``).
OCPP_NOTIFY_CHANNEL = "flex_ocpp_outbox"


def ocpp_commands_notify() -> None:
    """Tell the OCPP CSMS that commands are waiting: ``NOTIFY flex_ocpp_outbox`` in the caller's transaction,
    which PostgreSQL delivers to the listening CSMS when (and only if) the transaction commits (several in one
    transaction are delivered once). The CSMS then claims them at once instead of at its next poll; its poll
    stays, as the fallback. Nothing on other databases (the CSMS polls)."""
    connection = connections[router.db_for_write(OutboxMessage)]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"NOTIFY {OCPP_NOTIFY_CHANNEL}")


def outbox_put(*, event, channel, destination, topic, payload, now, ack_by) -> OutboxMessage:
    """One message in the outbox, once per (event, channel, destination): a second put of the same destination
    returns the first row (with its message id). Sent by ``outbox_delivery.outbox_flush`` after the caller commits."""
    message_id = uuid.uuid4()
    row, created = OutboxMessage.objects.get_or_create(
        event=event,
        channel=channel,
        destination=destination,
        defaults={
            "message_id": message_id,
            "topic": topic,
            "payload": {**payload, "message_id": str(message_id)},
            "next_attempt_at": now,
            "ack_deadline": ack_by,
        },
    )
    if created and channel == OutboxMessage.Channel.OCPP:
        ocpp_commands_notify()
    return row


def outbox_flush_on_commit() -> None:
    """Flush the outbox once the caller's transaction commits (the ``flush_outbox`` task; not enqueued when
    ``OUTBOX_FLUSH_ON_COMMIT`` is off, as in the tests). The one place activation's services enqueue a task.

    Once per transaction: one flush sends every row the transaction wrote, so a transaction that dispatches many
    times (an award chunk's rounds) enqueues one task, not one per call (2,459 flushes for 10 award chunks at
    10,000 premises, issue #21). A registration made inside a savepoint that rolls back is dropped by Django with
    it; the next call then registers again."""
    connection = transaction.get_connection()
    if connection.in_atomic_block and any(entry[1] is _flush_enqueue for entry in connection.run_on_commit):
        return
    transaction.on_commit(_flush_enqueue)


def _flush_enqueue() -> None:
    from .. import tasks  # tasks import the services: imported here only, to enqueue after commit

    if not getattr(settings, "OUTBOX_FLUSH_ON_COMMIT", True):
        return
    tasks.flush_outbox.delay()


def webhook_endpoint_create(*, organisation, url: str, secret: str) -> WebhookEndpoint:
    if len(secret) < 16:
        raise ApplicationError(
            "The secret must be at least 16 characters.", fields={"secret": ["At least 16 characters."]}
        )
    egress.url_check(url, field="url")  # public addresses only (SSRF); checked again at every send
    return WebhookEndpoint.objects.create(organisation=organisation, url=url, secret=secret)
