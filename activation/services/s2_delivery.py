"""The S2 side of the outbox (ADR 0039): each pending battery command is one S2 session with the household's
energy manager (``activation.protocols.s2``), all of a flush's sessions at once. A conforming PEBC instruction
acknowledges the command; a CEM that refuses the constraints or instructs outside them has rejected it (failed,
the shortfall is the owner's, as a station's rejected charging profile); an unreachable CEM is tried again with
the outbox's backoff until the command's acknowledgement deadline, then it is ``no_ack``. A URL that resolves to a non-public address is never connected
to (``flexplatform.core.egress``): failed on the platform's side."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from ..models import OutboxMessage
from ..protocols import s2 as s2_protocol

#: the prefix of a rejection by the household's energy manager (``activation.selectors.event_accountable_kw``)
REJECTED = "CEM rejected"


def s2_flush(*, now: datetime, limit: int, backoff) -> tuple[int, int]:
    """Send the due S2 commands (the caller holds the transaction); returns (acknowledged, not acknowledged)."""
    rows = list(
        OutboxMessage.objects.filter(
            channel=OutboxMessage.Channel.S2, status=OutboxMessage.Status.PENDING, next_attempt_at__lte=now
        )
        .select_for_update(skip_locked=True)
        .order_by("id")[:limit]
    )
    if not rows:
        return 0, 0
    commands = []
    for row in rows:
        start, end = s2_protocol.window(row.payload)
        commands.append(
            {
                "url": row.topic,
                "device_ref": row.destination,
                "discharge_kw": row.payload["value"],
                "rated_kw": row.payload.get("rated_kw", row.payload["value"]),
                "start": start,
                "end": end,
            }
        )
    outcomes = s2_protocol.send_battery_commands(commands, timeout=settings.S2_SESSION_SECONDS)
    done = timezone.now()
    ok = 0
    for row, outcome in zip(rows, outcomes, strict=True):
        row.attempts += 1
        if outcome.status == "acknowledged":
            row.status, row.sent_at, row.acked_at, row.last_error = (
                OutboxMessage.Status.ACKNOWLEDGED, done, outcome.at or done, ""
            )  # fmt: skip
            ok += 1
        elif outcome.status in ("rejected", "refused"):  # refused: the address is not public (never connected)
            row.status, row.sent_at, row.last_error = OutboxMessage.Status.FAILED, done, outcome.error[:500]
        else:
            row.last_error = outcome.error[:500]
            if row.ack_deadline is not None and max(now, done) >= row.ack_deadline:
                row.status = OutboxMessage.Status.NO_ACK
            else:
                row.next_attempt_at = now + backoff(row.attempts)
        row.save(update_fields=["attempts", "status", "sent_at", "acked_at", "last_error", "next_attempt_at"])
    return ok, len(rows) - ok
