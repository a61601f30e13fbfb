"""The OCPP 2.0.1 side of the outbox (ADR 0029): which commands wait for a connected charging station, and
what the station answered. The charging-station management endpoint (``activation.protocols.ocpp_csms``,
``manage.py ocpp_server``) holds the websockets; these services are its only writes.

OCPP 2.0.1 (OCA, Part 2 "Specification", use case K01 SetChargingProfile; K10 ClearChargingProfile): the
station's ``SetChargingProfileResponse`` status ``Accepted`` is the command's acknowledgement; ``Rejected`` is a
refusal recorded on the row (the command failed; the shortfall is not the consumer's, ``verification``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import connections, router, transaction
from django.utils import timezone

from ..bulk import in_values
from ..models import OutboxMessage


def ocpp_commands_due(*, station_ids: list[str], now: datetime | None = None, limit: int = 5000) -> list[dict]:
    """Pending OCPP commands for the connected stations (``topic`` is the station id), marked sent; each as
    ``{"message_id", "station", "payload"}``. Claimed under a row lock (SKIP LOCKED), so two servers never send
    the same command. The CSMS calls this every fraction of a second with every connected station, so a poll that
    finds nothing costs one indexed query (no transaction, no list of thousands of station ids); the claim reads
    plain tuples, the stations as one array parameter on PostgreSQL (``bulk.in_values``)."""
    now = now or timezone.now()
    due = OutboxMessage.objects.filter(
        channel=OutboxMessage.Channel.OCPP, status=OutboxMessage.Status.PENDING, next_attempt_at__lte=now
    )
    # First, without a transaction or a lock, which of the connected stations have a command waiting: most polls
    # find none, and one indexed query is all they cost.
    connected = set(station_ids)
    station_ids = [t for t in due.order_by().values_list("topic", flat=True).distinct() if t in connected]
    if not station_ids:
        return []
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
    return bool(rows.update(status=OutboxMessage.Status.FAILED, last_error="station rejected the charging profile"))


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
    live = [OutboxMessage.Status.PENDING, OutboxMessage.Status.SENT, OutboxMessage.Status.NO_ACK]
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
            status=OutboxMessage.Status.FAILED, last_error="station rejected the charging profile"
        )
    return n


def _acknowledge(acked_at: dict[datetime, list[int]]) -> int:
    """Rows (by pk, grouped by their answer time) acknowledged at that time, if still live: on PostgreSQL one
    UPDATE joined to the (pk, time) pairs as two array parameters; elsewhere one UPDATE per distinct time."""
    pairs = [(pk, at) for at, pks in acked_at.items() for pk in pks]
    if not pairs:
        return 0
    live = [OutboxMessage.Status.PENDING, OutboxMessage.Status.SENT, OutboxMessage.Status.NO_ACK]
    connection = connections[router.db_for_write(OutboxMessage)]
    if connection.vendor != "postgresql":
        return sum(
            OutboxMessage.objects.filter(pk__in=pks, status__in=live).update(
                status=OutboxMessage.Status.ACKNOWLEDGED, acked_at=at
            )
            for at, pks in acked_at.items()
        )
    qn, opts = connection.ops.quote_name, OutboxMessage._meta
    table, pk = qn(opts.db_table), qn(opts.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS o SET status = %s, acked_at = a.at "  # noqa: S608 - the model's own names
            f"FROM unnest(%s::bigint[], %s::timestamptz[]) AS a(id, at) WHERE o.{pk} = a.id AND o.status = ANY(%s)",
            [
                OutboxMessage.Status.ACKNOWLEDGED.value,
                [p for p, _ in pairs],
                [a for _, a in pairs],
                [s.value for s in live],
            ],
        )
        return cursor.rowcount
