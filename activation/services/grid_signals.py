"""The operators' grid-signal feed and the trigger rules it fires (each starts a cascade)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from flexplatform.errors import ApplicationError

from ..models import DREvent, GridSignal, TriggerFiring, TriggerRule
from .cascades import cascade_start


def grid_signal_post(
    *, operator, zone, kind: str, at: datetime, value: Decimal, user=None, now: datetime | None = None
):
    """Record one value of the operator's grid-signal feed, then fire every active rule it crosses (once)."""
    now = now or timezone.now()
    if kind not in GridSignal.Kind.values:
        raise ApplicationError(
            "Unknown signal kind.", fields={"kind": [f"One of {', '.join(GridSignal.Kind.values)}."]}
        )
    with transaction.atomic():
        signal, _ = GridSignal.objects.get_or_create(
            zone=zone, kind=kind, at=at, defaults={"operator": operator, "value": value}
        )
        fired = []
        for rule in TriggerRule.objects.filter(kind=kind, zone=zone, active=True).select_related("program"):
            if not rule.crossed(signal.value) or TriggerFiring.objects.filter(rule=rule, signal=signal).exists():
                continue
            start = max(signal.at + timedelta(minutes=rule.lead_minutes), now)
            try:
                with transaction.atomic():
                    cascade = cascade_start(
                        program=rule.program,
                        zone=rule.zone,
                        target_kw=rule.target_kw,
                        start=start,
                        end=start + timedelta(minutes=rule.duration_minutes),
                        user=user,
                        source=DREvent.Source.TRIGGER,
                        now=now,
                    )
                detail = f"{kind} {signal.value} crossed {rule.threshold}"
            except ApplicationError as exc:
                cascade, detail = None, f"not dispatched: {exc.detail}"
            fired.append(
                TriggerFiring.objects.create(rule=rule, signal=signal, cascade=cascade, at=now, detail=detail[:300])
            )
    return signal, fired
