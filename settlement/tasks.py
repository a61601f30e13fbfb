"""Celery adapters for settlement and anchoring."""

from celery import shared_task
from django.db import IntegrityError, OperationalError

# A settlement transaction that loses a race (a unique key taken by a concurrent worker) or is chosen as a
# deadlock victim rolls back whole; retrying it pays only what is still missing.
RETRY_ON_CONFLICT = {
    "autoretry_for": (IntegrityError, OperationalError),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 5,
}


@shared_task(acks_late=True, **RETRY_ON_CONFLICT)
def settle_event(event_id: int) -> int:
    from .services.payments import settlement_create_for_event

    return settlement_create_for_event(event_id=event_id).pk


@shared_task(acks_late=True, **RETRY_ON_CONFLICT)
def settle_verified_event(event_id: int) -> int | None:
    """Settle an event as soon as its verification is final (ADR 0027); the daily run is the sweep."""
    from .services.event_settlement import event_settle

    run = event_settle(event_id=event_id)
    return run.pk if run is not None else None


@shared_task(acks_late=True)
def anchor_closed_periods() -> list[int]:
    from .services.anchoring import periods_anchor_closed

    return [a.pk for a in periods_anchor_closed()]


@shared_task(acks_late=True)
def audit_anchors() -> int:
    """Recompute every anchored root from the database and compare with the chain; returns open alerts."""
    from .services.audit import anchors_audit

    return len(anchors_audit().alerts)


@shared_task(acks_late=True, **RETRY_ON_CONFLICT)
def settle_day(day_iso: str | None = None) -> int:
    """The daily settlement run: yesterday (UTC) unless a day is given. A repeat pays nothing twice."""
    from datetime import UTC, date, datetime, timedelta

    from django.utils import timezone

    from .models import SettlementRun
    from .services.runs import settlement_run_execute

    day = date.fromisoformat(day_iso) if day_iso else (timezone.now() - timedelta(days=1)).date()
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return settlement_run_execute(
        window_start=start, window_end=start + timedelta(days=1), trigger=SettlementRun.Trigger.DAILY
    ).pk


@shared_task(acks_late=True)
def tally_proposals() -> list[int]:
    from .services.governance import proposals_tally_due

    return proposals_tally_due()


@shared_task(acks_late=True, **RETRY_ON_CONFLICT)
def settle_penalty(penalty_id: int) -> int:
    """Charge a penalty the activation app recorded (shortfall or opt-out) to its payer, once."""
    from activation.models import Penalty

    from .services.penalties import penalty_settle_recorded

    return penalty_settle_recorded(penalty=Penalty.objects.select_related("payer").get(pk=penalty_id)).pk


@shared_task(acks_late=True, **RETRY_ON_CONFLICT)
def settle_verified_events(event_ids: list[int], penalty_ids: list[int]) -> list[int]:
    """A chunk of verifications committed (``activation.signals.verifications_final``): charge its penalties, then
    settle each of its events' windows once (issue #21, ADR 0044); a repeat pays nothing twice."""
    from .services.event_settlement import events_settle
    from .services.penalties import penalties_settle_recorded

    penalties_settle_recorded(penalty_ids=penalty_ids)
    return events_settle(event_ids=event_ids)


@shared_task(acks_late=True, **RETRY_ON_CONFLICT)
def settle_bill_protection() -> dict:
    """Settle every covered premise-month that is due (daily). A month settled before is skipped: once per
    premise-month (unique key and business key), so a repeat pays nothing twice."""
    from .services.protection import bill_protection_settle_due

    return bill_protection_settle_due()


@shared_task(acks_late=True, **RETRY_ON_CONFLICT)
def close_claims_epoch() -> int | None:
    """Daily: move the linked participants' tokens to claimable and anchor the claims root (ADR 0023)."""
    from .services.claims import claims_epoch_close

    epoch = claims_epoch_close(wait=False)
    return epoch.pk if epoch is not None else None


@shared_task(acks_late=True, **RETRY_ON_CONFLICT)
def sync_token_claims() -> int:
    """Every minute: count the Claimed events with enough confirmations, reverse re-organised ones."""
    from .services.claims import claims_sync

    return len(claims_sync())
