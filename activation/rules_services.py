"""Operator configuration of automated dispatch: trigger rules on the grid-signal feed."""

from __future__ import annotations

from decimal import Decimal

from flexplatform.errors import ApplicationError

from .models import GridSignal, Program, TriggerRule


def trigger_rule_create(
    *,
    operator,
    zone,
    program: Program,
    kind: str,
    threshold: Decimal,
    target_kw: Decimal,
    duration_minutes: int = 60,
    lead_minutes: int = 0,
) -> TriggerRule:
    """A rule that starts a cascade of ``target_kw`` in ``zone`` when the operator's feed crosses ``threshold``
    (price or forecast load above it, frequency below it)."""
    if kind not in GridSignal.Kind.values:
        raise ApplicationError(
            "Unknown signal kind.", fields={"kind": [f"One of {', '.join(GridSignal.Kind.values)}."]}
        )
    if target_kw <= 0:
        raise ApplicationError("Target must be positive.", fields={"target_kw": ["Must be positive."]})
    if duration_minutes <= 0:
        raise ApplicationError("Duration must be positive.", fields={"duration_minutes": ["Must be positive."]})
    return TriggerRule.objects.create(
        operator=operator,
        zone=zone,
        program=program,
        kind=kind,
        threshold=threshold,
        target_kw=target_kw,
        duration_minutes=duration_minutes,
        lead_minutes=lead_minutes,
    )
