"""Delivery of the outbox after commit: MQTT commands (marked sent on the broker's PUBACK), signed webhooks to
aggregators, OpenADR 3 notifications; retries with exponential backoff; everything held while the emergency
stop is engaged."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, DateTimeField, F, Q, TextField, Value, When
from django.db.models.functions import Cast
from django.utils import timezone

from ..bulk import in_values
from ..models import DispatchSignal, OutboxMessage, WebhookEndpoint
from ..protocols import mqtt as mqtt_protocol
from ..protocols import webhooks
from .emergency_stop import emergency_stop_active
from .s2_delivery import s2_flush


def _backoff(attempts: int) -> timedelta:
    return timedelta(
        seconds=min(settings.OUTBOX_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0), settings.OUTBOX_BACKOFF_MAX_SECONDS)
    )


def outbox_flush(*, now: datetime | None = None, limit: int = 20000, publisher=None) -> dict:
    """Send what is due. Held entirely while the emergency stop is engaged. A row is marked sent only after the
    broker's PUBACK (or the endpoint's 2xx); on failure it stays pending with exponential backoff. MQTT rows are
    never given up (never lost); webhooks after WEBHOOK_MAX_ATTEMPTS."""
    now = now or timezone.now()
    result = {"sent": 0, "failed": 0, "held": 0}
    if emergency_stop_active() is not None:
        result["held"] = OutboxMessage.objects.filter(status=OutboxMessage.Status.PENDING).count()
        return result
    own = publisher is None
    with transaction.atomic():
        # Due: pending rows, and MQTT commands sent but not acknowledged yet, again every OUTBOX_RESEND_SECONDS until
        # their deadline (a broker restarted empty acknowledges commands nobody receives; devices drop repeats).
        unacked = Q(status=OutboxMessage.Status.SENT, channel=OutboxMessage.Channel.MQTT, ack_deadline__gt=now)
        qs = OutboxMessage.objects.filter(
            Q(status=OutboxMessage.Status.PENDING) | unacked, next_attempt_at__lte=now
        ).order_by("id")
        # MQTT rows as plain tuples with the payload as stored JSON text: published as is, no model instances
        # and no decode/re-encode for 10,000 commands.
        mqtt_rows = list(
            qs.filter(channel=OutboxMessage.Channel.MQTT)
            .select_for_update(skip_locked=True)
            .annotate(body=Cast("payload", output_field=TextField()))
            .values_list("id", "topic", "body", "attempts", "event_id")[:limit]
        )
        hook_rows = list(
            qs.filter(channel=OutboxMessage.Channel.WEBHOOK).select_for_update(skip_locked=True)[
                : max(limit - len(mqtt_rows), 0)
            ]
        )
        sent_events: set[int] = set()
        if mqtt_rows:
            ok: list[bool]
            error = ""
            try:
                publisher = publisher or mqtt_protocol.MqttPublisher()
                ok = publisher.publish_many([(topic, body) for _, topic, body, _, _ in mqtt_rows])
            except mqtt_protocol.BrokerUnavailable as exc:
                ok, error = [False] * len(mqtt_rows), str(exc)[:500]
            finally:
                if own and publisher is not None:
                    publisher.close()
            sent_at = timezone.now()
            mqtt_results_mark(mqtt_rows, ok, sent_at=sent_at, now=now, error=error)
            # Rows without an event (OpenADR 3.1.0 notifier messages) have no dispatch signal to mark.
            sent_events = {row[4] for row, good in zip(mqtt_rows, ok, strict=True) if good and row[4] is not None}
            result["sent"] += sum(ok)
            result["failed"] += len(ok) - sum(ok)
        for row in hook_rows:
            row.attempts += 1
            if row.destination.startswith("subscription-"):
                body = {k: v for k, v in row.payload.items() if k not in ("bearerToken", "message_id")}
                res = webhooks.deliver_notification(url=row.topic, bearer=row.payload.get("bearerToken"), payload=body)
                endpoint = True
            else:
                endpoint = WebhookEndpoint.objects.filter(pk=int(row.destination.split("-")[1])).first()
                if endpoint is not None and endpoint.active:
                    res = webhooks.deliver(
                        url=endpoint.url, secret=endpoint.secret, message_id=str(row.message_id), payload=row.payload
                    )
            if endpoint is None or endpoint is not True and not endpoint.active:
                row.status, row.last_error = OutboxMessage.Status.CANCELLED, "endpoint removed"
            else:
                if res.ok:
                    row.status, row.sent_at, row.acked_at = (
                        OutboxMessage.Status.ACKNOWLEDGED,
                        timezone.now(),
                        timezone.now(),
                    )
                    result["sent"] += 1
                else:
                    row.last_error = (res.error or f"HTTP {res.status}")[:500]
                    result["failed"] += 1
                    if row.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
                        row.status = OutboxMessage.Status.FAILED
                    else:
                        row.next_attempt_at = now + _backoff(row.attempts)
            row.save(update_fields=["attempts", "status", "sent_at", "acked_at", "last_error", "next_attempt_at"])
        s2_ok, s2_not = s2_flush(now=now, limit=limit, backoff=_backoff)  # battery commands over S2 (ADR 0039)
        result["sent"], result["failed"] = result["sent"] + s2_ok, result["failed"] + s2_not
        event_ids = sorted(sent_events)
        for i in range(0, len(event_ids), 5000):
            DispatchSignal.objects.filter(
                event_id__in=in_values(event_ids[i : i + 5000]), status=DispatchSignal.Status.PENDING
            ).update(status=DispatchSignal.Status.SENT, sent_at=timezone.now())
    return result


def mqtt_results_mark(rows, ok, *, sent_at: datetime, now: datetime, error: str) -> None:
    """Record publish outcomes of (id, topic, body, attempts, event_id) rows with a few set-based UPDATEs:
    sent rows in chunks (only while still pending: an ack that overtook us stays), failed ones grouped by
    attempt count with their backoff."""
    ack_by = sent_at + timedelta(seconds=settings.DEVICE_ACK_SECONDS)
    resend_at = now + timedelta(seconds=settings.OUTBOX_RESEND_SECONDS)
    good = [r[0] for r, g in zip(rows, ok, strict=True) if g]
    # A row never attempted (attempts 0) cannot be a re-send: sent rows have counted their first attempt.
    again = [r[0] for r, g in zip(rows, ok, strict=True) if g and r[3]]
    for i in range(0, len(again), 5000):
        # Re-sent commands (still unacknowledged) keep their deadline; first sends are marked sent below.
        OutboxMessage.objects.filter(pk__in=in_values(again[i : i + 5000]), status=OutboxMessage.Status.SENT).update(
            attempts=F("attempts") + 1, next_attempt_at=resend_at, last_error=""
        )
    for i in range(0, len(good), 5000):
        OutboxMessage.objects.filter(pk__in=in_values(good[i : i + 5000]), status=OutboxMessage.Status.PENDING).update(
            status=OutboxMessage.Status.SENT,
            sent_at=sent_at,
            attempts=F("attempts") + 1,
            next_attempt_at=resend_at,
            last_error="",
            # Commands wait for the device's ack from now on; notifications have no deadline.
            ack_deadline=Case(
                When(ack_deadline__isnull=False, then=Value(ack_by, output_field=DateTimeField())),
                default=None,
                output_field=DateTimeField(),
            ),
        )
    by_attempts: dict[int, list[int]] = {}
    for r, g in zip(rows, ok, strict=True):
        if not g:
            by_attempts.setdefault(r[3] + 1, []).append(r[0])
    for attempts, pks in by_attempts.items():
        for i in range(0, len(pks), 2000):
            OutboxMessage.objects.filter(pk__in=pks[i : i + 2000]).update(
                attempts=attempts,
                next_attempt_at=now + _backoff(attempts),
                last_error=error or "not acknowledged by the broker",
            )
