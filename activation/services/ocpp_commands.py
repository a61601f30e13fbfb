"""The OCPP 2.0.1 side of the outbox (ADR 0029): which commands wait for a connected charging station, and
what the station answered. The charging-station management endpoint (``activation.protocols.ocpp_csms``,
``manage.py ocpp_server``) holds the websockets; these services are its only writes.

OCPP 2.0.1 (OCA, Part 2 "Specification", use case K01 SetChargingProfile; K10 ClearChargingProfile): the
station's ``SetChargingProfileResponse`` status ``Accepted`` is the command's acknowledgement; ``Rejected`` is a
refusal recorded on the row (the command failed; the shortfall is not the consumer's, ``verification``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Set as AbstractSet
from datetime import datetime

from django.db import connections, router, transaction
from django.utils import timezone

from ..bulk import in_values
from ..models import OutboxMessage

REFUSED = "station rejected the charging profile"  # a refused command's ``last_error``


def ocpp_commands_due(
    *, station_ids: list[str] | AbstractSet[str], now: datetime | None = None, limit: int = 5000
) -> list[dict]:
    """Pending OCPP commands for the connected stations (``topic`` is the station id), marked sent; each as
    ``{"message_id", "station", "payload"}``. Claimed under a row lock (SKIP LOCKED), so two servers never send
    the same command. The CSMS calls this every fraction of a second with every connected station, so a poll that
    finds nothing costs one indexed query (no transaction, no list of thousands of station ids); the claim reads
    plain tuples, the stations as one array parameter on PostgreSQL (``bulk.in_values``). ``station_ids`` may be
    a set-like view (the CSMS's live sessions' keys): it is only asked for membership, not copied."""
    now = now or timezone.now()
    connection = connections[router.db_for_write(OutboxMessage)]
    postgresql = connection.vendor == "postgresql"
    # First, without a transaction or a lock, which of the connected stations have a command waiting: most polls
    # find none, and one indexed query is all they cost (on PostgreSQL its SQL written once: the ORM's building
    # of it was 0.23 ms of the poll's 0.33, twenty times a second).
    connected = station_ids if isinstance(station_ids, AbstractSet) else set(station_ids)
    if postgresql:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT DISTINCT topic FROM {connection.ops.quote_name(OutboxMessage._meta.db_table)} "  # noqa: S608
                "WHERE channel = %s AND status = %s AND next_attempt_at <= %s",
                [OutboxMessage.Channel.OCPP.value, OutboxMessage.Status.PENDING.value, now],
            )
            waiting = [r[0] for r in cursor.fetchall()]
    else:
        waiting = OutboxMessage.objects.filter(
            channel=OutboxMessage.Channel.OCPP, status=OutboxMessage.Status.PENDING, next_attempt_at__lte=now
        ).order_by().values_list("topic", flat=True).distinct()  # fmt: skip
    station_ids = [t for t in waiting if t in connected]
    if not station_ids:
        return []
    if postgresql:
        return _claim_postgresql(connection, station_ids, now, limit)
    with transaction.atomic():
        rows = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(
                channel=OutboxMessage.Channel.OCPP,
                status=OutboxMessage.Status.PENDING,
                next_attempt_at__lte=now,
                topic__in=in_values(station_ids, db_type="text"),
            )
            .order_by("pk")
            .values_list("pk", "message_id", "topic", "payload")[:limit]
        )
        if not rows:
            return []
        OutboxMessage.objects.filter(pk__in=in_values([r[0] for r in rows])).update(
            status=OutboxMessage.Status.SENT, sent_at=now, attempts=1
        )
    return [{"message_id": str(mid), "station": topic, "payload": payload} for _, mid, topic, payload in rows]


def _claim_postgresql(connection, station_ids: list[str], now: datetime, limit: int) -> list[dict]:
    """The claim as one statement: the pending rows of these stations locked (``FOR UPDATE SKIP LOCKED``: rows
    another server holds are left to it) and marked sent by the same UPDATE, which returns them. One statement is
    one transaction (or part of the caller's): the rows stay locked until they are marked sent and committed, as
    in the SELECT ... FOR UPDATE and UPDATE it replaces, with two round trips fewer (no BEGIN/COMMIT of its own
    under autocommit)."""
    qn, opts = connection.ops.quote_name, OutboxMessage._meta
    table, pk = qn(opts.db_table), qn(opts.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, sent_at = %s, attempts = 1 WHERE {pk} IN ("  # noqa: S608 - own names
            f"SELECT {pk} FROM {table} WHERE channel = %s AND status = %s AND next_attempt_at <= %s "
            f"AND topic = ANY(%s) ORDER BY {pk} LIMIT %s FOR UPDATE SKIP LOCKED) "
            f"RETURNING {pk}, message_id::text, topic, payload",
            [
                OutboxMessage.Status.SENT.value, now, OutboxMessage.Channel.OCPP.value,
                OutboxMessage.Status.PENDING.value, now, list(station_ids), limit,
            ],
        )  # fmt: skip
        rows = sorted(cursor.fetchall())
    loads = json.loads
    return [
        {"message_id": mid, "station": topic, "payload": loads(payload) if isinstance(payload, str) else payload}
        for _, mid, topic, payload in rows
    ]


def ocpp_command_result(*, message_id: str, station: str, accepted: bool, now: datetime | None = None) -> bool:
    """The station's answer to a command: Accepted -> acknowledged; otherwise failed with the status recorded.
    Counts only for the station the command went to, and only once."""
    now = now or timezone.now()
    try:
        mid = uuid.UUID(str(message_id))
    except ValueError:
        return False
    rows = OutboxMessage.objects.filter(
        message_id=mid,
        channel=OutboxMessage.Channel.OCPP,
        topic=station,
        status__in=[OutboxMessage.Status.PENDING, OutboxMessage.Status.SENT, OutboxMessage.Status.NO_ACK],
    )
    if accepted:
        return bool(rows.update(status=OutboxMessage.Status.ACKNOWLEDGED, acked_at=now))
    return bool(rows.update(status=OutboxMessage.Status.FAILED, last_error=REFUSED))


def ocpp_command_results(
    *, results: list[tuple[str, str, bool] | tuple[str, str, bool, datetime]], now: datetime | None = None
) -> int:
    """Many stations' answers at once, ``(message_id, station, accepted[, answered_at])``: the rule of
    :func:`ocpp_command_result` in a few UPDATEs (the CSMS records a burst of acceptances in one go). An accepted
    command's ``acked_at`` is the moment its answer arrived (``answered_at``, as the CSMS saw it), not the later
    moment the batch is written; ``now`` for answers without one."""
    now = now or timezone.now()
    wanted: dict[uuid.UUID, tuple[str, bool, datetime]] = {}
    for message_id, station, accepted, *at in results:
        try:
            wanted[uuid.UUID(str(message_id))] = (station, accepted, at[0] if at else now)
        except ValueError:
            continue
    if not wanted:
        return 0
    live = [OutboxMessage.Status.PENDING, OutboxMessage.Status.SENT, OutboxMessage.Status.NO_ACK]
    connection = connections[router.db_for_write(OutboxMessage)]
    if connection.vendor == "postgresql":
        return _record_postgresql(connection, wanted, live)
    ok: dict[datetime, list[int]] = {}
    refused: list[int] = []
    for pk, message_id, topic in OutboxMessage.objects.filter(
        message_id__in=in_values(list(wanted), db_type="uuid"), channel=OutboxMessage.Channel.OCPP, status__in=live
    ).values_list("pk", "message_id", "topic"):
        station, accepted, at = wanted[message_id]
        if topic == station:
            if accepted:
                ok.setdefault(at, []).append(pk)
            else:
                refused.append(pk)
    with transaction.atomic():
        n = _acknowledge(ok)
        n += OutboxMessage.objects.filter(pk__in=in_values(refused), status__in=live).update(
            status=OutboxMessage.Status.FAILED, last_error=REFUSED
        )
    return n


def _record_postgresql(connection, wanted: dict[uuid.UUID, tuple[str, bool, datetime]], live: list[str]) -> int:
    """The answers in one UPDATE joined to the (message id, station, accepted, answer time) arrays: a row changes
    only when it is an OCPP command, still live, and the answering station is the one it went to; accepted ->
    acknowledged at its answer's time, otherwise failed with the refusal recorded. One statement is atomic (the
    SELECT and the two UPDATEs it replaces ran in one transaction), and the row's own status in the WHERE clause
    keeps a second answer from counting."""
    qn, opts = connection.ops.quote_name, OutboxMessage._meta
    table = qn(opts.db_table)
    answers = list(wanted.items())
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS o SET status = CASE WHEN a.ok THEN %s ELSE %s END, "  # noqa: S608 - own names
            "acked_at = CASE WHEN a.ok THEN a.at ELSE o.acked_at END, "
            "last_error = CASE WHEN a.ok THEN o.last_error ELSE %s END "
            "FROM unnest(%s::uuid[], %s::text[], %s::boolean[], %s::timestamptz[]) AS a(mid, station, ok, at) "
            "WHERE o.message_id = a.mid AND o.channel = %s AND o.topic = a.station AND o.status = ANY(%s)",
            [
                OutboxMessage.Status.ACKNOWLEDGED.value, OutboxMessage.Status.FAILED.value, REFUSED,
                [m for m, _ in answers], [a[0] for _, a in answers], [bool(a[1]) for _, a in answers],
                [a[2] for _, a in answers], OutboxMessage.Channel.OCPP.value, [str(s) for s in live],
            ],
        )  # fmt: skip
        return cursor.rowcount


def _acknowledge(acked_at: dict[datetime, list[int]]) -> int:
    """Rows (by pk, grouped by their answer time) acknowledged at that time, if still live: one UPDATE per
    distinct time (the databases other than PostgreSQL; there :func:`_record_postgresql`)."""
    live = [OutboxMessage.Status.PENDING, OutboxMessage.Status.SENT, OutboxMessage.Status.NO_ACK]
    return sum(
        OutboxMessage.objects.filter(pk__in=pks, status__in=live).update(
            status=OutboxMessage.Status.ACKNOWLEDGED, acked_at=at
        )
        for at, pks in acked_at.items()
    )
