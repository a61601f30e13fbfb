""" "Your statement is ready" (ADR 0030): a month's statement (:func:`.statements.statement_build`, UTC months) is
ready once a settlement run has settled the month's last day; the annual tax statement once December's is.

Called by :func:`.runs.settlement_run_execute` inside the run's transaction, so the notice commits with the run
that made the statement complete; keyed by organisation and month (or year), so a run repeated, or a later run
over the same boundary, notifies nothing twice. Two queries per month boundary in the window, whatever the
number of payees."""

from __future__ import annotations

from datetime import UTC, datetime

from accounts.models import NotificationKind
from accounts.notifications import notifications_create

from ..models import SettlementItem


def month_boundaries(window_start: datetime, window_end: datetime) -> list[datetime]:
    """First instants (UTC) of the months that begin in ``(window_start, window_end]``: each closes the month
    before it."""
    start, end = window_start.astimezone(UTC), window_end.astimezone(UTC)
    out = []
    b = datetime(start.year + (start.month == 12), start.month % 12 + 1, 1, tzinfo=UTC)
    while b <= end:
        out.append(b)
        b = datetime(b.year + (b.month == 12), b.month % 12 + 1, 1, tzinfo=UTC)
    return out


def statements_ready_notify(*, window_start: datetime, window_end: datetime, now: datetime) -> int:
    """Notify every payee of a month that the run's window closes that its statement is ready (and, for
    December, its annual tax statement). Returns the number of notifications written."""
    written = 0
    for boundary in month_boundaries(window_start, window_end):
        year, month = (boundary.year - 1, 12) if boundary.month == 1 else (boundary.year, boundary.month - 1)
        first = datetime(year, month, 1, tzinfo=UTC)
        payees = sorted(
            set(
                SettlementItem.objects.filter(delivery_start__gte=first, delivery_start__lt=boundary).values_list(
                    "payee_id", flat=True
                )
            )
        )
        facts = [
            {
                "organisation_ids": [payee],
                "kind": NotificationKind.STATEMENT_READY,
                "key": f"statement_ready:{payee}:{year}-{month:02d}",
                "title": f"Your statement for {first:%B %Y} is ready",
                "body": f"The {first:%B %Y} statement (PDF and CSV) lists every payment, penalty and token of the month.",
                "url": "/consumer/money/",
            }
            for payee in payees
        ]
        if month == 12:
            yearly = sorted(
                set(
                    SettlementItem.objects.filter(
                        delivery_start__gte=datetime(year, 1, 1, tzinfo=UTC), delivery_start__lt=boundary
                    ).values_list("payee_id", flat=True)
                )
            )
            facts += [
                {
                    "organisation_ids": [payee],
                    "kind": NotificationKind.STATEMENT_READY,
                    "key": f"statement_ready:tax:{payee}:{year}",
                    "title": f"Your {year} tax statement is ready",
                    "body": f"The annual statement of your {year} payments, penalties and fees is ready to download.",
                    "url": "/tax/",
                }
                for payee in yearly
            ]
        if facts:
            written += notifications_create(facts=facts, now=now)
    return written
